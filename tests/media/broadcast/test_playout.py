"""Playout of a short day: one continuous CBR TS whose in-band EPG equals the XMLTV export.

A 40-second "day" (the day length is configurable for tests) of 4-6 s clips in a
tiny test-only profile: lectures at fixed times, ident, cut loop fillers and
generated clocks between them. Checked by our own TR 101 290 analyser, by
ffmpeg decoding the whole stream, and by GStreamer's DVB SI parser (Debian's
python3-gi) when it is installed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from media.broadcast.analyzer import analyze
from media.broadcast.package import package
from media.broadcast.playout import PCR_HZ, TS, PlayoutError, PlayoutItem, TsClip, assemble_day, packaged_for
from media.transcode.profiles import load_profile, load_profile_file
from media.transcode.service import Service
from orchestrator.cli import main
from schedules.tv.day import load_day
from schedules.tv.playlist import read_as_run
from schedules.tv.xmltv import read_xmltv
from tests.helpers.media import make_clip
from tests.helpers.support import TEST_DATA, TINY_PROFILE

pytestmark = pytest.mark.slow


DAY = date(2026, 11, 26)
SERVICE_NAME = "Аулакаст Сынақ"


@pytest.fixture(scope="module")
def channel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("channel")
    (d / "profiles").mkdir()
    (d / "profiles" / "tiny-180p25.toml").write_text(TINY_PROFILE)
    make_clip(d / "math-1.mp4", seconds=5, size="320x240")
    make_clip(d / "math-2.mp4", seconds=4.5, size="320x240")
    make_clip(d / "ident.mp4", seconds=2, size="320x200")
    make_clip(d / "loop.mp4", seconds=6, size="160x120")
    channel = {
        "channel": {"id": "test.aulacast.kz", "name": "Test", "tz": "Asia/Almaty", "country": "KAZ",
                    "display_names": {"kk": "Сынақ", "ru": "Тест", "en": "Test"},
                    "slots": ["00:00:08", "00:00:22"],
                    # the channel's own service: none of it is in the profile (a Cyrillic name goes out as UTF-8)
                    "service": {"id": 7, "name": SERVICE_NAME, "provider": "Университет",
                                "original_network_id": 0xFF22, "transport_stream_id": 5}},
        "series": [{
            "id": "math", "title": {"kk": "Математика", "ru": "Математика", "en": "Mathematics"}, "season": 1,
            "episodes": [
                {"number": 1, "title": {"ru": "Пределы", "en": "Limits"}, "media": "math-1.mp4", "duration": 5,
                 "date": DAY.isoformat()},
                {"number": 2, "title": {"ru": "Ряды", "en": "Series"}, "media": "math-2.mp4", "duration": 4.5,
                 "date": DAY.isoformat()},
            ],
        }],
        "fillers": {"idents": [{"source": "ident.mp4", "duration": 2}],
                    "loops": [{"source": "loop.mp4", "duration": 6}],
                    "clock": {"min": 1, "max": 3}},
        "repeats": [{"series": "math", "at": "00:00:32", "episode": 1}],
    }
    (d / "channel.yaml").write_text(yaml.safe_dump(channel, allow_unicode=True), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def played(channel_dir: Path) -> Path:
    d = channel_dir
    assert main(["tv", "schedule", "build", "--channel", str(d / "channel.yaml"), "--date", DAY.isoformat(),
                 "--length", "40", "-o", str(d / "day.json")]) == 0
    assert main(["tv", "schedule", "export", str(d / "day.json"), "--xmltv", str(d / "guide.xml")]) == 0
    assert main(["tv", "playout", str(d / "day.json"), "-o", str(d / "day.ts"), "--profile", "tiny-180p25",
                 "--profiles-dir", str(d / "profiles"), "--cache", str(d / "cache"), "--as-run", str(d / "asrun.jsonl"),
                 "--hls", str(d / "hls")]) == 0
    with redirect_stdout(io.StringIO()) as out:  # the same day again, from the cache, for its JSON report
        assert main(["tv", "playout", str(d / "day.json"), "-o", str(d / "again.ts"), "--profile", "tiny-180p25",
                     "--profiles-dir", str(d / "profiles"), "--cache", str(d / "cache"), "--no-epg", "--json"]) == 0
    (d / "report.json").write_text(out.getvalue())
    return d


def test_day_is_one_clean_cbr_stream(played: Path) -> None:
    report = analyze(played / "day.ts")
    assert report.ok, [f.as_dict() for f in report.errors]
    assert not report.warnings, [f.as_dict() for f in report.warnings]  # incl. 25 ms between SI sections
    assert report.bitrate is not None and report.bitrate.spread < 1  # constant to the bit, every second
    assert abs(report.bitrate.mean - 600_000) < 1
    assert abs(report.duration_s - 40) < 0.05
    pids = {p.pid: p for p in report.pids}
    assert pids[0x0101].pcr_max_interval_ms <= 40 and all(p.cc_errors == 0 for p in report.pids)
    names = {t.name.split(" 0x")[0] for t in report.tables}
    assert {"PAT", "PMT", "SDT actual", "NIT actual", "EIT p/f actual", "TDT", "TOT"} <= names
    # ffmpeg decodes every frame without complaint
    from media.transcode.ffmpeg import FFmpeg

    res = subprocess.run([FFmpeg.locate().binary, "-v", "error", "-i", str(played / "day.ts"), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr[-2000:]


def test_pcr_and_cc_continuous_across_every_boundary(played: Path) -> None:
    day = load_day(played / "day.json")
    clip = TsClip.load(played / "day.ts")
    rate = 600_000
    # PCR exactly linear in packet position over the whole day: no jump at any clip boundary
    ticks = (clip.pcr_values - clip.pcr_values[0]) % ((1 << 33) * 300)
    expected = ((clip.pcr_rows - clip.pcr_rows[0]) * TS * 8 * PCR_HZ) // rate
    assert np.max(np.abs(ticks - expected)) <= 1
    gaps_ms = np.diff(clip.pcr_rows) * TS * 8 * 1000 / rate
    assert gaps_ms.max() <= 30
    # continuity counters: every PID, every packet
    for pid in set(clip.pid.tolist()) - {0x1FFF}:
        sel = np.nonzero(clip.pid == pid)[0]
        cc = clip.rows[sel, 3] & 0x0F
        step = clip.payload[sel][1:].astype(int)
        assert np.all((cc[1:] - cc[:-1]) % 16 == step), hex(pid)
    # each item starts on its packet: boundaries are where the day file says
    assert len(day.items) >= 8 and clip.packets == round(40 * rate / (TS * 8))


def test_no_picture_is_lost_at_a_boundary(played: Path) -> None:
    """Every picture of the day is on air, frame after frame across every boundary; sound loses at most
    the one frame by which a clip's sound outlasts its picture, except where a clip longer than its
    slot is cut."""
    clip = TsClip.load(played / "day.ts")
    video = np.sort(clip.pes_pts[(clip.pid[clip.pes_rows] == 0x0101) & (clip.pes_pts >= 0)])
    # boundaries sit on whole packets (2.5 ms here), so a frame step there is 40 ms give or take a packet
    assert video.size == 40 * 25 and np.abs(np.diff(video) - 3600).max() <= 225
    audio = np.sort(clip.pes_pts[(clip.pid[clip.pes_rows] == 0x0102) & (clip.pes_pts >= 0)])
    steps = np.diff(audio)
    assert np.median(steps) == 2160  # one MP2 frame (1152 samples at 48 kHz) per PES
    report = json.loads((played / "report.json").read_text())
    assert report["tightened_packets"] > 0 and report["cut_items"] == 2  # the 6 s loop into 3 s and 4 s slots
    gaps = (steps > 2 * 2160).sum()
    assert gaps <= report["cut_items"], steps[steps > 2160].tolist()


def test_epg_present_following_switches_and_equals_xmltv(played: Path) -> None:
    day = load_day(played / "day.json")
    guide = read_xmltv((played / "guide.xml").read_bytes())
    assert [p.start.strftime("%H:%M:%S") for p in guide] == ["00:00:08", "00:00:22", "00:00:32"]
    report = analyze(played / "day.ts")
    pf = next(t for t in report.tables if t.name.startswith("EIT p/f"))
    # one version per change: before the first, each programme, each gap after a programme
    assert len(set(pf.versions)) >= 2 * len(guide)
    sched = [t for t in report.tables if t.name.startswith("EIT schedule")]
    events = sorted({(e["start"], e["duration_s"], json.dumps(e["texts"], ensure_ascii=False))
                     for t in sched for e in t.content.get("events", [])})
    assert len(events) == len(guide)
    lang3 = {"kk": "kaz", "ru": "rus", "en": "eng"}
    for (start, dur, texts), prog in zip(events, guide, strict=True):
        assert datetime.fromisoformat(start) == prog.start
        assert timedelta(seconds=dur) == prog.stop - prog.start
        titles = {t["language"]: t["title"] for t in json.loads(texts)}
        assert titles == {lang3[k]: v for k, v in prog.titles.items()}
        subs = {t["language"]: t["description"] for t in json.loads(texts) if t["description"]}
        assert subs == {lang3[k]: v for k, v in prog.sub_titles.items()}
    assert day.programmes()[-1].kind == "repeat"


def test_as_run_and_hls(played: Path) -> None:
    day = load_day(played / "day.json")
    recs = read_as_run(played / "asrun.jsonl")
    assert len(recs) == len(day.items) and {r.status for r in recs} == {"assembled"}
    m3u8 = (played / "hls" / "index.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in m3u8 and len(list((played / "hls").glob("seg-*.ts"))) >= 5


def test_clips_are_normalised_once_and_cached(played: Path) -> None:
    d = played
    cached = sorted(p.name for p in (d / "cache").glob("*.ts"))
    # 4 source clips (the repeat reuses math-1) + generated clocks of distinct lengths
    assert sum(not n.startswith(("clock", "black")) for n in cached) == 4
    out = d / "again.ts"
    assert main(["tv", "playout", str(d / "day.json"), "-o", str(out), "--profile", "tiny-180p25", "--json",
                 "--profiles-dir", str(d / "profiles"), "--cache", str(d / "cache")]) == 0
    assert out.read_bytes() == (d / "day.ts").read_bytes()  # same day, same bytes (EPG included)


def test_sdt_and_eit_carry_the_channels_own_service(played: Path, gst_si: Callable[[Path], dict]) -> None:
    """GStreamer's MPEG-TS reader sees the channel file's service (not the profile's, not a default) in
    PAT, SDT and every EIT section, and the XMLTV guide tv_validate_file accepts names the same channel."""
    seen = gst_si(played / "day.ts")
    assert {(s["service_id"], s["name"], s["provider"], s["eit_pf"], s["eit_schedule"]) for s in seen["sdt"]} == {
        (7, SERVICE_NAME, "Университет", True, True)}
    assert {tuple(x) for x in seen["sdt_ids"]} == {(0xFF22, 5, True)}
    assert {tuple(p) for p in seen["pat"]} == {(7,)}
    assert seen["eit"] and {(e["service_id"], e["onid"], e["tsid"]) for e in seen["eit"]} == {(7, 0xFF22, 5)}
    guide = ET.parse(played / "guide.xml").getroot()
    channel = guide.find("channel[@id='test.aulacast.kz']")
    assert channel is not None and SERVICE_NAME in [n.text for n in channel.findall("display-name")]
    assert {p.get("channel") for p in guide.findall("programme")} == {"test.aulacast.kz"}
    if shutil.which("tv_validate_file") is None:
        pytest.skip("tv_validate_file not installed (Debian xmltv-util)")
    sup = played / "supplement"
    sup.mkdir(exist_ok=True)
    shutil.copy(TEST_DATA / "xmltv.dtd", sup / "xmltv.dtd")
    res = subprocess.run(["tv_validate_file", str(played / "guide.xml")], capture_output=True, text=True,
                         env={**os.environ, "XMLTV_SUPPLEMENT": str(sup)}, cwd=played, timeout=60)
    assert res.returncode == 0 and "Validated ok" in res.stdout + res.stderr, res.stdout + res.stderr


@pytest.mark.skipif(not Path("/usr/bin/python3").exists() or shutil.which("gst-inspect-1.0") is None,
                    reason="GStreamer (gstreamer1.0-plugins-bad, python3-gi) not installed")
def test_gstreamer_reads_the_same_eit(played: Path) -> None:
    script = r"""
import sys, gi
gi.require_version("Gst", "1.0"); gi.require_version("GstMpegts", "1.0")
from gi.repository import Gst, GstMpegts
Gst.init(None); GstMpegts.initialize()
p = Gst.parse_launch(f"filesrc location={sys.argv[1]} ! tsparse ! fakesink")
bus = p.get_bus(); p.set_state(Gst.State.PLAYING)
seen = set()
while True:
    msg = bus.timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.ELEMENT | Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type != Gst.MessageType.ELEMENT:
        break
    sec = GstMpegts.message_parse_mpegts_section(msg)
    if sec is None or sec.section_type != GstMpegts.SectionType.EIT:
        continue
    eit = sec.get_eit()
    for ev in eit.events:
        dt = ev.start_time
        for d in ev.descriptors:
            if d.tag == 0x4D:
                ok, lang, name, text = d.parse_dvb_short_event()
                seen.add(f"{dt.get_hour():02d}:{dt.get_minute():02d}:{dt.get_second():02d}|{ev.duration}|{lang}|{name}")
p.set_state(Gst.State.NULL)
print("\n".join(sorted(seen)))
"""
    res = subprocess.run(["/usr/bin/python3", "-c", script, str(played / "day.ts")], capture_output=True, text=True,
                         timeout=120)
    if "No module named 'gi'" in res.stderr or "Namespace" in res.stderr:
        pytest.skip("python3-gi / GstMpegts not available")
    guide = read_xmltv((played / "guide.xml").read_bytes())
    lang3 = {"kk": "kaz", "ru": "rus", "en": "eng"}
    want = {f"{p.start.astimezone(UTC):%H:%M:%S}"
            f"|{int((p.stop - p.start).total_seconds())}|{lang3[k]}|{v}" for p in guide for k, v in p.titles.items()}
    assert set(res.stdout.split("\n")) - {""} == want, res.stderr[-1000:]


def test_bad_inputs_leave_no_output(tmp_path: Path, channel_dir: Path) -> None:
    profile = load_profile_file(channel_dir / "profiles" / "tiny-180p25.toml")
    out = tmp_path / "x.ts"
    with pytest.raises(PlayoutError, match="does not exist"):
        assemble_day([PlayoutItem(tmp_path / "missing.mp4", 3, title="gone")], out, profile, cache_dir=tmp_path)
    (tmp_path / "notmedia.mp4").write_text("hello")
    from media.errors import MediaError

    with pytest.raises(MediaError):
        assemble_day([PlayoutItem(tmp_path / "notmedia.mp4", 3, title="text")], out, profile, cache_dir=tmp_path)
    with pytest.raises(PlayoutError, match="gap or overlap"):
        assemble_day([PlayoutItem(None, 3, generator="black", offset=0), PlayoutItem(None, 3, generator="black", offset=4)],
                     out, profile, cache_dir=tmp_path)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".x")]


def test_a_clip_already_packaged_for_the_channel_is_taken_as_it_is(tmp_path: Path, channel_dir: Path) -> None:
    """A stream ``package`` made for the profile and the channel's service (the archive's ``package`` job
    output) goes into the cache byte for byte; one for another service, or any other file, is encoded."""
    profile = load_profile_file(channel_dir / "profiles" / "tiny-180p25.toml")
    ours = profile.for_service(Service("Аулакаст", "University", 9, 0xFF20, 3))
    source = make_clip(tmp_path / "lecture.mp4", seconds=3, size="320x240")
    packaged = tmp_path / "lecture.ts"
    package(source, packaged, ours)
    assert packaged_for(packaged, ours)
    assert not packaged_for(packaged, profile)  # the default service: not this stream's
    assert not packaged_for(source, ours)  # an MP4
    assert not packaged_for(packaged, load_profile("hd-720p25").for_service(ours.service))  # another profile
    items = [PlayoutItem(packaged, 3, title="lecture", offset=0)]
    assemble_day(items, tmp_path / "ours.ts", ours, cache_dir=tmp_path / "cache-ours")
    [cached] = (tmp_path / "cache-ours").glob("*.ts")
    assert cached.read_bytes() == packaged.read_bytes()
    assemble_day(items, tmp_path / "other.ts", profile, cache_dir=tmp_path / "cache-other")
    [cached] = (tmp_path / "cache-other").glob("*.ts")
    assert cached.read_bytes() != packaged.read_bytes()
    assert analyze(tmp_path / "ours.ts").ok
