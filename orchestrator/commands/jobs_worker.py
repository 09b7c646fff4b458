"""``aulacast jobs worker``: a process that takes jobs from the Redis queue, on any node with ffmpeg.

    aulacast jobs worker [--concurrency N]

The process lowers its own priority first (``jobs.nice``, inherited by every ffmpeg it
starts), so the live rooms on the same machine keep the CPU; it runs ``jobs.concurrency``
jobs at once (one by default) with ``jobs.ffmpeg_threads`` encoder threads each. Its services
(database, Redis bus, archive) live on an event loop in a thread of their own; job bodies,
on Dramatiq's worker threads, call into it. SIGTERM/SIGINT: stop taking jobs, let the
running one finish for ``jobs.stop_grace_seconds``, then cancel it and put it back in the
queue, and leave. SIGKILL: the job is run again elsewhere once its lease lapses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

from orchestrator.config import Settings

log = logging.getLogger("aulacast.jobs")


def serve(settings: Settings, *, concurrency: int | None = None, ready: threading.Event | None = None) -> int:
    import dramatiq

    from orchestrator.jobs.metrics import write_to_files
    from orchestrator.metrics import multiproc_dir

    write_to_files(multiproc_dir(settings))  # runs and durations reach the service's /metrics on this host
    from orchestrator.jobs.broker import declare, make_broker
    from orchestrator.jobs.kinds import BODIES
    from orchestrator.jobs.queue import Jobs
    from orchestrator.jobs.runner import Runtime, run_job
    from orchestrator.services import Services

    jobs_cfg = settings.jobs
    if jobs_cfg.nice:
        try:
            os.nice(jobs_cfg.nice)
        except OSError:
            log.warning("could not lower this worker's priority")
    settings.jobs.broker = "redis"
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="job-services", daemon=True)
    loop_thread.start()

    async def build() -> Services:
        svc = Services.build(settings)
        svc.db.check_revision()
        return svc

    svc = asyncio.run_coroutine_threadsafe(build(), loop).result()
    runtime = Runtime(settings, svc.db, svc.node, svc, loop, nice=0, bodies=dict(BODIES))
    broker = make_broker(settings)
    declare(broker, lambda job_id: run_job(runtime, job_id), queue=jobs_cfg.queue,
            recheck_ms=int(jobs_cfg.lease_seconds * 1000))  # fmt: skip
    front = Jobs(svc)  # its reaper hands a dead worker's job out again as soon as the lease lapses
    asyncio.run_coroutine_threadsafe(front.start(), loop).result()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(broker, worker_threads=concurrency or jobs_cfg.concurrency, worker_timeout=1000)
    worker.start()
    log.info("job worker started", extra={"node": svc.node, "queue": jobs_cfg.queue,
                                          "concurrency": concurrency or jobs_cfg.concurrency, "nice": jobs_cfg.nice})  # fmt: skip
    if ready is not None:
        ready.set()
    print(f"aulacast jobs worker {svc.node}: taking jobs from {jobs_cfg.queue} (Ctrl-C stops)", flush=True)
    stop.wait()
    log.info("job worker stopping")
    # The running job may finish within the grace; then it is cancelled and handed back to the queue.
    timer = threading.Timer(jobs_cfg.stop_grace_seconds, runtime.stopping.set)
    timer.daemon = True
    timer.start()
    worker.stop(timeout=int((jobs_cfg.stop_grace_seconds + 30) * 1000))
    timer.cancel()
    broker.close()

    async def close() -> Any:
        await front.close()
        await svc.close()

    asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    loop_thread.join(timeout=5)
    return 0
