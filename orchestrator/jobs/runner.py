"""Running one job exactly once at a time: claim the row, keep the lease, record one outcome.

    outcome = run_job(runtime, job_id)      # what a worker thread does with a "run job N" message

The broker delivers at least once (a message comes again after its worker was killed), so
``run_job`` decides from the job row alone: a job that is done or failed is not run again; a
job another worker holds under a live lease raises ``LeaseHeld`` (the broker retries the
message later, by when that lease has either been renewed or has lapsed because its worker
died); otherwise one conditional UPDATE claims it. While the body works, a thread renews
the lease and writes progress about once a second. Job bodies themselves are idempotent
(content-named outputs, idempotent archive ingest), so a run cut short by a kill and done
again leaves one result.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, update

from media.errors import MediaError
from orchestrator.config import Settings
from orchestrator.errors import UserError
from orchestrator.jobs.models import Job
from orchestrator.store.db import Database
from orchestrator.store.types import utcnow

log = logging.getLogger("aulacast.jobs")

T = TypeVar("T")
PROGRESS_EVERY = 1.0  # seconds between progress/lease writes


class LeaseHeld(Exception):
    """Another worker is running this job under a live lease; the message is retried later."""


@dataclass
class Runtime:
    """What a node lends its job bodies: settings, database, the service objects and the loop they live on."""

    settings: Settings
    db: Database
    node: str
    svc: Any  # orchestrator.services.Services (named loosely: the services module names this package's types)
    loop: asyncio.AbstractEventLoop
    nice: int = 0  # added to ffmpeg's niceness (the in-process runner; a worker process is niced whole)
    bodies: dict[str, Callable[[JobContext], dict[str, Any]]] = field(default_factory=dict)
    stopping: threading.Event = field(
        default_factory=threading.Event
    )  # set: running jobs stop and go back to the queue

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the services' loop from a job's thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


class JobContext:
    """What a job body sees: its arguments, the runtime, and a progress sink."""

    def __init__(self, runtime: Runtime, job: Job) -> None:
        self.runtime = runtime
        self.id = job.id
        self.kind = job.kind
        self.args: dict[str, Any] = dict(job.args or {})
        self.session_id = job.session_id
        self.attempt = job.attempts
        self.fraction = 0.0
        self.stage = "started"
        self.cancel = threading.Event()  # set when the lease was lost or the node stops: the body should stop

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def progress(self, fraction: float | None, stage: str | None = None) -> None:
        if fraction is not None:
            self.fraction = max(self.fraction, min(1.0, max(0.0, fraction)))
        if stage is not None:
            self.stage = stage[:40]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runtime.call(coro)


def claim(db: Database, job_id: str, owner: str, lease_seconds: float) -> Job | None:
    """The job, now ours; None when it needs no run (done, failed, unknown); ``LeaseHeld`` when someone holds it."""
    now = utcnow()
    with db.session() as s:
        claimed = s.execute(
            update(Job)
            .where(Job.id == job_id, or_(Job.status == "queued",
                                         and_(Job.status == "running", or_(Job.lease_until.is_(None), Job.lease_until < now))))
            .values(status="running", owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=Job.attempts + 1, started_at=now, updated_at=now, stage="started")
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.status in ("done", "failed"):
            return None
        if claimed != 1 or job.owner != owner:
            raise LeaseHeld(f"job {job_id} is running on {job.owner} until {job.lease_until}")
        s.expunge(job)
        return job


def _heartbeat(
    db: Database, ctx: JobContext, owner: str, lease_seconds: float, stop: threading.Event
) -> None:
    """Renew the lease and write progress until ``stop``; a lost lease sets ``ctx.cancel``."""
    while not stop.wait(PROGRESS_EVERY):
        if ctx.runtime.stopping.is_set():
            ctx.cancel.set()  # the lease is still renewed until the body has stopped and released the job
        now = utcnow()
        try:
            with db.session() as s:
                kept = s.execute(
                    update(Job).where(Job.id == ctx.id, Job.owner == owner, Job.status == "running")
                    .values(lease_until=now + timedelta(seconds=lease_seconds), progress=ctx.fraction,
                            stage=ctx.stage, updated_at=now)
                    .execution_options(synchronize_session=False)
                ).rowcount  # fmt: skip
        except Exception:  # the database blinked: try again next second, the lease has slack
            log.warning("could not renew the lease of job %s", ctx.id, exc_info=True)
            continue
        if kept != 1:
            log.warning("job %s: lease lost, stopping", ctx.id)
            ctx.cancel.set()
            return


def _finish(db: Database, job_id: str, owner: str, **values: Any) -> bool:
    now = utcnow()
    with db.session() as s:
        return s.execute(
            update(Job).where(Job.id == job_id, Job.owner == owner, Job.status == "running")
            .values(finished_at=now, updated_at=now, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        ).rowcount == 1  # fmt: skip


def _release(db: Database, job_id: str, owner: str) -> bool:
    """Put a job this node stopped back in the queue, for the next worker (or this node's next start)."""
    now = utcnow()
    with db.session() as s:
        return s.execute(
            update(Job).where(Job.id == job_id, Job.owner == owner, Job.status == "running")
            .values(status="queued", owner=None, lease_until=None, stage="queued", progress=0.0, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount == 1  # fmt: skip


def run_job(runtime: Runtime, job_id: str) -> str:
    """Run one job if it is ours to run: ``done``, ``failed``, ``skipped`` (nothing to do), ``released``
    (this node is stopping: the job is queued again) or ``lost`` (another worker took the lapsed lease).

    Each run that started a body is counted for /metrics with its outcome and duration."""
    ran: list[str] = []
    start = time.monotonic()
    outcome = _run_job(runtime, job_id, ran)
    if ran:
        from orchestrator.jobs.metrics import record, runner_label

        record(ran[0], outcome, time.monotonic() - start, runner_label())
    return outcome


def _run_job(runtime: Runtime, job_id: str, ran: list[str]) -> str:
    if runtime.stopping.is_set():
        return "skipped"  # a job not yet started stays queued for the next worker
    lease = runtime.settings.jobs.lease_seconds
    owner = f"{runtime.node}/{threading.get_ident()}"
    job = claim(runtime.db, job_id, owner, lease)
    if job is None:
        return "skipped"
    body = runtime.bodies.get(job.kind)
    ran.append(job.kind)
    ctx = JobContext(runtime, job)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(runtime.db, ctx, owner, lease, stop), daemon=True,
                            name=f"job-lease-{job_id}")  # fmt: skip
    beat.start()
    log.info("job started", extra={"job": job_id, "kind": job.kind, "attempt": job.attempts})
    try:
        if body is None:
            raise UserError(f"no worker here knows job kind {job.kind!r}")
        result = body(ctx)
    except Exception as exc:
        stop.set()
        beat.join()
        if ctx.cancel.is_set():  # stopped on purpose: not the job's failure
            if runtime.stopping.is_set() and _release(runtime.db, job_id, owner):
                log.info("job handed back: this node is stopping", extra={"job": job_id, "kind": job.kind})
                return "released"
            log.warning("job %s stopped: its lease was taken over (%s)", job_id, exc)
            return "lost"
        if isinstance(exc, UserError | MediaError):
            _finish(runtime.db, job_id, owner, status="failed", error=str(exc), stage="failed")
            log.info("job refused", extra={"job": job_id, "kind": job.kind, "reason": str(exc)})
            return "failed"
        log.exception("job failed", extra={"job": job_id, "kind": job.kind})
        _finish(runtime.db, job_id, owner, status="failed", stage="failed",
                error=f"server error ({type(exc).__name__}); the operator has the details in the worker's log")  # fmt: skip
        return "failed"
    finally:
        stop.set()
    beat.join()
    if not _finish(runtime.db, job_id, owner, status="done", progress=1.0, stage="done", result=result):
        log.warning(
            "job %s finished after its lease was taken over; the other run records the result", job_id
        )
        return "skipped"
    log.info("job done", extra={"job": job_id, "kind": job.kind})
    return "done"
