"""Prometheus metrics at ``/metrics`` (official ``prometheus-client``): HTTP, rooms, peers, chat, jobs.

    attach(app, svc)      # an HTTP middleware, a collector reading live state at scrape time

Counters and histograms are updated as things happen (HTTP requests, chat messages delivered);
room, peer, media-worker and job figures are read when Prometheus scrapes, so they cannot drift.

The processes the service starts write their own figures (prometheus-client's multiprocess
mode): media workers (``media.live.worker_metrics``) and ``aulacast jobs worker`` processes on
this host (``orchestrator.jobs.metrics``) keep them in files of one directory,
``PROMETHEUS_MULTIPROC_DIR`` if the service's environment names one, else
``<data_dir>/prometheus``. At start the service removes the files of processes that no longer
run (a previous run's); when a media worker exits, its live gauges are removed
(``mark_process_dead``). The endpoint aggregates the directory with ``MultiProcessCollector``
next to this process's own metrics and the live-state collector (this node's view).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from media.recording.finalise import process_alive
from orchestrator.config import Settings
from orchestrator.services import Services

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter("aulacast_http_requests", "HTTP requests by route, method and status",
                        ["route", "method", "status"], registry=REGISTRY)  # fmt: skip
HTTP_SECONDS = Histogram("aulacast_http_request_seconds", "HTTP request duration by route", ["route"],
                         registry=REGISTRY, buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))  # fmt: skip
CHAT_DELIVERED = Counter("aulacast_chat_messages", "Chat messages stored and delivered to their room", ["path"],
                         registry=REGISTRY)  # fmt: skip

METRICS = web.AppKey("metrics_collector", object)


class LiveState(Collector):
    """Rooms, peers and media workers of this node, and jobs by status, read at scrape time."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        server = self.svc.signaling
        rooms: dict[int, int] = {}
        if server is not None:
            for conn in list(server.conns.values()):
                if conn.state == "room":
                    rooms[conn.session_id] = rooms.get(conn.session_id, 0) + 1
        yield GaugeMetricFamily("aulacast_rooms_live", "Rooms with at least one person in them (this node)",
                                value=len(rooms))  # fmt: skip
        yield GaugeMetricFamily("aulacast_peers", "People connected to rooms (this node's sockets)",
                                value=sum(rooms.values()))  # fmt: skip
        workers = GaugeMetricFamily("aulacast_media_worker_rooms", "Rooms per media worker", labels=["worker"])
        peers = GaugeMetricFamily("aulacast_media_worker_peers", "Media peers per worker", labels=["worker"])
        router = self.svc.media_router
        for w in (router.status()["workers"] if router is not None else []):
            workers.add_metric([str(w["index"])], len(w["rooms"]))
            peers.add_metric([str(w["index"])], w["peers"])
        yield workers
        yield peers
        jobs = GaugeMetricFamily("aulacast_jobs", "Batch jobs by status", labels=["status"])
        for status, count in _job_counts(self.svc).items():
            jobs.add_metric([status], count)
        yield jobs


def _job_counts(svc: Services) -> dict[str, int]:
    from sqlalchemy import func, select

    from orchestrator.jobs.models import Job

    try:
        with svc.db.session() as s:
            return {str(k): int(v) for k, v in s.execute(select(Job.status, func.count()).group_by(Job.status))}
    except Exception:  # a scrape must not fail because the database is briefly away
        return {}


def multiproc_dir(settings: Settings) -> Path:
    """Where the service's processes keep their metric files (the environment's choice first)."""
    named = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(named) if named else settings.data_dir / "prometheus"


_PID = re.compile(r"_(\d+)\.db$")


def prepare_multiproc_dir(path: Path) -> int:
    """Make the directory; remove metric files of processes no longer running. Returns how many went.

    Files of live processes stay: a jobs worker on this host keeps writing across a service restart.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    removed = 0
    for f in path.glob("*.db"):
        m = _PID.search(f.name)
        if m is None or not process_alive(int(m.group(1))):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                removed += 1
    return removed


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment the service gives a worker process so it writes its figures where we read them."""
    path = multiproc_dir(settings)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"PROMETHEUS_MULTIPROC_DIR": str(path)}


def worker_exited(settings: Settings) -> Callable[[int], None]:
    """Called with a worker's pid when it ended: its live gauges go, its counters stay in the sums."""
    from prometheus_client import multiprocess

    path = str(multiproc_dir(settings))
    return lambda pid: multiprocess.mark_process_dead(pid, path)


def _files_backed() -> bool:
    """True when this very process writes its metrics to files (its environment named the directory)."""
    return getattr(values.ValueClass, "__name__", "") == "MmapedValue"


class Merged(Collector):
    """Families of several collectors as one each: a jobs worker's file-backed runs and the service's own
    in-memory runs share a name (``runner`` tells their series apart); the text format allows one block per name."""

    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for source in self.sources:
            for family in source.collect():
                if family.name in families:
                    families[family.name].samples.extend(family.samples)
                else:
                    families[family.name] = family
        yield from families.values()


def render(svc: Services) -> bytes:
    """The exposition text (blocking: the scrape handler runs it on a worker thread)."""
    from prometheus_client import multiprocess

    from orchestrator.jobs.metrics import JOBS_REGISTRY

    sources: list[Any] = [] if _files_backed() else [REGISTRY, JOBS_REGISTRY]  # else they are in the files
    sources.append(LiveState(svc))
    path = multiproc_dir(svc.settings)
    if path.is_dir():
        sources.append(multiprocess.MultiProcessCollector(None, path=str(path)))
    out = CollectorRegistry(auto_describe=False)
    out.register(Merged(*sources))
    return generate_latest(out)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One count and one duration per request, labelled by the route's pattern (never the raw path)."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "(unmatched)"
        if route.startswith("/static/"):
            route = "/static/*"
        HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        HTTP_SECONDS.labels(route).observe(time.perf_counter() - start)


def count_chat(path: str) -> None:
    CHAT_DELIVERED.labels(path).inc()


def attach(app: web.Application, svc: Services) -> None:
    app.middlewares.insert(0, count_requests)
    prepare_multiproc_dir(multiproc_dir(svc.settings))


__all__ = ["CONTENT_TYPE_LATEST", "attach", "count_chat", "render"]
