"""Batch jobs (compose, package for TV, HLS cut, verify) on a Dramatiq queue over Redis, or in-process.

    queue.py    Jobs: submit (idempotent by key), look up, hand out
    runner.py   run_job: claim under a lease, progress, one recorded outcome
    kinds.py    what each kind does
    broker.py   the Dramatiq Redis broker and actor
    service.py  the service's wiring (recording.ready -> compose -> archive)
    policy.py   who may see which job

The worker process itself is ``orchestrator/commands/jobs_worker.py`` (it builds ``Services``,
which names this package's types).
"""
