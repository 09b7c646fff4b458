"""Issue 13 §3: media workers write their own Prometheus figures; /metrics aggregates them (multiprocess mode).

The real service runs as a process with one media worker; two aiortc peers publish in a consultation
(the host records it, so an egress runs). /metrics is read with prometheus_client's own text parser. Then the
worker is SIGKILLed: its live gauges go with its pid, its counters stay in the sums.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.store.db import Database
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.multinode import healthy
from tests.helpers.rooms import RoomClient, World, free_port, seed
from tests.helpers.support import stop_processes, wait_for

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(world: World) -> Samples:
    r = await world.request("GET", "/metrics", "ada")
    assert r.status == 200, await r.text()
    text = await r.text()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"series {key} appears twice"
            out[key] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def pids(samples: Samples) -> set[str]:
    return {dict(lab)["pid"] for (n, lab) in samples if n == "aulacast_media_worker_process_start_time_seconds"}


async def settle(world: World, pred: Callable[[Samples], bool], what: str, limit: float = 60) -> Samples:
    deadline = asyncio.get_running_loop().time() + limit
    while not pred(samples := await scrape(world)):
        assert asyncio.get_running_loop().time() < deadline, f"gave up waiting for: {what}\n{samples}"
        await asyncio.sleep(0.5)
    return samples


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    c = await world.socket(username, session_id)
    await c.wait_for("welcome")
    return c


async def test_media_workers_figures_reach_metrics_and_leave_with_a_killed_worker(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "prometheus").mkdir(parents=True)
    (var / "prometheus" / "gauge_livesum_999999999.db").write_bytes(b"\0" * 8)  # a previous run's: cleaned at start
    db = Database.from_url(f"sqlite:///{var / 'aulacast.db'}")
    db.upgrade()
    sd = seed(db)
    db.engine.dispose()
    port = free_port()
    cfg = tmp_path / "aulacast.toml"
    cfg.write_text("\n".join([
        f'data_dir = "{var}"', f"port = {port}", 'secret_key = "worker-metrics-test-key"',
        "scheduler_enabled = false", "media_workers = 1", 'log_level = "WARNING"', "[jobs]", "compose_on_recording = false",
    ]) + "\n")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"AULACAST_CONFIG": str(cfg), "AULACAST_ICE__HOST_ADDRESSES": '["127.0.0.1"]'}
    log = tmp_path / "service.log"
    proc = _serve(env, log)
    http = aiohttp.ClientSession()
    world = World(f"http://127.0.0.1:{port}", http, sd["ids"], sd["consult"], sd["defense"], _bearer=sd["tokens"])
    peers: list[MediaPeer] = []
    try:
        assert wait_for(lambda: healthy(port), 90), log.read_text(errors="replace")[-3000:]
        assert not (var / "prometheus" / "gauge_livesum_999999999.db").exists()
        sid = world.consult
        tom = await enter(world, "tom", sid)
        await tom.call("lobby-policy", {"auto_admit": True})
        sam = await enter(world, "sam", sid)
        peers += [MediaPeer(sam), MediaPeer(tom)]
        for p in peers:
            ack = await p.join()
            assert ack["ok"], ack
        await until(lambda: peers[1].video_frames_from(world.ids["sam"]) > 10, "tom sees sam", 60)
        r = await world.request("POST", f"/api/sessions/{sid}/recording", "tom", json={"on": True})  # an egress runs
        assert r.status == 200, await r.text()

        status: dict[str, Any] = await (await world.request("GET", "/api/ops/status", "ada")).json()
        (worker,) = status["media"]["workers"]
        pid = str(worker["pid"])
        w0 = {"worker": "0"}
        s = await settle(world, lambda s: (value(s, "aulacast_media_worker_peers_connected", **w0) == 2
                                           and (value(s, "aulacast_media_worker_egress_active", **w0) or 0) >= 1
                                           and (value(s, "aulacast_media_worker_rtp_packets_total", **w0) or 0) > 0),
                         "the worker's figures")  # fmt: skip
        assert pids(s) == {pid}  # the worker wrote them itself (its own pid), not the service
        assert value(s, "aulacast_media_worker_rooms_open", **w0) == 1
        assert value(s, "aulacast_media_worker_published_tracks", **w0) == 4  # two peers, camera + microphone
        assert (value(s, "aulacast_media_worker_forwarded_tracks", **w0) or 0) >= 2  # each sees the other
        assert (value(s, "aulacast_media_worker_rtp_payload_bytes_total", **w0) or 0) > 1000
        assert (value(s, "aulacast_media_worker_keyframe_requests_total", **w0) or 0) >= 1
        assert (value(s, "aulacast_media_worker_rpc_seconds_count", method="join", **w0) or 0) >= 2
        packets = value(s, "aulacast_media_worker_rtp_packets_total", **w0) or 0
        # the service's own figures sit next to the workers' (one exposition, no family twice: scrape() checks)
        assert value(s, "aulacast_peers") == 2

        os.kill(int(pid), signal.SIGKILL)
        await sam.wait_for("media-lost")
        s = await settle(world, lambda s: bool(pids(s)) and pid not in pids(s)
                         and value(s, "aulacast_media_worker_rooms_open", **w0) == 1, "the killed worker's gauges gone")
        # the restarted worker re-opened the room empty; the dead one's peers are not counted any more
        assert value(s, "aulacast_media_worker_peers_connected", **w0) == 0
        assert (value(s, "aulacast_media_worker_rtp_packets_total", **w0) or 0) >= packets  # counters keep its share
    finally:
        for p in peers:
            await p.close()
        await world.close()
        await http.close()
        stop_processes([proc])
