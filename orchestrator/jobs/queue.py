"""Submitting jobs and handing them to whoever runs them: a Redis queue of workers, or this process.

    jobs = Jobs(svc); await jobs.start()
    job = await jobs.submit("compose", {"folder": ..., "session_id": 7}, key="compose:7:r1", session_id=7)
    await jobs.get(job["id"])        # status, progress, stage, result or error

A submission with a key already used returns the job that key made (a ``recording.ready``
delivered twice composes once). With ``jobs.broker`` ``redis`` (or ``auto`` and a
``redis_url``) the job goes to the Dramatiq queue and any ``aulacast jobs worker`` takes it;
``embedded`` runs it on a thread of this process, ``jobs.concurrency`` at a time, ffmpeg
``jobs.nice`` below the live rooms. Every lease period, a job held under a lapsed lease (its worker
died) is handed out again, and on start so is every queued one (a message lost with a
restart); the claim makes a duplicate message harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from orchestrator.errors import UserError
from orchestrator.jobs.models import JOB_KINDS, Job
from orchestrator.jobs.runner import LeaseHeld, Runtime, run_job
from orchestrator.store.types import utcnow

log = logging.getLogger("aulacast.jobs")


def uses_broker(settings: Any) -> bool:
    mode = settings.jobs.broker
    if mode == "redis" and settings.redis_url is None:
        raise UserError("jobs.broker is redis but no redis_url is configured")
    return mode == "redis" or (mode == "auto" and settings.redis_url is not None)


def stale_jobs(db: Any, *, queued: bool) -> list[str]:
    """Jobs nobody is running: those under a lapsed lease (their worker died), and with ``queued`` the queued ones."""
    now = utcnow()
    lapsed = and_(Job.status == "running", Job.lease_until < now)
    with db.session() as s:
        where = or_(Job.status == "queued", lapsed) if queued else lapsed
        return list(s.scalars(select(Job.id).where(where).order_by(Job.created_at)))


class Jobs:
    """The node's job front: submit, look up, dispatch; embedded runs or a Dramatiq actor's sends."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.settings = svc.settings
        self.embedded = not uses_broker(self.settings)
        self._pool: ThreadPoolExecutor | None = None
        self._actor: Any = None
        self._broker: Any = None
        self._runtime: Runtime | None = None
        self._running: set[asyncio.Future[Any]] = set()
        self._here: set[str] = set()  # job ids this process has in hand (embedded)
        self._reaper: asyncio.Task[None] | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from orchestrator.jobs.kinds import BODIES

            self._runtime = Runtime(self.settings, self.svc.db, self.svc.node, self.svc, asyncio.get_running_loop(),
                                    nice=self.settings.jobs.nice, bodies=dict(BODIES))  # fmt: skip
        return self._runtime

    async def start(self) -> None:
        self.runtime  # noqa: B018  (bound to the running loop)
        if self.embedded:
            self._pool = ThreadPoolExecutor(self.settings.jobs.concurrency, thread_name_prefix="job")
        else:
            from orchestrator.jobs.broker import declare, make_broker

            self._broker = make_broker(self.settings)
            self._actor = declare(self._broker, lambda job_id: None, queue=self.settings.jobs.queue,
                                  recheck_ms=int(self.settings.jobs.lease_seconds * 1000))  # fmt: skip
        self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="jobs-reaper")

    async def close(self) -> None:
        """Stop: running in-process jobs are cancelled and handed back to the queue (taken up at the next start)."""
        if self._runtime is not None:
            self._runtime.stopping.set()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for fut in list(self._running):
            with contextlib.suppress(Exception):
                await fut
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._broker is not None:
            await asyncio.to_thread(self._broker.close)

    async def submit(self, kind: str, args: dict[str, Any], *, key: str, session_id: int | None = None,
                     created_by: int | None = None) -> dict[str, Any]:  # fmt: skip
        """The job for ``key``: made and dispatched now, or the one made before."""
        if kind not in JOB_KINDS:
            raise UserError(f"unknown job kind {kind!r}; one of {', '.join(JOB_KINDS)}")

        def insert() -> tuple[dict[str, Any], bool]:
            try:
                with self.svc.db.session() as s:
                    job = Job(id=uuid.uuid4().hex, kind=kind, key=key[:200], args=args, session_id=session_id,
                              created_by=created_by, status="queued", progress=0.0, stage="queued", attempts=0,
                              created_at=utcnow(), updated_at=utcnow())  # fmt: skip
                    s.add(job)
                    s.flush()
                    return job.to_dict(), True
            except IntegrityError:
                with self.svc.db.session() as s:
                    old = s.scalar(select(Job).where(Job.key == key[:200]))
                    if old is None:
                        raise
                    return old.to_dict(), False

        job, created = await asyncio.to_thread(insert)
        if created:
            log.info("job submitted", extra={"job": job["id"], "kind": kind, "key": key})
            await self.dispatch(job["id"])
        return job

    async def dispatch(self, job_id: str) -> None:
        if self.embedded:
            assert self._pool is not None, "Jobs.start() first"
            if job_id in self._here:
                return
            self._here.add(job_id)
            fut = asyncio.get_running_loop().run_in_executor(self._pool, self._run_here, job_id)
            self._running.add(fut)
            fut.add_done_callback(self._running.discard)
        else:
            await asyncio.to_thread(self._actor.send, job_id)

    def _run_here(self, job_id: str) -> str:
        try:
            return run_job(self.runtime, job_id)
        except LeaseHeld:
            return "held"  # the reaper hands it out again once that lease lapses
        except Exception:
            log.exception("job %s could not be run", job_id)
            return "error"
        finally:
            self._here.discard(job_id)

    async def get(self, job_id: str) -> dict[str, Any] | None:
        def load() -> dict[str, Any] | None:
            with self.svc.db.session() as s:
                job = s.get(Job, job_id)
                return job.to_dict() if job is not None else None

        return await asyncio.to_thread(load)

    async def resume(self, *, queued: bool = False) -> int:
        """Hand out again the jobs nobody is running (a killed worker's; with ``queued``, queued ones too)."""
        ids = await asyncio.to_thread(stale_jobs, self.svc.db, queued=queued or self.embedded)
        for job_id in ids:
            await self.dispatch(job_id)
        if ids:
            log.info("jobs handed out again", extra={"jobs": ids})
        return len(ids)

    async def idle(self) -> None:
        """Wait until every in-process job has ended (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def _reap(self) -> None:
        first = True
        while True:
            try:
                await self.resume(queued=first)
                first = False
            except Exception:
                log.exception("could not look for stale jobs")
            await asyncio.sleep(self.settings.jobs.lease_seconds)
