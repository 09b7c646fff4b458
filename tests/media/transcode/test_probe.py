"""Probing real files with PyAV: what a clip holds, and a clear refusal for what is not media."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from media.errors import MediaError
from media.transcode.probe import NotMediaFile, probe
from tests.helpers.media import make_clip


def test_clip_with_picture_and_sound(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "lecture.mp4", seconds=2, size="320x240", rate=25)
    info = probe(clip)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert info.has_video and info.has_audio
    assert info.size == (320, 240)
    assert info.frame_rate == 25
    assert info.video is not None and info.video.codec == "h264"
    assert info.video.frame_rate == Fraction(25)
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.audio.sample_rate == 44100 and info.audio.channels == 1
    assert "mp4" in info.format


def test_clip_without_sound(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "silent.mkv", audio=None, seconds=1))
    assert info.has_video and not info.has_audio
    assert info.audio is None
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_sound_only(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "talk.mkv", video=False, seconds=1))
    assert info.has_audio and not info.has_video
    assert info.size is None and info.frame_rate is None


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 20, bytes(range(256)) * 40])
def test_non_media_input_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "slides.pdf"
    bad.write_bytes(content)
    with pytest.raises(NotMediaFile) as caught:
        probe(bad)
    assert str(caught.value).startswith(f"{bad} is not a media file")
    assert isinstance(caught.value, MediaError)


def test_text_and_still_images_are_not_lectures(tmp_path: Path) -> None:
    # ffmpeg opens any .txt as ANSI art (the tty demuxer) and a picture as a one-frame video
    notes = tmp_path / "notes.txt"
    notes.write_text("Lecture 3: eigenvalues\n" * 50)
    with pytest.raises(NotMediaFile, match="notes.txt is not a media file: it looks like text"):
        probe(notes)
    picture = tmp_path / "slide.png"
    make_clip(tmp_path / "one.mkv", seconds=0.2, audio=None)
    from media.transcode.ffmpeg import FFmpeg

    FFmpeg.locate().run(["-i", str(tmp_path / "one.mkv"), "-frames:v", "1"], output=picture)
    with pytest.raises(NotMediaFile, match="slide.png is not a media file: it is a still image"):
        probe(picture)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(NotMediaFile, match="does not exist"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(NotMediaFile, match="is a directory"):
        probe(tmp_path)
