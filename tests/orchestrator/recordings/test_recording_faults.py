"""Recording under trouble: a full disk, a media worker killed with SIGKILL, the service killed with SIGKILL.

Each time the files written so far must stay playable (decoded here with PyAV) and the manifest must
say ``interrupted``, never ``complete``; the room goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from media.recording.folder import parse_utc, read_manifest, read_timeline
from orchestrator.bus import Event
from orchestrator.store.db import Database
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.multinode import healthy
from tests.helpers.recording import decode_track
from tests.helpers.rooms import RoomClient, World, free_port, seed, start_world
from tests.helpers.support import stop_processes, wait_for

KILL_SLACK = 2.0  # the promise: every track plays to within 2 s of the kill


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    c = await world.socket(username, session_id)
    await c.wait_for("welcome")
    return c


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1.5 MB tmpfs as the media root (mounted here as root; the test is skipped where that is not allowed)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
async def test_a_full_disk_stops_the_recording_cleanly_and_the_session_goes_on(
    tmp_path: Path, small_disk: Path, loopback_only: None
) -> None:
    from media.live.server import LocalMediaServer
    from media.live.types import MediaConfig
    from media.recording.recorder import open_sink

    world, runner = await start_world(tmp_path, media=False, media_root=small_disk, jobs={"compose_on_recording": False})
    world.svc.media_server = LocalMediaServer(MediaConfig(host_addresses=["127.0.0.1"], consent_failures=60),
                                              egress=open_sink)  # fmt: skip
    seen: list[Event] = []

    async def keep(event: Event) -> None:
        seen.append(event)

    world.svc.bus.subscribe("recording.*", keep)
    sid = world.defense
    peer: MediaPeer | None = None
    try:
        tom = await enter(world, "tom", sid)
        sam = await enter(world, "sam", sid)
        tom_peer = MediaPeer(tom, publish=())
        await world.svc.bus.publish("session.opened", {"session_id": sid, "kind": "defense"})
        await world.give_floor(sid, "sam")  # a student presents only with the floor
        peer = MediaPeer(sam)
        assert (await peer.join())["ok"]
        assert (await tom_peer.join())["ok"]
        await until(lambda: any(e.topic == "recording.ready" for e in seen), "the disk fills up", 120)
        stopped = next(e.payload for e in seen if e.topic == "recording.stopped")
        ready = next(e.payload for e in seen if e.topic == "recording.ready")
        assert stopped["alert"] is True and stopped["reason"] == "disk full" and stopped["status"] == "interrupted"
        assert ready["status"] == "interrupted"
        off = await tom.wait_for("recording", lambda d: d["on"] is False)
        assert off["reason"] == "disk full" and (off["reason_code"], off["reason_params"]) == ("rec_disk_full", {})
        folder = Path(ready["folder"])
        manifest = read_manifest(folder)
        assert (manifest.status, manifest.reason) == ("interrupted", "disk full")
        assert manifest.tracks and all(t.status == "interrupted" for t in manifest.tracks)
        for track in manifest.tracks:
            decoded = decode_track(folder / track.file)
            assert decoded.frames > 10 and decoded.errors == 0, (track, decoded)
            assert decoded.last_time >= (track.end - track.start) - KILL_SLACK
        assert [e.get("reason") for e in read_timeline(folder) if e["type"] == "recording"][-1] == "disk full"
        # the session goes on: the tutor still receives the presenter
        got = tom_peer.video_frames_from(world.ids["sam"])
        await until(lambda: tom_peer.video_frames_from(world.ids["sam"]) > got + 15, "the room goes on")
        r = await world.request("GET", f"/api/sessions/{sid}/recording", "tom")
        assert (await r.json())["on"] is False
        await tom_peer.close()
    finally:
        if peer is not None:
            await peer.close()
        await world.close()
        await world.http.close()
        await runner.cleanup()


# --- SIGKILL of the media worker, then of the service --------------------------------------------


def _config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "aulacast.toml"
    cfg.write_text("\n".join([
        f'data_dir = "{tmp_path / "var"}"', f"port = {port}", 'secret_key = "recording-crash-test-key"',
        "scheduler_enabled = false", "media_workers = 1", 'log_level = "WARNING"',
        "[jobs]", "compose_on_recording = false",
    ]) + "\n")  # fmt: skip
    return cfg


def _serve(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AULACAST_CONFIG": str(cfg), "AULACAST_ICE__HOST_ADDRESSES": '["127.0.0.1"]'}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


def _recording_with_video(root: Path, seconds: float, exclude: set[Path]) -> Path | None:
    """A recording folder under ``root`` whose tracks (camera and microphone) hold ``seconds`` of media."""
    from media.recording.finalise import last_packet_time

    for manifest_path in root.glob("recordings/*/*/manifest.json"):
        folder = manifest_path.parent
        if folder in exclude:
            continue
        with contextlib.suppress(Exception):
            manifest = read_manifest(folder)
            if len(manifest.tracks) == 2 and all(
                (last_packet_time(folder / t.file) or 0) >= seconds for t in manifest.tracks
            ):
                return folder
    return None


def _assert_playable_to(folder: Path, killed_at: float) -> None:
    manifest = read_manifest(folder)
    zero = parse_utc(manifest.started_at)
    assert manifest.status == "interrupted", manifest
    for track in manifest.tracks:
        assert track.status == "interrupted"
        decoded = decode_track(folder / track.file)
        expected = killed_at - (zero + track.start)  # media time the track had reached at the kill
        assert decoded.errors == 0 and decoded.frames > 10, (track, decoded)
        assert decoded.last_time >= expected - KILL_SLACK, (track.id, decoded.last_time, expected)
        assert track.end is not None and abs(track.end - track.start - decoded.last_time) < 0.5


@pytest.mark.slow
async def test_sigkill_of_the_media_worker_then_of_the_service_leaves_playable_interrupted_tracks(
    tmp_path: Path,
) -> None:
    (tmp_path / "var").mkdir()
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    sd = seed(db)
    db.engine.dispose()
    media_root = tmp_path / "var" / "media"
    port = free_port()
    cfg = _config(tmp_path, port)
    log = tmp_path / "service.log"
    procs = [_serve(cfg, log)]
    http = aiohttp.ClientSession()
    world = World(f"http://127.0.0.1:{port}", http, sd["ids"], sd["consult"], sd["defense"], _bearer=sd["tokens"])
    peers: list[MediaPeer] = []
    try:
        assert wait_for(lambda: healthy(port), 90), log.read_text(errors="replace")[-3000:]
        sid = world.defense  # a defense is always recorded: the first published track starts it
        sam = await enter(world, "tom", sid)  # the chair publishes: a student needs a sitting's floor
        peers.append(MediaPeer(sam))
        assert (await peers[-1].join())["ok"]
        await until(lambda: _recording_with_video(media_root, 4.0, set()) is not None, "4 s recorded", 120)
        first = _recording_with_video(media_root, 4.0, set())
        assert first is not None
        worker = read_manifest(first).extra["recorder"]["pid"]
        killed_at = time.time()
        os.kill(worker, signal.SIGKILL)
        # the service sees its worker die: that recording is finalised interrupted at once
        await until(lambda: read_manifest(first).status != "recording", "the dead worker's recording finalised", 60)
        assert read_manifest(first).reason == "media worker killed"
        _assert_playable_to(first, killed_at)
        # the room is told to rejoin; the defense is recorded again, in a new recording
        await sam.wait_for("media-lost")
        await peers[-1].close()
        peers.append(MediaPeer(sam))
        assert (await peers[-1].join())["ok"]
        await until(lambda: _recording_with_video(media_root, 4.0, {first}) is not None, "4 s more recorded", 120)
        second = _recording_with_video(media_root, 4.0, {first})
        assert second is not None and read_manifest(second).status == "recording"
        killed_at = time.time()
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        for peer in peers:
            await peer.close()
        peers.clear()
        await sam.close()
        # restart: the finalise step marks what the killed service left
        procs.append(_serve(cfg, log))
        assert wait_for(lambda: healthy(port), 90), log.read_text(errors="replace")[-3000:]
        await until(lambda: read_manifest(second).status != "recording", "the restart finalises it", 90)
        assert read_manifest(second).reason == "service restarted"
        _assert_playable_to(second, killed_at)
        assert read_manifest(first).reason == "media worker killed"  # finalised once, not again
    finally:
        for peer in peers:
            await peer.close()
        await world.close()
        await http.close()
        stop_processes(procs)
        await asyncio.sleep(0)
