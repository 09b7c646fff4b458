"""Packaging lectures into CBR DVB transport streams, checked by ffprobe, a separate TS walk and ebur128."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import pytest

from media.broadcast.dvb.eit import EitEvent
from media.broadcast.package import Epg, PackageError, encode_args, package
from media.transcode.ffmpeg import FFmpeg, FFmpegCancelled, Progress
from media.transcode.loudness import GENERATED_SILENCE, SILENCE, plan_normalisation
from media.transcode.probe import NotMediaFile, probe
from media.transcode.profiles import SHIPPED_DIR, Profile, load_profile
from media.transcode.service import Service
from tests.helpers.media import ebur128, ffprobe, make_clip, ts_timing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("src") / "lecture.mp4", seconds=3, size="320x240")


def probe_ts(path: Path) -> dict:
    exe = ffprobe()
    if exe is None:
        pytest.skip("ffprobe (Debian ffmpeg) not installed")
    out = subprocess.run(
        [exe, "-v", "error", "-show_programs", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def assert_cbr_dvb(path: Path, profile: Profile) -> None:
    """Constant bitrate at the mux rate, PCR <= 40 ms, PAT/PMT <= 100 ms, SDT and NIT, no CC errors."""
    t = profile.transport
    timing = ts_timing(path, pcr_pid=t.video_pid, pmt_pid=t.pmt_pid)
    assert timing.cc_errors == 0
    assert timing.max_pcr_interval_ms <= 40
    assert timing.max_pat_interval_ms <= 100 and timing.max_pmt_interval_ms <= 100
    assert 0x10 in timing.pids and 0x11 in timing.pids, "NIT and SDT must be present"
    assert timing.pids.get(0x1FFF, 0) > 0, "CBR needs null-packet stuffing"
    assert set(timing.pids) >= {0x0000, t.pmt_pid, t.video_pid, t.audio_pid}
    # Between any two PCRs the stream runs at the mux rate; every whole second carries it to one packet.
    assert min(timing.pcr_bitrates) == pytest.approx(t.mux_rate, rel=1e-3)
    assert max(timing.pcr_bitrates) == pytest.approx(t.mux_rate, rel=1e-3)
    assert timing.bitrate_per_second
    for bps in timing.bitrate_per_second:
        assert abs(bps - t.mux_rate) <= 188 * 8
    try:
        from media.broadcast.analyzer import analyze
    except ImportError:  # the analyser lands separately
        return
    report = analyze(path)
    assert report.ok, [f.code for f in report.errors]
    assert report.bitrate is not None and report.bitrate.spread <= 188 * 8


def assert_loudness_r128(path: Path) -> tuple[float, float]:
    integrated, peak = ebur128(path)  # a separate measurement, by Debian's ffmpeg when installed
    assert integrated == pytest.approx(-23.0, abs=0.5)
    assert peak <= -1.0
    return integrated, peak


def stream_starts(path: Path) -> dict[str, float]:
    exe = ffprobe()
    if exe is None:
        pytest.skip("ffprobe (Debian ffmpeg) not installed")
    out = subprocess.run([exe, "-v", "error", "-show_entries", "stream=codec_type,start_time", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: float(s["start_time"]) for s in json.loads(out)["streams"]}


def test_hd_720p25_lecture(tmp_path: Path, lecture: Path) -> None:
    profile = load_profile("hd-720p25").for_service(Service("Aulacast Lectures", "Aulacast", 103, 0xFF10, 1))
    out = tmp_path / "lecture.ts"
    reports: list[Progress] = []
    report = package(lecture, out, profile, progress=reports.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lecture.ts"]

    info = probe_ts(out)
    program = info["programs"][0]
    assert program["program_id"] == 103
    assert program["pmt_pid"] == profile.transport.pmt_pid and program["pcr_pid"] == profile.transport.video_pid
    assert program["tags"]["service_name"] == "Aulacast Lectures"
    assert program["tags"]["service_provider"] == "Aulacast"
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert int(streams["video"]["id"], 16) == profile.transport.video_pid
    assert int(streams["audio"]["id"], 16) == profile.transport.audio_pid
    assert streams["video"]["codec_name"] == "h264" and streams["video"]["profile"] == "High"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["video"]["r_frame_rate"] == "25/1"
    assert streams["audio"]["codec_name"] in ("aac_latm", "aac")
    assert streams["audio"]["sample_rate"] == "48000" and streams["audio"]["channels"] == 2

    assert_cbr_dvb(out, profile)
    integrated, peak = assert_loudness_r128(out)
    # The recorded second measurement is the delivered sound's (the copy pass carries its frames unchanged).
    assert report.loudness.after.integrated == pytest.approx(integrated, abs=0.1)
    assert report.loudness.after.true_peak == pytest.approx(peak, abs=0.2)
    assert report.loudness.normalization_type == "linear" and report.loudness.target_met
    assert report.loudness.before.integrated < -27 and report.loudness.after.integrated == pytest.approx(-23, abs=0.5)
    assert report.duration == pytest.approx(3.0, abs=0.1)
    # The file runs at the mux rate for the programme (the muxer's last PES may trail it by a few frames).
    assert report.size_bytes * 8 / profile.transport.mux_rate == pytest.approx(report.duration, abs=0.1)
    assert {p.stage for p in reports} >= {"measure", "encode", "verify"}


def test_sd_576i25_mpeg2_interlaced_with_operator_4_3_aspect(tmp_path: Path, lecture: Path) -> None:
    ops = tmp_path / "profiles"
    ops.mkdir()
    text = (SHIPPED_DIR / "sd-576i25.toml").read_text().replace('aspect = "16:9"', 'aspect = "4:3"')
    (ops / "sd-576i25.toml").write_text(text)
    profile = load_profile("sd-576i25", extra_dirs=[ops]).for_service(Service("Campus SD", "Uni", 201, 0xFF10, 2))
    out = tmp_path / "sd.ts"
    package(lecture, out, profile)
    info = probe_ts(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["profile"], video["width"], video["height"]) == ("mpeg2video", "Main", 720, 576)
    assert video["field_order"] == "tt"
    assert video["display_aspect_ratio"] == "4:3" and video["sample_aspect_ratio"] == "16:15"
    assert audio["codec_name"] == "mp2"
    assert info["programs"][0]["tags"]["service_name"] == "Campus SD"
    assert_cbr_dvb(out, profile)
    assert_loudness_r128(out)


def test_hd_1080i25_is_interlaced_top_field_first(tmp_path: Path) -> None:
    # a 50p source keeps its motion: two frames woven into the two fields of each 1080i frame
    source = make_clip(tmp_path / "short.mp4", seconds=1, size="320x240", rate=50)
    profile = load_profile("hd-1080i25")
    out = tmp_path / "hd.ts"
    package(source, out, profile)
    info = probe_ts(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"], video["field_order"]) == ("h264", 1920, 1080, "tt")
    assert video["r_frame_rate"] == "25/1"
    assert next(s for s in info["streams"] if s["codec_type"] == "audio")["codec_name"] == "ac3"
    assert_cbr_dvb(out, profile)


def test_clip_without_audio_gets_generated_silence(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "mute.mp4", seconds=2, size="320x240", audio=None)
    out = tmp_path / "mute.ts"
    report = package(source, out, load_profile("hd-720p25"))
    assert report.loudness.flags == (GENERATED_SILENCE,)
    assert report.loudness.after.silent
    info = probe(out)
    assert info.has_audio and info.audio is not None and info.audio.sample_rate == 48000


def test_non_media_input_is_refused_and_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "slides.txt"
    bad.write_text("Lecture 3: eigenvalues\n" * 50)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(NotMediaFile, match=r"slides.txt is not a media file"):
        package(bad, out_dir / "x.ts", load_profile("hd-720p25"))
    assert list(out_dir.iterdir()) == []


def test_sound_only_input_is_refused(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "talk.mkv", seconds=1, video=False)
    with pytest.raises(PackageError, match="has no video stream"):
        package(source, tmp_path / "x.ts", load_profile("hd-720p25"))


def test_picture_and_sound_line_up_as_in_one_pass(tmp_path: Path, lecture: Path) -> None:
    """The separate picture and sound passes are muxed with the offsets one combined pass would give."""
    profile = load_profile("hd-720p25")
    out = tmp_path / "split.ts"
    package(lecture, out, profile)
    info = probe(lecture)
    plan = plan_normalisation(SILENCE, profile.loudness)
    one_pass = tmp_path / "one.ts"
    FFmpeg.locate().run(encode_args(profile, info, replace(plan, audio_filter="aresample=48000")), output=one_pass)
    split, single = stream_starts(out), stream_starts(one_pass)
    assert split["audio"] - split["video"] == pytest.approx(single["audio"] - single["video"], abs=0.001)


@pytest.mark.parametrize("how", ["cancel", "interrupt", "interrupt-sound"])
def test_interruption_leaves_no_half_written_output(tmp_path: Path, how: str) -> None:
    source = make_clip(tmp_path / "long.mp4", seconds=8, size="160x120")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "old.ts").write_bytes(b"x")
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if how == "interrupt-sound" and p.stage == "measure":  # fails the sound branch beside the encode
            raise KeyboardInterrupt
        if p.stage == "encode" and p.out_time > 0.5:
            if how == "cancel":
                cancel.set()
            else:
                raise KeyboardInterrupt

    expected = FFmpegCancelled if how == "cancel" else KeyboardInterrupt
    with pytest.raises(expected):
        package(source, out_dir / "lecture.ts", load_profile("hd-1080i25"), progress=on_progress, cancel=cancel,
                hls_dir=out_dir / "hls")
    assert sorted(p.name for p in out_dir.iterdir()) == ["old.ts"]


def test_hls_for_the_web_is_cut_from_the_result(tmp_path: Path, lecture: Path) -> None:
    hls = tmp_path / "web"
    hls.mkdir()
    (hls / "stale.ts").write_bytes(b"old")
    out = tmp_path / "lecture.ts"
    report = package(lecture, out, load_profile("hd-720p25"), hls_dir=hls, hls_segment_seconds=1)
    names = sorted(p.name for p in hls.iterdir())
    assert "index.m3u8" in names and "stale.ts" not in names
    segments = [n for n in names if n.endswith(".ts")]
    assert len(segments) >= 2
    playlist = (hls / "index.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist and all(s in playlist for s in segments)
    assert probe(hls / "index.m3u8").duration == pytest.approx(report.duration, abs=0.3)
    assert report.hls_dir == hls
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_epg_is_injected_into_null_packets(tmp_path: Path, lecture: Path) -> None:
    start = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    events = [
        EitEvent.simple(start - timedelta(minutes=1), timedelta(seconds=62), "Algebra 1", "Groups", language="eng"),
        EitEvent.simple(start + timedelta(seconds=2), timedelta(minutes=50), "Algebra 2", "Rings", language="eng"),
    ]
    profile = load_profile("hd-720p25")
    out = tmp_path / "epg.ts"
    epg = Epg(start, events)
    encoded_sizes: list[int] = []

    def injector(src: BinaryIO, dst: Path, p: Profile) -> object:
        report = epg(src, dst, p)  # reads the stream while the copy pass is still writing it
        encoded_sizes.append(report.packets * 188)
        return report

    report = package(lecture, out, profile, epg=injector)
    assert report.epg_injected and report.epg_report is not None
    assert report.epg_report["violations"] == []
    assert report.epg_report["sections"]["eit_pf"] >= 2
    assert encoded_sizes == [out.stat().st_size]  # nulls replaced one for one
    plain = tmp_path / "plain.ts"
    package(lecture, plain, profile)
    assert plain.stat().st_size == out.stat().st_size  # the whole stream went through, not a prefix
    timing = ts_timing(out, pcr_pid=profile.transport.video_pid, pmt_pid=profile.transport.pmt_pid)
    assert timing.pids.get(0x12, 0) > 0 and timing.pids.get(0x14, 0) > 0  # EIT and TDT/TOT
    assert_cbr_dvb(out, profile)


def test_start_and_length_cut_the_programme_in_the_same_pass(tmp_path: Path, lecture: Path) -> None:
    out = tmp_path / "cut.ts"
    report = package(lecture, out, load_profile("sd-576i25"), start=1.0, length=1.5)
    assert report.duration == pytest.approx(1.5)
    assert probe(out).duration == pytest.approx(1.5, abs=0.15)
    assert report.loudness.target_met
    with pytest.raises(PackageError, match="no programme to package after 5.000 s"):
        package(lecture, tmp_path / "none.ts", load_profile("sd-576i25"), start=5.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ts"]
