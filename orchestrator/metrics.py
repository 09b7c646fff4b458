"""Prometheus metrics at ``/metrics`` (official ``prometheus-client``): HTTP, rooms, peers, chat, jobs.

    attach(app, svc)      # an HTTP middleware, a collector reading live state at scrape time

Counters and histograms are updated as things happen (HTTP requests, chat messages delivered);
room, peer, media-worker and job figures are read when Prometheus scrapes, so they cannot drift.
With ``PROMETHEUS_MULTIPROC_DIR`` set (several web workers or worker processes writing metrics),
the endpoint aggregates every process's files with ``MultiProcessCollector`` as the library's
multiprocess mode prescribes; the live-state collector is this process's view of its own node.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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


def render(svc: Services) -> bytes:
    """The exposition text (blocking: the scrape handler runs it on a worker thread)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    out = generate_latest(REGISTRY)
    live = CollectorRegistry()
    live.register(LiveState(svc))
    return out + generate_latest(live) + (generate_latest(registry) if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else b"")


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


__all__ = ["CONTENT_TYPE_LATEST", "attach", "count_chat", "render"]
