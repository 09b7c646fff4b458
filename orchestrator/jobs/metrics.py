"""Job runs, failures and durations for Prometheus, recorded by whichever process runs the job.

    record(kind="compose", outcome="done", seconds=41.0, runner="service")

A job runs either in the service itself (the in-process runner, no Redis) or in an
``aulacast jobs worker`` process. The worker calls :func:`write_to_files` first thing, so its
figures go to the service's multiprocess directory (prometheus-client multiprocess mode) and
``/metrics`` aggregates them; the service's own runs stay in this process's ``JOBS_REGISTRY``.
The ``runner`` label keeps the two apart, so no series is ever counted twice.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values

JOBS_REGISTRY = CollectorRegistry()
BUCKETS = (1, 5, 15, 60, 180, 600, 1800, 3600, 7200, 14400)


@functools.cache
def _metrics() -> tuple[Counter, Histogram]:
    """Made on first use, after ``write_to_files`` chose where values live."""
    runs = Counter("aulacast_job_runs", "Job runs by kind and outcome (done, failed, released, lost)",
                   ["kind", "outcome", "runner"], registry=JOBS_REGISTRY)  # fmt: skip
    seconds = Histogram("aulacast_job_seconds", "How long a job's body ran, by kind and outcome",
                        ["kind", "outcome", "runner"], registry=JOBS_REGISTRY, buckets=BUCKETS)  # fmt: skip
    return runs, seconds


def record(kind: str, outcome: str, seconds: float, runner: str) -> None:
    runs, durations = _metrics()
    runs.labels(kind, outcome, runner).inc()
    durations.labels(kind, outcome, runner).observe(seconds)


def write_to_files(path: Path) -> None:
    """This process keeps its figures in files under ``path`` (a jobs worker on the service's host)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    values.ValueClass = values.get_value_class()  # metrics made from now on write to files
    _metrics.cache_clear()


def runner_label() -> str:
    """``worker`` in a process writing files (a jobs worker), else ``service``."""
    return "worker" if getattr(values.ValueClass, "__name__", "") == "MmapedValue" else "service"
