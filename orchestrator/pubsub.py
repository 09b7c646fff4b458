"""One way to listen on Redis pub/sub channels for as long as the service runs.

    await listen(redis, ["aulacast:events"], on_message, what="event bus", ready=ready_event)

Subscribes, hands every message to ``on_message(channel, data)``, and when Redis goes away
(restart, network) logs one WARNING and subscribes again with backoff, so each user of pub/sub
(the event bus, the media node link) adds only what it does with a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger("aulacast.pubsub")

MessageHandler = Callable[[str, bytes], Awaitable[None]]


async def listen(redis: Any, channels: Sequence[str], on_message: MessageHandler, *, what: str,
                 ready: asyncio.Event | None = None, max_backoff: float = 2.0) -> None:  # fmt: skip
    backoff = 0.2
    while True:
        try:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(*channels)
            if ready is not None:
                ready.set()
            if backoff > 0.2:
                log.warning("%s is listening on Redis again", what)
            backoff = 0.2
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                channel = message["channel"]
                await on_message(channel.decode() if isinstance(channel, bytes) else str(channel), message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis restarted or unreachable
            log.warning("%s lost Redis (%s); retrying in %.1f s", what, exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)
