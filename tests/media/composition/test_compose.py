"""The composer judged on content: frames, spectrum, A/V offset, and the files' standards (webvtt-py reads chat.vtt)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import webvtt

from media.composition import CompositionError, compose
from media.composition.layout import PIP_H, PIP_MARGIN, PIP_W
from media.transcode.ffmpeg import FFmpeg
from media.transcode.probe import probe
from tests.helpers.composition import (
    AudioTrack,
    VideoTrack,
    audio_samples,
    colour_of,
    frame_at,
    make_recording,
    peak_frequency,
    three_party,
    video_frames,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("compose")
    rec = three_party(root / "rec")
    result = compose(rec, root / "out", ffmpeg=FFmpeg.locate())
    return rec, root, result


def test_outputs_are_what_the_archive_reads(composed) -> None:
    _, _, result = composed
    for name in ("lecture.mp4", "chat.vtt", "poster.jpg", "chapters.json", "composition.json"):
        assert (result.folder / name).is_file(), name
    info = probe(result.folder / "lecture.mp4")
    assert info.video is not None and info.video.codec == "h264" and info.size == (1280, 720)
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.duration == pytest.approx(8.0, abs=0.15)
    assert (result.folder / "poster.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert json.loads((result.folder / "chapters.json").read_text()) == [
        {"start": 0.2, "title": "Ana"}, {"start": 4.0, "title": "Ben"}]  # fmt: skip
    assert result.report["missing"] == []
    assert not [p for p in result.folder.parent.iterdir() if p.name.startswith(".")], "no temporary left"


def test_layout_follows_the_speaker_and_the_screen_share(composed) -> None:
    _, _, result = composed
    frames = video_frames(result.folder / "lecture.mp4")
    centre = (slice(300, 420), slice(560, 720))
    # Ana speaks: her (red) camera fills the frame, though Ben's (green) camera is live from 1 s.
    assert colour_of(frame_at(frames, 2.0)[centre]) == "red"
    # Ben speaks from 4.2 s: his camera fills it.
    assert colour_of(frame_at(frames, 4.6)[centre]) == "green"
    # Ana shares her screen from 5 s: the share (blue) large, the speaker (Ben, green) small bottom-right.
    shot = frame_at(frames, 6.5)
    assert colour_of(shot[centre]) == "blue"
    y0, x0 = 720 - PIP_H - PIP_MARGIN, 1280 - PIP_W - PIP_MARGIN
    assert colour_of(shot[y0 + 40 : y0 + PIP_H - 40, x0 + 60 : x0 + PIP_W - 60]) == "green"
    assert colour_of(shot[40:120, 40:200]) == "blue"  # top-left is the share, not the tile


def test_audio_holds_each_speakers_tone_when_they_spoke(composed) -> None:
    _, _, result = composed
    samples, rate = audio_samples(result.folder / "lecture.mp4")
    f, rms = peak_frequency(samples, rate, 1.0, 3.0)
    assert f == pytest.approx(440, abs=5) and rms > 0.02
    f, rms = peak_frequency(samples, rate, 5.0, 7.5)
    assert f == pytest.approx(1000, abs=5) and rms > 0.02


def test_chat_is_webvtt_an_independent_reader_accepts(composed) -> None:
    _, _, result = composed
    captions = webvtt.read(str(result.folder / "chat.vtt"))
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:02.000", "00:00:06.000"),
        ("00:00:06.000", "00:00:08.000"),
    ]
    assert "hello &lt;all&gt; &amp; welcome" in captions[0].raw_text
    assert captions[0].voice == "Ana" and captions[1].voice == "Ben"


def test_same_inputs_same_folder_and_no_second_encode(composed) -> None:
    rec, root, first = composed
    again = compose(rec, root / "out", ffmpeg=FFmpeg("/nonexistent/ffmpeg"))  # would fail if it ran ffmpeg
    assert again.folder == first.folder and again.reused
    assert [p.name for p in (root / "out").iterdir()] == [first.folder.name]


def test_a_vanished_track_composes_the_rest_and_says_so(composed, tmp_path: Path) -> None:
    rec, _, _ = composed
    copy = tmp_path / "rec"
    shutil.copytree(rec, copy)
    (copy / "tracks" / "vs.webm").unlink()  # the screen share is gone before composition
    cut = copy / "tracks" / "ab.webm"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 3])  # Ben's microphone cut short
    result = compose(copy, tmp_path / "out", ffmpeg=FFmpeg.locate())
    missing = {m["track"]: m for m in result.report["missing"]}
    assert missing["vs"]["reason"] == "file not found"
    assert missing["ab"]["reason"] == "cut short" and missing["ab"]["readable_end"] < 7.0
    frames = video_frames(result.folder / "lecture.mp4")
    assert colour_of(frame_at(frames, 6.5)[300:420, 560:720]) == "green"  # no share: Ben fills the frame
    samples, rate = audio_samples(result.folder / "lecture.mp4")
    assert peak_frequency(samples, rate, 1.0, 3.0)[0] == pytest.approx(440, abs=5)
    assert peak_frequency(samples, rate, 7.0, 7.9)[1] < 0.01  # after the cut: silence filled in, not noise


def test_nothing_usable_is_refused_and_nothing_written(tmp_path: Path) -> None:
    rec = make_recording(tmp_path / "rec", [AudioTrack("aa", "a", "Ana", seconds=1.0)], [])
    (rec / "tracks" / "aa.webm").write_bytes(b"not media at all")
    with pytest.raises(CompositionError, match="nothing to compose.*aa: unreadable"):
        compose(rec, tmp_path / "out", ffmpeg=FFmpeg.locate())
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_not_a_recording_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CompositionError, match="no manifest"):
        compose(tmp_path, tmp_path / "out", ffmpeg=FFmpeg.locate())


def test_flash_and_beep_stay_within_40ms(tmp_path: Path) -> None:
    # The flash is 3.0 s into a video track that starts at 1.0; the beep 2.0 s into an audio track starting at 2.0:
    # both at 4.0 on the session clock, so only the composer's placing can part them.
    rec = make_recording(tmp_path / "rec", [
        VideoTrack("v", "a", "Ana", start=1.0, seconds=6.0, rate=30, flash_at=3.0),
        AudioTrack("a", "a", "Ana", frequency=1000, start=2.0, seconds=5.0, beep_at=2.0),
    ], [{"t": 0.5, "type": "speaking", "participant_id": "a"}])  # fmt: skip
    result = compose(rec, tmp_path / "out", ffmpeg=FFmpeg.locate())
    frames = video_frames(result.folder / "lecture.mp4")
    flash = next(t for t, rgb in frames if rgb[300:420, 560:720].mean() > 128)
    samples, rate = audio_samples(result.folder / "lecture.mp4")
    loud = abs(samples) > 0.1
    beep = float(loud.argmax()) / rate
    assert loud.any() and flash == pytest.approx(4.0, abs=0.05)
    assert abs(beep - flash) <= 0.040, f"flash at {flash:.3f} s, beep at {beep:.3f} s"


def test_a_killed_runs_work_folder_is_swept_later(tmp_path: Path) -> None:
    import os

    from media.composition.compose import sweep_stale

    old = tmp_path / ".abc.1234.part"
    old.mkdir()
    (old / ".lecture.part-x.mp4").write_bytes(b"half")
    fresh = tmp_path / ".def.5678.part"
    fresh.mkdir()
    done = tmp_path / "0123"
    done.mkdir()
    past = 7 * 3600
    for p in (old, old / ".lecture.part-x.mp4", done):
        st = p.stat()
        os.utime(p, (st.st_atime - past, st.st_mtime - past))
    assert sweep_stale(tmp_path) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".def.5678.part", "0123"]


def test_an_h264_camera_in_matroska_composes_like_vp8(tmp_path: Path) -> None:
    # docs/recording-format.md: H.264 video arrives as tracks/<id>.mkv, as received.
    import subprocess

    rec = make_recording(tmp_path / "rec", [AudioTrack("a", "h", "Hana", frequency=700, seconds=4.0)],
                         [{"t": 0.2, "type": "speaking", "participant_id": "h"}])  # fmt: skip
    subprocess.run([FFmpeg.locate().binary, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:s=320x240:r=30:d=4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-f", "matroska", str(rec / "tracks" / "v.mkv")], check=True)  # fmt: skip
    manifest = json.loads((rec / "manifest.json").read_text())
    manifest["tracks"].append({"id": "v", "participant_id": "h", "display_name": "Hana", "kind": "video",
                               "source": "camera", "codec": "h264", "file": "tracks/v.mkv", "start": 0.0, "end": 4.0,
                               "status": "complete"})  # fmt: skip
    (rec / "manifest.json").write_text(json.dumps(manifest))
    result = compose(rec, tmp_path / "out", ffmpeg=FFmpeg.locate())
    assert result.report["missing"] == []
    frames = video_frames(result.folder / "lecture.mp4")
    assert colour_of(frame_at(frames, 2.0)[300:420, 560:720]) == "red"
    samples, rate = audio_samples(result.folder / "lecture.mp4")
    assert peak_frequency(samples, rate, 1.0, 3.0)[0] == pytest.approx(700, abs=5)
