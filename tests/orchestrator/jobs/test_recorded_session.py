"""End to end without anyone's action: a defense recorded from real aiortc peers closes, recording.ready starts
a compose job, and the lecture video is in the archive, showing the presenter's (red) camera and their tone."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy
import pytest
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from sqlalchemy import select

import tests.helpers.media_peer as media_peer
from orchestrator.archive.models import Asset
from tests.helpers.composition import audio_samples, colour_of, frame_at, peak_frequency, video_frames
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.rooms import World, start_world
from tests.orchestrator.jobs.conftest import wait_job
from tests.orchestrator.recordings.conftest import loopback_only  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
async def world(tmp_path: Path, loopback_only: None) -> AsyncIterator[World]:  # noqa: F811
    """The recordings tests' world (tests/orchestrator/recordings/conftest.py), composing what it records."""
    from media.live.server import LocalMediaServer
    from media.live.types import MediaConfig
    from media.recording.recorder import open_sink

    w, runner = await start_world(tmp_path, media=False, jobs={"compose_on_recording": True, "nice": 0})
    w.svc.media_server = LocalMediaServer(MediaConfig(host_addresses=["127.0.0.1"], consent_failures=60),
                                          egress=open_sink)  # fmt: skip
    try:
        yield w
    finally:
        await w.close()
        await w.http.close()
        await runner.cleanup()


class RedCamera(VideoStreamTrack):
    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(
            numpy.full((120, 160, 3), (220, 20, 20), dtype=numpy.uint8), format="rgb24"
        )
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneMicrophone(AudioStreamTrack):
    """A 440 Hz tone for 1 s, then 1.5 s of silence, repeated (talk spurts for the audio-level extension)."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        rate = frame.sample_rate
        if (frame.pts / rate) % 2.5 < 1.0:
            n = numpy.arange(frame.pts, frame.pts + frame.samples) / rate
            frame.planes[0].update((8000 * numpy.sin(2 * math.pi * 440 * n)).astype(numpy.int16).tobytes())
        return frame


async def test_a_recorded_defense_becomes_an_archived_lecture(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from media.recording.folder import read_timeline

    monkeypatch.setattr(media_peer, "SmallVideoTrack", RedCamera)
    monkeypatch.setattr(media_peer, "AudioStreamTrack", ToneMicrophone)
    seen: list[Any] = []

    async def keep(event: Any) -> None:
        seen.append(event)

    world.svc.bus.subscribe("recording.ready", keep)
    world.svc.bus.subscribe("asset.*", keep)
    sid = world.defense
    tom = await world.socket("tom", sid)
    await tom.wait_for("welcome")
    sam = await world.socket("sam", sid)
    await sam.wait_for("welcome")
    await world.svc.bus.publish("session.opened", {"session_id": sid, "kind": "defense"})
    await sam.wait_for("recording", lambda d: d["on"] is True)
    await world.give_floor(sid, "sam")  # a student presents only with the floor
    peer = MediaPeer(sam)
    try:
        assert (await peer.join())["ok"]
        assert "person_id" in await tom.call("presenter", {"person_id": world.ids["sam"]})
        assert (await tom.call("chat", {"body": "Please begin"}))["message"]
        folder: list[Path] = []

        def spurts() -> bool:
            roots = list((world.svc.settings.effective_media_root / "recordings" / str(sid)).glob("*"))
            folder[:] = roots[:1]
            return bool(roots) and sum(e["type"] == "silent" for e in read_timeline(roots[0])) >= 2

        await until(spurts, "two talk spurts recorded", 60)
        await world.svc.bus.publish("session.closed", {"session_id": sid})
    finally:
        await peer.close()
    await until(lambda: any(e.topic == "recording.ready" for e in seen), "recording.ready", 30)
    r = await world.request("GET", f"/api/jobs?session={sid}&kind=compose", "tom")
    items = (await r.json())["items"]
    assert len(items) == 1, items
    job = await wait_job(world.svc.jobs.get, items[0]["id"], within=300)
    assert job["status"] == "done", job
    assert [e.topic for e in seen if e.topic.startswith("asset.")] == ["asset.composed", "asset.archived"]

    lecture = Path(job["result"]["folder"]) / "lecture.mp4"
    frames = video_frames(lecture)
    duration = frames[-1][0]
    assert colour_of(frame_at(frames, duration * 0.6)[260:460, 440:840]) == "red"
    samples, rate = audio_samples(lecture)
    peaks = [peak_frequency(samples, rate, t, t + 0.5) for t in numpy.arange(0.0, duration - 0.5, 0.25)]
    assert any(abs(f - 440) < 5 and rms > 0.02 for f, rms in peaks), "the presenter's tone is in the mix"

    def asset_rows() -> list[Asset]:
        with world.svc.db.session() as s:
            return [(a.id, a.kind) for a in s.scalars(select(Asset).where(Asset.session_id == sid))]

    assert asset_rows() == [(job["result"]["asset_id"], "defense")]
    r = await world.request("GET", f"/api/archive/{job['result']['asset_id']}", "tom")
    assert r.status == 200
