"""The composition root's shared parts, built once per process from the settings.

    svc = Services.build(settings)       # db, redis, bus, limiter, locks
    rows = await svc.db_call(lambda s: s.scalars(select(Person)).all())
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from orchestrator.bus import LocalBus, make_bus
from orchestrator.config import Settings
from orchestrator.locks import LocalLocks, RedisLocks, make_locks
from orchestrator.ratelimit import RateLimiter, make_limiter
from orchestrator.store.db import Database

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: LocalBus
    limiter: RateLimiter
    locks: LocalLocks | RedisLocks
    redis: Any | None = None
    node: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, *, db: Database | None = None) -> Services:
        redis = None
        if settings.redis_url is not None:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(
                settings.redis_url.get_secret_value(),
                decode_responses=False,
                socket_connect_timeout=2,
                health_check_interval=5,
                retry_on_timeout=True,
            )
        db = db or Database.from_url(settings.effective_database_url)
        node = f"{socket.gethostname()}:{os.getpid()}"
        return cls(settings, db, make_bus(redis, node), make_limiter(redis), make_locks(redis), redis, node)

    async def db_call(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one transaction on a worker thread, so the event loop never waits on SQL."""

        def run() -> T:
            with self.db.session() as s:
                return fn(s)

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        await self.bus.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.db.engine.dispose()
