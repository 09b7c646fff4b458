"""A real aiortc publisher in an SFU room, recorded through the media server's egress: files decoded with PyAV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from media.live.fanout import RoomKind
from media.live.server import LocalMediaServer
from media.live.types import MediaConfig, MediaGrant, RoomMediaError
from media.recording.folder import read_manifest, read_timeline
from media.recording.recorder import open_sink
from tests.helpers.recording import decode_track
from tests.helpers.sfu import Client, loopback_ice, until, wire

__all__ = ["loopback_ice"]

pytestmark = pytest.mark.usefixtures("loopback_ice")

TUTOR = MediaGrant(can_publish_camera=True, can_publish_microphone=True, can_publish_screen=True)


async def _server() -> LocalMediaServer:
    media = LocalMediaServer(MediaConfig(consent_failures=60), egress=open_sink)
    await media.open_room("session-7", RoomKind.CONSULTATION)
    return media


def _published(media: LocalMediaServer, track_id: str) -> Any:
    room = media.room("session-7")
    return next(t for p in room.participants.values() for t in p.published.values() if t.track_id == track_id)


async def test_video_and_audio_are_written_as_received_and_decode(tmp_path: Path) -> None:
    media = await _server()
    tutor = Client(media, "session-7", "11", TUTOR)
    viewer = Client(media, "session-7", "12", MediaGrant(), publish=())
    wire(media, [tutor, viewer])
    folder = tmp_path / "recordings" / "7" / "r1"
    try:
        await tutor.join()
        await viewer.join()
        await until(lambda: viewer.frames("11:camera") >= 15, "the viewer receives the camera")
        # recording starts mid-stream: the file must still begin at a keyframe (the recorder asks for one)
        camera = _published(media, "11:camera")
        plis_before = camera.plis_sent
        await media.start_egress("session-7", "r1", {"folder": str(folder), "session_id": "7",
                                                     "names": {"11": "Dr Seitkali"}})  # fmt: skip
        frames_at_start = camera.frames
        await until(lambda: camera.frames - frames_at_start >= 90, "about 3 s of camera recorded", limit=90)
        summary = await media.stop_egress("session-7", "r1")
        recorded_span = camera.frames - frames_at_start
        assert summary["status"] == "complete"
        assert camera.plis_sent > plis_before  # the publisher was asked for a keyframe
        assert camera.tap.decoder_tasks == 0  # nothing was decoded on the server
        manifest = read_manifest(folder)
        assert manifest.status == "complete" and manifest.ended_at is not None
        by_kind = {t.kind: t for t in manifest.tracks}
        video, audio = by_kind["video"], by_kind["audio"]
        assert (video.codec, video.source, video.file) == ("vp8", "camera", f"tracks/{video.id}.webm")
        assert (audio.codec, audio.source, audio.file) == ("opus", "microphone", f"tracks/{audio.id}.webm")
        assert video.participant_id == "11" and video.display_name == "Dr Seitkali"
        assert (video.width, video.height) == (160, 120)
        assert all(t.status == "complete" and t.end is not None and t.end > t.start for t in manifest.tracks)
        v = decode_track(folder / video.file)
        a = decode_track(folder / audio.file)
        assert v.codec == "vp8" and (v.width, v.height) == (160, 120)
        assert v.keyframe_first and v.errors == 0
        # every frame from the first keyframe on was written: at most the wait for that keyframe is missing
        assert recorded_span - 30 <= v.frames <= recorded_span + 5
        assert a.codec == "opus" and a.errors == 0 and a.frames >= 100  # 20 ms frames
        assert abs(v.last_time - (video.end - video.start)) < 0.1
        assert v.last_time > 2.0 and a.last_time > 2.0
        events = read_timeline(folder)
        kinds = [(e["type"], e.get("track_id")) for e in events]
        assert ("publish", video.id) in kinds and ("publish", audio.id) in kinds
        assert ("unpublish", video.id) in kinds and ("unpublish", audio.id) in kinds
        # the room went on: the viewer still gets frames after the recording stopped
        seen = viewer.frames("11:camera")
        await until(lambda: viewer.frames("11:camera") > seen + 10, "the room goes on")
    finally:
        for client in (tutor, viewer):
            await client.close()
        await media.close()


async def test_a_publisher_who_leaves_ends_their_tracks_and_a_rejoin_is_a_new_track(tmp_path: Path) -> None:
    media = await _server()
    first = Client(media, "session-7", "11", TUTOR)
    wire(media, [first])
    folder = tmp_path / "r2"
    again: Client | None = None
    try:
        await media.start_egress("session-7", "r2", {"folder": str(folder)})
        await first.join()
        camera = _published(media, "11:camera")
        await until(lambda: camera.frames >= 45, "camera frames")
        await media.leave("session-7", "11")
        await first.close()
        manifest = read_manifest(folder)
        assert [t.status for t in manifest.tracks] == ["complete", "complete"]
        again = Client(media, "session-7", "11", TUTOR)
        wire(media, [again])
        await again.join()
        camera2 = _published(media, "11:camera")
        await until(lambda: camera2.frames >= 45, "camera frames after the rejoin")
        await media.stop_egress("session-7", "r2")
        manifest = read_manifest(folder)
        assert len(manifest.tracks) == 4 and len({t.file for t in manifest.tracks}) == 4
        assert manifest.session_id == "session-7"  # no session id given: the room's
        for track in manifest.tracks:
            decoded = decode_track(folder / track.file)
            assert decoded.frames > 10 and decoded.errors == 0
        leaves = [e for e in read_timeline(folder) if e["type"] == "unpublish"]
        assert len(leaves) == 4
    finally:
        if again is not None:
            await again.close()
        await media.close()


async def test_egress_requests_that_cannot_work_are_refused_plainly(tmp_path: Path) -> None:
    media = await _server()
    bare = LocalMediaServer(MediaConfig())
    try:
        with pytest.raises(RoomMediaError, match="not open") as closed:
            await media.start_egress("session-9", "r1", {"folder": str(tmp_path / "x")})
        assert closed.value.code == "room_not_open"
        with pytest.raises(RoomMediaError, match="no egress") as unknown:
            await media.stop_egress("session-7", "nope")
        assert unknown.value.code == "egress_not_found"
        await media.start_egress("session-7", "r1", {"folder": str(tmp_path / "r1")})
        with pytest.raises(RoomMediaError, match="already runs") as twice:
            await media.start_egress("session-7", "r1", {"folder": str(tmp_path / "r1")})
        assert twice.value.code == "egress_exists"
        await bare.open_room("s", RoomKind.CONSULTATION)
        with pytest.raises(RoomMediaError, match="no recorder") as none:
            await bare.start_egress("s", "r1", {"folder": str(tmp_path / "r3")})
        assert none.value.code == "egress_unavailable"
    finally:
        await media.close()
        await bare.close()


async def test_h264_is_written_as_received_into_matroska(tmp_path: Path) -> None:
    media = await _server()
    tutor = Client(media, "session-7", "11", TUTOR, publish=("camera",), video_codec="video/H264")
    wire(media, [tutor])
    folder = tmp_path / "h264"
    try:
        await media.start_egress("session-7", "r1", {"folder": str(folder)})
        await tutor.join()
        camera = _published(media, "11:camera")
        await until(lambda: camera.frames >= 60, "H.264 camera frames", 90)
        await media.stop_egress("session-7", "r1")
        manifest = read_manifest(folder)
        (video,) = manifest.tracks
        assert (video.codec, video.file) == ("h264", f"tracks/{video.id}.mkv")
        decoded = decode_track(folder / video.file)
        assert decoded.codec == "h264" and decoded.keyframe_first and decoded.errors == 0
        assert (decoded.width, decoded.height) == (160, 120) and decoded.frames > 20
    finally:
        await tutor.close()
        await media.close()


async def test_a_screen_share_is_its_own_track_with_on_and_off_on_the_timeline(tmp_path: Path) -> None:
    media = await _server()
    tutor = Client(media, "session-7", "11", TUTOR, publish=("camera", "screen"))
    wire(media, [tutor])
    folder = tmp_path / "screen"
    try:
        await media.start_egress("session-7", "r1", {"folder": str(folder)})
        await tutor.join()
        screen = _published(media, "11:screen")
        await until(lambda: screen.frames >= 45, "screen frames")
        await media.stop_egress("session-7", "r1")
        manifest = read_manifest(folder)
        shared = next(t for t in manifest.tracks if t.source == "screen")
        assert shared.kind == "video" and decode_track(folder / shared.file).frames > 10
        shares = [(e["on"], e["track_id"]) for e in read_timeline(folder) if e["type"] == "screenshare"]
        assert shares == [(True, shared.id), (False, shared.id)]
    finally:
        await tutor.close()
        await media.close()
