"""Intake checks of media handed in from outside: whole, not truncated, within limits; then normalised."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from media.transcode.ffmpeg import FFmpeg
from media.transcode.intake import IntakeLimits, OverLimit, TruncatedMedia, inspect, normalise, read_chapters
from media.transcode.probe import NotMediaFile

pytestmark = pytest.mark.slow
LIMITS = IntakeLimits(max_seconds=60, max_height=1080)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("intake")
    src = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=f=440", "-t", "6"]
    out = {"mp4": d / "a.mp4", "webm": d / "a.webm", "mkv": d / "a.mkv", "tall": d / "tall.mp4", "audio": d / "a.m4a"}
    _ffmpeg(*src, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-movflags", "+faststart", str(out["mp4"]))  # fmt: skip
    _ffmpeg(*src, "-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus", str(out["webm"]))
    _ffmpeg(*src, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out["mkv"]))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x1200:rate=5", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", str(out["tall"]))  # fmt: skip
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440", "-t", "2", "-c:a", "aac", str(out["audio"]))
    data = out["webm"].read_bytes()
    (d / "cut.webm").write_bytes(data[: len(data) // 3])
    out["cut_webm"] = d / "cut.webm"
    data = out["mp4"].read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    out["cut_mp4"] = d / "cut.mp4"
    (d / "slides.mp4").write_bytes(b"%PDF-1.7\n" + b"x" * 5000)
    out["pdf_named_mp4"] = d / "slides.mp4"
    return out


def test_whole_files_pass(files: dict[str, Path]) -> None:
    for name in ("mp4", "webm", "mkv"):
        info = inspect(files[name], LIMITS)
        assert info.duration == pytest.approx(6.0, abs=0.1) and info.size == (640, 360), name


@pytest.mark.parametrize(("name", "error", "words"), [
    ("cut_webm", TruncatedMedia, "truncated"),
    ("cut_mp4", TruncatedMedia, "truncated"),
    ("pdf_named_mp4", NotMediaFile, "not a media file"),
    ("audio", NotMediaFile, "no picture"),
    ("tall", OverLimit, "1080 lines"),
])  # fmt: skip
def test_refusals_say_what_is_wrong(files: dict[str, Path], name: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        inspect(files[name], LIMITS)


def test_too_long_is_refused(files: dict[str, Path]) -> None:
    with pytest.raises(OverLimit, match=r"lasts 0:00:06; at most 0:00:05"):
        inspect(files["mp4"], IntakeLimits(max_seconds=5, max_height=1080))


def test_normalise_remuxes_h264_and_encodes_the_rest(files: dict[str, Path], tmp_path: Path) -> None:
    ff = FFmpeg.locate()
    mkv = inspect(files["mkv"], LIMITS)
    assert normalise(ff, files["mkv"], tmp_path / "mkv.mp4", mkv, max_height=720) is False  # a remux
    webm = inspect(files["webm"], LIMITS)
    assert normalise(ff, files["webm"], tmp_path / "webm.mp4", webm, max_height=240) is True  # an encode, scaled
    with av.open(str(tmp_path / "webm.mp4")) as c:
        v = c.streams.video[0].codec_context
        assert (c.format.name.startswith("mov"), v.name, v.height, c.streams.audio[0].codec_context.name) == (
            True, "h264", 240, "aac")
    again = inspect(tmp_path / "webm.mp4", LIMITS)
    assert again.duration == pytest.approx(6.0, abs=0.15)


def test_chapters_are_read(tmp_path: Path, files: dict[str, Path]) -> None:
    meta = tmp_path / "m.txt"
    meta.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=2500\ntitle=One\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=2500\nEND=6000\n")  # fmt: skip
    out = tmp_path / "ch.mp4"
    _ffmpeg("-i", str(files["mp4"]), "-i", str(meta), "-map", "0", "-map_chapters", "1", "-c", "copy", str(out))
    assert read_chapters(out) == [(0.0, "One"), (2.5, "Chapter 2")]
    assert read_chapters(files["mp4"]) == []
