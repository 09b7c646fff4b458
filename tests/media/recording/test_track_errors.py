"""A track whose data cannot be written stops alone; the recording and its other tracks go on."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy

from media.recording.folder import read_manifest, read_timeline
from media.recording.recorder import open_sink
from media.recording.track import h264_size
from tests.helpers.recording import decode_track


@dataclass
class FakeTrack:
    key: str
    track_id: str
    publisher_id: str
    kind: str
    source: str
    codec: str
    clock_rate: int


def _opus_packets(count: int) -> list[bytes]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    out = []
    for i in range(count):
        frame = av.AudioFrame.from_ndarray(numpy.zeros((1, 1920), numpy.int16), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, fractions.Fraction(1, 48000)
        out += [bytes(p) for p in enc.encode(frame)]
    return out


def test_an_unwritable_track_is_interrupted_alone(tmp_path: Path) -> None:
    stopped: list[str] = []
    recorder = open_sink("room", "r1", {"folder": str(tmp_path / "r1")}, stopped.append)
    keyframes: list[int] = []
    bad = FakeTrack("v#1", "7:camera", "7", "video", "camera", "h264", 90000)
    good = FakeTrack("a#2", "7:microphone", "7", "audio", "microphone", "opus", 48000)
    recorder.track_started(bad, lambda: keyframes.append(1))
    recorder.track_started(good, lambda: None)
    now = time.time()
    # an IDR slice with no SPS: the Matroska header cannot be written (no picture size)
    recorder.frame("v#1", b"\x00\x00\x00\x01\x65\x88\x84\x00\x33", 1000, True, now)
    for i, packet in enumerate(_opus_packets(100)):
        recorder.frame("a#2", packet, 5000 + i * 960, True, now + i * 0.02)
    recorder.frame("v#1", b"\x00\x00\x00\x01\x65\x88\x84\x00\x34", 4000, True, now + 0.1)  # ignored now

    summary = asyncio.run(recorder.close("stopped"))
    assert stopped == [] and summary["status"] == "complete"
    assert keyframes == [1]  # asked for a keyframe when the video track started
    manifest = read_manifest(tmp_path / "r1")
    by_kind = {t.kind: t for t in manifest.tracks}
    assert by_kind["audio"].status == "complete"
    assert decode_track(tmp_path / "r1" / by_kind["audio"].file).frames >= 90
    assert "video" not in by_kind or by_kind["video"].status == "interrupted"
    unpublished = [e for e in read_timeline(tmp_path / "r1") if e["type"] == "unpublish"]
    assert len(unpublished) == len(manifest.tracks)  # one each, never twice


def test_h264_picture_size_is_read_from_the_sps() -> None:
    for width, height in ((160, 120), (642, 362)):
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.time_base = fractions.Fraction(1, 90000)
        enc.options = {"preset": "ultrafast", "profile": "high"}
        frame = av.VideoFrame.from_ndarray(numpy.zeros((height, width, 3), numpy.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = 0
        packets = [bytes(p) for p in enc.encode(frame)] + [bytes(p) for p in enc.encode(None)]
        assert h264_size(packets[0]) == (width, height)
    assert h264_size(b"\x00\x00\x00\x01\x65\x88") is None
