"""HLS by remux: the rendition's pictures and sound are the source's packets byte for byte (nothing re-encoded)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import av
import pytest

from media.transcode.ffmpeg import FFmpeg
from media.transcode.hls import HlsError, cut_hls

pytestmark = pytest.mark.slow


def _make(path: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", "9",
                    *args, str(path)], check=True)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make(tmp_path_factory.mktemp("hls") / "lecture.mp4", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "aac", "-b:a", "64k")  # fmt: skip


def _packets(url: str, kind: str) -> list[tuple[int, str]]:
    with av.open(url) as c:
        stream = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        return [(p.size, hashlib.sha256(bytes(p)).hexdigest()) for p in c.demux(stream) if p.size]


def test_segments_carry_the_source_packets_unchanged(lecture: Path, tmp_path: Path) -> None:
    rendition = cut_hls(FFmpeg.locate(), lecture, tmp_path / "hls", segment_seconds=2)
    text = (rendition.directory / "index.m3u8").read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and '#EXT-X-MAP:URI="init.mp4"' in text and "#EXT-X-ENDLIST" in text
    # Keyframes every 2 s: the segments are cut there, so there are about 9 / 2 of them.
    assert 4 <= len(rendition.files) - 2 <= 6
    assert rendition.duration == pytest.approx(9.0, abs=0.1)
    # ffmpeg's HLS demuxer reads the playlist like a player: the same packets, the same bytes.
    playlist = str(rendition.directory / "index.m3u8")
    for kind in ("video", "audio"):
        assert _packets(playlist, kind) == _packets(str(lecture), kind), f"{kind} packets differ: re-encoded?"


def test_a_rendition_is_written_whole_or_not_at_all(lecture: Path, tmp_path: Path) -> None:
    out = tmp_path / "hls"
    cut_hls(FFmpeg.locate(), lecture, out)
    with pytest.raises(HlsError, match="exists already"):
        cut_hls(FFmpeg.locate(), lecture, out)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(lecture.read_bytes()[:4000])
    with pytest.raises(Exception):  # noqa: B017 - probe or ffmpeg refuses it; what matters is what is left
        cut_hls(FFmpeg.locate(), broken, tmp_path / "hls2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "hls"]


def test_codecs_that_need_re_encoding_are_refused(tmp_path: Path) -> None:
    src = _make(tmp_path / "old.avi", "-c:v", "mpeg4", "-c:a", "mp3")
    with pytest.raises(HlsError, match="without re-encoding"):
        cut_hls(FFmpeg.locate(), src, tmp_path / "hls")
