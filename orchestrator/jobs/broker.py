"""The Dramatiq broker over Redis, and the one actor every job message goes to.

    broker = make_broker(settings)
    actor = declare(broker, lambda job_id: run_job(runtime, job_id), queue="aulacast-jobs")
    actor.send(job_id)

A message carries a job id and nothing else; the job row says what to do. Dramatiq's Redis
broker keeps each delivered message in the worker's ack set until the actor returns; a
worker whose heartbeat stops (killed) has its unacked messages moved back to the queue by
a live worker's maintenance pass after ``jobs.heartbeat_seconds``. A job another worker
holds under a live lease is sent again with a delay rather than raised (no retry storm, no
traceback in the log); a job's own failure is recorded on its row and not retried, because
composing the same broken input again fails the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from orchestrator.config import Settings

log = logging.getLogger("aulacast.jobs")

ACTOR = "aulacast_job"


def make_broker(settings: Settings) -> RedisBroker:
    if settings.redis_url is None:
        raise ValueError("the job broker needs redis_url; without it jobs run in-process")
    jobs = settings.jobs
    # No default middleware: no time limit (a lecture takes as long as it takes), no retries (see above).
    return RedisBroker(url=settings.redis_url.get_secret_value(), namespace=jobs.namespace,
                       heartbeat_timeout=int(jobs.heartbeat_seconds * 1000),
                       maintenance_chance=jobs.maintenance_chance, middleware=[])  # fmt: skip


def declare(
    broker: RedisBroker, run: Callable[[str], Any], *, queue: str, recheck_ms: int
) -> dramatiq.Actor[[str], Any]:
    """The job actor on ``broker``: ``run(job_id)`` in a worker thread; a held lease is checked again later."""
    from orchestrator.jobs.runner import LeaseHeld

    def aulacast_job(job_id: str) -> None:
        try:
            if run(job_id) == "released":  # this worker is stopping: another one takes the job
                actor.send(job_id)
        except LeaseHeld as exc:
            log.info("job held elsewhere, checking again later", extra={"job": job_id, "detail": str(exc)})
            actor.send_with_options(args=(job_id,), delay=recheck_ms)

    actor: dramatiq.Actor[[str], Any] = dramatiq.actor(
        aulacast_job, broker=broker, actor_name=ACTOR, queue_name=queue
    )
    return actor
