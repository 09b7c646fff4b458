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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from orchestrator.bus import LocalBus, make_bus
from orchestrator.config import Settings
from orchestrator.locks import LocalLocks, RedisLocks, make_locks
from orchestrator.ratelimit import RateLimiter, make_limiter
from orchestrator.store.db import Database

if TYPE_CHECKING:
    from media.live.placement import MediaRouter
    from media.live.types import MediaServer
    from orchestrator.archive.catalogue import Archive
    from orchestrator.archive.service import Handins
    from orchestrator.jobs.queue import Jobs
    from orchestrator.planning import PlanCache
    from orchestrator.store.models import SessionRecord
    from signaling.server import SignalingServer

T = TypeVar("T")


class SessionJobs(Protocol):
    """What the API asks of the lifecycle scheduler (``orchestrator.lifecycle.Lifecycle``)."""

    def schedule(self, row: SessionRecord) -> int: ...
    def unschedule(self, session_id: int) -> None: ...
    async def catch_up(self) -> int: ...


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: LocalBus
    limiter: RateLimiter
    locks: LocalLocks | RedisLocks
    redis: Any | None = None
    node: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Parts the app wires in once it runs (None until then, or without them):
    media_server: MediaServer | None = None  # injected by tests and benches; else worker processes
    media_router: MediaRouter | None = None
    signaling: SignalingServer | None = None
    lifecycle: SessionJobs | None = None
    plan_cache: PlanCache = field(default_factory=lambda: _plan_cache())  # the last Planner, kept for re-plans
    archive: Archive | None = None  # set by orchestrator.archive.service.attach; archive_of(svc) makes one if not
    handins: Handins | None = None  # background archiving of §31 hand-ins (orchestrator.archive.service)
    jobs: Jobs | None = None  # batch jobs: submit, look up (orchestrator.jobs.service.attach sets it)
    login_guard: Any = None  # orchestrator.loginguard.LoginGuard, made by the first sign-in

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


def _plan_cache() -> PlanCache:
    from orchestrator.planning import PlanCache  # planning imports the store; keep services light to import

    return PlanCache()
