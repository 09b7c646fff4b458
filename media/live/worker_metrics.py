"""A media worker's own Prometheus figures, written by the worker process itself.

    metrics = WorkerMetrics(worker="0")
    metrics.sample(media)                 # about once a second: gauges set, counters advanced
    with metrics.timed("join"): ...       # one RPC's duration

The service starts each worker with ``PROMETHEUS_MULTIPROC_DIR`` in its environment, so
``prometheus_client`` (multiprocess mode) keeps these values in files of that directory, one
per process; the service's ``/metrics`` aggregates them with ``MultiProcessCollector`` and
removes a dead worker's live gauges (``mark_process_dead``). Gauges are ``livesum`` by
``worker`` slot: a killed worker's rooms and peers vanish with it, its restarted successor
reports under the same slot. Counters keep the dead process's share, so they only grow.

The forwarding path only adds to plain ints (``rtpforward.TOTALS``); this sampler turns the
increase since its last look into counter increments, so no packet pays for a metrics write.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from media.live.rtpforward import TOTALS, Totals

_G = {"labelnames": ["worker"], "multiprocess_mode": "livesum"}
PROCESS = Gauge("aulacast_media_worker_process_start_time_seconds", "When this media worker process started",
                ["worker"], multiprocess_mode="liveall")  # fmt: skip
ROOMS = Gauge("aulacast_media_worker_rooms_open", "Rooms open in this media worker", **_G)
PEERS = Gauge("aulacast_media_worker_peers_connected", "Peers in this media worker's rooms", **_G)
PUBLISHED = Gauge("aulacast_media_worker_published_tracks", "Tracks published into this worker", **_G)
FORWARDED = Gauge("aulacast_media_worker_forwarded_tracks", "Subscriptions this worker forwards (track x viewer)", **_G)
EGRESS = Gauge("aulacast_media_worker_egress_active", "Recordings (egress taps) running in this worker", **_G)
COUNTERS = {
    "packets": Counter("aulacast_media_worker_rtp_packets", "RTP packets forwarded to subscribers", ["worker"]),
    "payload_bytes": Counter("aulacast_media_worker_rtp_payload_bytes",
                             "RTP payload bytes forwarded to subscribers (headers and SRTP tags not counted)",
                             ["worker"]),  # fmt: skip
    "retransmitted": Counter("aulacast_media_worker_rtp_retransmissions", "Packets resent after a NACK", ["worker"]),
    "keyframe_requests": Counter("aulacast_media_worker_keyframe_requests",
                                 "Keyframes asked of publishers (joins, subscribers' PLI/FIR)", ["worker"]),  # fmt: skip
    "plis_sent": Counter("aulacast_media_worker_plis_sent", "PLIs sent to publishers after throttling", ["worker"]),
}
RPC_SECONDS = Histogram("aulacast_media_worker_rpc_seconds", "Time a media worker takes to answer one call",
                        ["worker", "method"], buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))  # fmt: skip

METRICS = (PROCESS, ROOMS, PEERS, PUBLISHED, FORWARDED, EGRESS, *COUNTERS.values(), RPC_SECONDS)


class WorkerMetrics:
    """The figures of one worker slot, refreshed from its media server by :meth:`sample`."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._seen = Totals()
        PROCESS.labels(worker).set(time.time())

    def sample(self, media: Any) -> None:
        """Set the gauges from the rooms as they are; add what the totals grew by since the last sample."""
        rooms = list(media.rooms.values())
        participants = [p for room in rooms for p in room.participants.values()]
        w = self.worker
        ROOMS.labels(w).set(len(rooms))
        PEERS.labels(w).set(len(participants))
        PUBLISHED.labels(w).set(sum(1 for p in participants for t in p.published.values() if t.active))
        FORWARDED.labels(w).set(sum(1 for p in participants for o in p.outgoing.values() if o.stream.source is not None))
        EGRESS.labels(w).set(len(media.egresses))
        for name, counter in COUNTERS.items():
            now, before = getattr(TOTALS, name), getattr(self._seen, name)
            if now > before:
                counter.labels(w).inc(now - before)
                setattr(self._seen, name, now)

    @contextlib.contextmanager
    def timed(self, method: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            RPC_SECONDS.labels(self.worker, method).observe(time.perf_counter() - start)


def enabled() -> bool:
    """True when the service gave this process a directory to write its figures to."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
