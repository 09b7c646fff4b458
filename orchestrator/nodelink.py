"""Calls from one node to another over Redis pub/sub: the media plane's ``NodeLink``.

    link = RedisNodeLink(redis, node="host-a:123")
    task = asyncio.create_task(link.listen(router.serve))     # serve calls forwarded to this node
    reply = await link.call("host-b:456", rpc.request(...))   # raises OwnerGone when nobody listens

Each node listens on ``aulacast:media:<node>`` for requests and ``aulacast:media-reply:<node>``
for replies to its own calls; both carry the media plane's one envelope (``media.live.rpc``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from media.live.placement import OwnerGone
from orchestrator.pubsub import listen

log = logging.getLogger("aulacast.nodelink")

RPC_TIMEOUT = 15.0


class RedisNodeLink:
    def __init__(self, redis: Any, node: str, timeout: float = RPC_TIMEOUT) -> None:
        self._redis = redis
        self.node = node
        self._timeout = timeout
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    @staticmethod
    def _requests(node: str) -> str:
        return f"aulacast:media:{node}"

    @staticmethod
    def _replies(node: str) -> str:
        return f"aulacast:media-reply:{node}"

    async def call(self, node: str, message: dict[str, Any]) -> dict[str, Any]:
        rid = message["id"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            receivers = await self._redis.publish(self._requests(node), json.dumps({**message, "reply_to": self.node}))
            if not receivers:
                raise OwnerGone(node)
            return await asyncio.wait_for(future, self._timeout)
        finally:
            self._pending.pop(rid, None)

    async def listen(self, serve: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
        """Serve requests sent to this node and collect replies to its own calls; runs until cancelled."""

        async def on_message(channel: str, data: bytes) -> None:
            try:
                message = json.loads(data)
            except ValueError:
                log.warning("dropped a malformed message on %s", channel)
                return
            if channel == self._replies(self.node):
                future = self._pending.get(message.get("id"))
                if future is not None and not future.done():
                    future.set_result(message)
                return
            task = asyncio.ensure_future(self._answer(serve, message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

        try:
            await listen(self._redis, [self._requests(self.node), self._replies(self.node)], on_message,
                         what="media forwarding", max_backoff=1.0)  # fmt: skip
        finally:
            for task in list(self._handlers):
                task.cancel()

    async def _answer(self, serve: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
                      message: dict[str, Any]) -> None:  # fmt: skip
        reply = await serve(message)
        await self._redis.publish(self._replies(str(message.get("reply_to"))), json.dumps(reply))
