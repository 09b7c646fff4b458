"""One event vocabulary on one bus: in-process by default, Redis pub/sub across nodes.

    bus = make_bus(redis_or_None)
    bus.subscribe("session.opened", handler)       # async def handler(event: Event)
    await bus.publish("session.opened", {"session_id": 7})

With Redis, a publish on any node reaches subscribers on every node,
including the publisher's own (delivered once, through Redis). Payloads are
JSON, never pickles.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.pubsub import listen

log = logging.getLogger("aulacast.bus")

TOPICS = (
    "session.planned",
    "session.moved",
    "session.cancelled",
    "session.reminder",
    "session.opened",
    "session.live",
    "session.closed",
    "recording.started",
    "recording.stopped",  # {session_id, recording_id, folder, status, reason, alert}: alert for a disk full, a dead worker
    "recording.ready",
    "recording.composed",
    "asset.composed",
    "asset.archived",
    "asset.packaged",
    "chat.message",
    "room.control",
)


@dataclass(frozen=True)
class Event:
    topic: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    node: str = ""

    def to_json(self) -> str:
        return json.dumps({"topic": self.topic, "payload": self.payload, "id": self.id, "at": self.at, "node": self.node})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        d = json.loads(raw)
        return cls(d["topic"], d["payload"], d["id"], d["at"], d.get("node", ""))


Handler = Callable[[Event], Awaitable[None]]


class LocalBus:
    """Subscribers in this process; topic patterns use shell wildcards (``session.*``)."""

    def __init__(self, node: str = "") -> None:
        self.node = node
        self._subs: list[tuple[str, Handler]] = []

    def subscribe(self, pattern: str, handler: Handler) -> None:
        self._subs.append((pattern, handler))

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, topic: str, payload: dict[str, Any]) -> Event:
        event = Event(topic, payload, node=self.node)
        await self._deliver(event)
        return event

    async def _deliver(self, event: Event) -> None:
        for pattern, handler in list(self._subs):
            if fnmatch.fnmatchcase(event.topic, pattern):
                try:
                    await handler(event)
                except Exception:  # one failing subscriber must not starve the others
                    log.exception("subscriber of %s failed", event.topic)


class RedisBus(LocalBus):
    """Adds only the transport: publish to a Redis channel, listen and deliver locally."""

    def __init__(self, redis: Any, node: str = "", channel: str = "aulacast:events") -> None:
        super().__init__(node)
        self._redis = redis
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="redis-bus")
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, topic: str, payload: dict[str, Any]) -> Event:
        event = Event(topic, payload, node=self.node)
        await self._redis.publish(self._channel, event.to_json())
        return event

    async def _listen(self) -> None:
        async def on_message(channel: str, data: bytes) -> None:
            try:
                event = Event.from_json(data)
            except (ValueError, KeyError):
                log.warning("dropped a malformed event on %s", channel)
                return
            await self._deliver(event)

        await listen(self._redis, [self._channel], on_message, what="event bus", ready=self._ready)


def make_bus(redis: Any | None, node: str = "") -> LocalBus:
    return RedisBus(redis, node) if redis is not None else LocalBus(node)
