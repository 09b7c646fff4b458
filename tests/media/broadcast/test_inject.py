"""SI injection into real ffmpeg CBR streams: only null packets change, tables arrive on time,
p/f switches at programme changes, TDT/TOT follow the PCR; GStreamer decodes what we wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from media.broadcast.analyzer import analyze
from media.broadcast.dvb.eit import EitEvent, EventText, decode_eit
from media.broadcast.dvb.mpegts import (
    NULL_PACKET,
    PACKET_SIZE,
    NotTransportStream,
    SectionAssembler,
    parse_packet,
    read_pcr,
)
from media.broadcast.dvb.psi import parse_section
from media.broadcast.dvb.tdt import decode_tdt, decode_tot
from media.broadcast.inject import (
    InjectionError,
    InsufficientNullPackets,
    SiConfig,
    inject_si,
    inject_si_bytes,
)

SERVICE_ID = 7
SERVICE_NAME = "Aula TV"  # what conftest.make_cbr_ts asks ffmpeg for


def packets_of(data: bytes) -> list[bytes]:
    return [data[i : i + PACKET_SIZE] for i in range(0, len(data), PACKET_SIZE)]


def pid_of(packet: bytes) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


START = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 09:00 in Almaty


LONG_RU = "Линейная алгебра: матрицы, определители, системы уравнений. " * 8  # > 250 bytes in UTF-8


def events() -> list[EitEvent]:
    """Two short programmes switching at 1.5 s and 3.0 s, then a normal day."""
    short = [
        EitEvent(START, timedelta(seconds=1.5), (EventText("kaz", "Физика 1-дәріс", "Механика"),
                                                 EventText("eng", "Physics 1", "Mechanics")), (0x90,), event_id=101),
        EitEvent(START + timedelta(seconds=1.5), timedelta(seconds=1.5),
                 (EventText("kaz", "Математика", "Алгебра"), EventText("rus", "Математика", LONG_RU)),
                 (0x90, 0x92), event_id=102),
    ]  # fmt: skip
    day = [
        EitEvent.simple(
            START + timedelta(hours=1, minutes=90 * i), timedelta(minutes=80), f"Дәріс {i}", "Физика"
        )
        for i in range(8)
    ]
    return short + day


CONFIG = SiConfig(start_utc=START, tdt_interval=1.0, tot_interval=1.0)


def elapsed_times(data: bytes) -> list[float]:
    """Seconds since the first PCR for every packet, from the PCRs (independent of the injector)."""
    pcrs = [(i, read_pcr(p)) for i, p in enumerate(packets_of(data)) if pid_of(p) == 0x100 and read_pcr(p)]
    (i0, p0), (i1, p1) = pcrs[0], pcrs[-1]
    spp = (p1 - p0) / 27e6 / (i1 - i0)
    return [(i - i0) * spp for i in range(len(data) // PACKET_SIZE)]


def sections_with_times(data: bytes, pid: int) -> list[tuple[float, bytes]]:
    times = elapsed_times(data)
    asm = SectionAssembler()
    out = []
    for i, raw in enumerate(packets_of(data)):
        if pid_of(raw) == pid:
            p = parse_packet(raw)
            for s in asm.feed(p.payload, p.payload_unit_start):
                out.append((times[i], s))
    return out


@pytest.fixture(scope="module")
def injected(cbr_ts: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("inj") / "out.ts"
    report = inject_si(cbr_ts, out, config=CONFIG, events=events())
    return out, report


def test_only_null_packets_change(cbr_ts: Path, injected: tuple[Path, object]) -> None:
    before, after = packets_of(cbr_ts.read_bytes()), packets_of(injected[0].read_bytes())
    assert len(before) == len(after)
    changed_pids = set()
    for a, b in zip(before, after, strict=True):
        if a == b:
            continue
        if pid_of(a) == 0x11:  # SDT: only the EIT flags and the CRC differ
            assert a[:4] == b[:4] and sum(x != y for x, y in zip(a, b, strict=True)) <= 5
            continue
        assert pid_of(a) == 0x1FFF, "a non-null packet was changed"
        changed_pids.add(pid_of(b))
    assert changed_pids == {0x12, 0x14}
    report = injected[1]
    assert report.si_packets == sum(pid_of(p) in (0x12, 0x14) for p in after)
    assert report.null_packets_out == sum(pid_of(p) == 0x1FFF for p in after)


def test_output_is_clean_and_tables_repeat_in_time(injected: tuple[Path, object]) -> None:
    report = analyze(injected[0])
    assert report.ok, [f.examples for f in report.errors]
    names = {t.name for t in report.tables}
    assert {"PAT", "PMT", "SDT actual", "NIT actual", "EIT p/f actual", "EIT schedule actual 0x50",
            "EIT schedule actual 0x51", "TDT", "TOT"} <= names  # fmt: skip
    pf = report.tables_named("EIT p/f")[0]
    assert pf.max_interval_s <= 2.0 and pf.versions == [0, 1, 2]
    assert report.tables_named("TDT")[0].max_interval_s <= 1.1
    sdt = report.tables_named("SDT")[0].content["services"][0]
    assert sdt["name"] == SERVICE_NAME and sdt["eit_present_following"] and sdt["eit_schedule"]
    inj = injected[1]
    assert inj.violations == [] and inj.max_interval_s["eit_pf"] <= 1.01


def test_present_following_switches_at_each_programme_change(injected: tuple[Path, object]) -> None:
    seen: dict[int, tuple[float, tuple[int, ...]]] = {}
    last_t: dict[int, float] = {}
    for t, raw in sections_with_times(injected[0].read_bytes(), 0x12):
        sec = parse_section(raw)
        if sec.table_id != 0x4E or sec.section_number != 0:
            continue
        seen.setdefault(sec.version_number, (t, tuple(e.event_id for e in decode_eit(sec).events)))
        last_t[sec.version_number] = t
    assert seen[0][1] == (101,) and seen[1][1] == (102,) and seen[2][1] == ()
    assert seen[0][0] < 0.1
    assert 1.5 <= seen[1][0] < 1.6  # sent at the first null packet after the change
    assert 3.0 <= seen[2][0] < 3.1
    assert last_t[0] < 1.5 and last_t[1] < 3.0  # the old content is not sent after the change


def test_tdt_and_tot_carry_start_plus_pcr_time(injected: tuple[Path, object]) -> None:
    sections = sections_with_times(injected[0].read_bytes(), 0x14)
    tdts = [(t, decode_tdt(parse_section(s))) for t, s in sections if s[0] == 0x70]
    tots = [(t, decode_tot(parse_section(s))) for t, s in sections if s[0] == 0x73]
    assert len(tdts) >= 4 and len(tots) >= 4
    for t, when in tdts:
        assert when == (START + timedelta(seconds=t)).replace(microsecond=0)
    for t, tot in tots:
        assert tot.utc_time == (START + timedelta(seconds=t)).replace(microsecond=0)
        assert tot.offsets[0].country_code == "KAZ" and tot.offsets[0].offset == timedelta(hours=5)


def test_eit_schedule_carries_the_week(injected: tuple[Path, object]) -> None:
    ids = set()
    for _t, raw in sections_with_times(injected[0].read_bytes(), 0x12):
        sec = parse_section(raw)
        assert sec.crc_ok
        if 0x50 <= sec.table_id <= 0x51:
            ids |= {e.event_id for e in decode_eit(sec).events}
    assert ids == {e.event_id for e in events()}


def test_bytes_api_equals_file_api(cbr_ts: Path, injected: tuple[Path, object]) -> None:
    data, report = inject_si_bytes(cbr_ts.read_bytes(), config=CONFIG, events=events())
    assert data == injected[0].read_bytes() and report.si_packets == injected[1].si_packets


def test_injecting_again_replaces_the_old_tables(injected: tuple[Path, object], tmp_path: Path) -> None:
    later = replace(CONFIG, start_utc=START + timedelta(days=1))
    report = inject_si(injected[0], tmp_path / "again.ts", config=later, events=events())
    assert report.removed_si_packets == injected[1].si_packets
    result = analyze(tmp_path / "again.ts")
    assert result.ok
    assert result.tables_named("TDT")[0].content["first_utc"].startswith("2026-11-27T04:00:00")


def test_too_few_null_packets_is_a_clear_error_and_leaves_no_file(cbr_ts: Path, tmp_path: Path) -> None:
    filler = bytes([0x47, 0x1F, 0xFE, 0x10]) + b"\xff" * 184  # a data PID instead of most null packets
    packets = packets_of(cbr_ts.read_bytes())
    nulls = 0
    for i, p in enumerate(packets):
        if pid_of(p) == 0x1FFF:
            nulls += 1
            if nulls % 400:
                packets[i] = filler
    out = tmp_path / "starved.ts"
    src = tmp_path / "starved-in.ts"
    src.write_bytes(b"".join(packets))
    with pytest.raises(InsufficientNullPackets, match="not enough null packets.*eit_pf.*limit 2 s"):
        inject_si(src, out, config=CONFIG, events=events())
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".ts") == ["starved-in.ts"]  # no partial file


def test_non_ts_input_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("not a stream\n" * 100)
    with pytest.raises(NotTransportStream, match="notes.txt: not an MPEG transport stream"):
        inject_si(src, tmp_path / "x.ts", config=CONFIG, events=[])
    assert list(tmp_path.iterdir()) == [src]


def test_stream_without_pat_is_refused(cbr_ts: Path, tmp_path: Path) -> None:
    data = b"".join(p for p in packets_of(cbr_ts.read_bytes()) if pid_of(p) != 0)
    with pytest.raises(InjectionError, match="cannot inject SI: no PAT"):
        inject_si_bytes(data, config=CONFIG, events=[])


def test_gstreamer_decodes_the_injected_tables(
    injected: tuple[Path, object], gst_si: Callable[[Path], dict]
) -> None:
    got = gst_si(injected[0])
    assert {"service_id": SERVICE_ID, "name": SERVICE_NAME, "provider": "Aulacast", "eit_pf": True,
            "eit_schedule": True} in got["sdt"]  # fmt: skip
    pf = [e for e in got["eit"] if e["table_id"] == 0x4E]
    first = next(e for e in pf if e["event_id"] == 101)
    assert first["start"] == "2026-11-26T04:00:00" and first["running_status"] == 4
    assert ["kaz", "Физика 1-дәріс", "Механика"] in first["texts"] and [
        "eng",
        "Physics 1",
        "Mechanics",
    ] in first["texts"]
    second = next(e for e in pf if e["event_id"] == 102)
    assert second["texts"][0] == ["kaz", "Математика", "Алгебра"]
    assert second["extended"]["rus"] == LONG_RU  # the long text, split over extended event descriptors
    sched = {e["event_id"]: e for e in got["eit"] if 0x50 <= e["table_id"] <= 0x51}
    for ev in events()[2:]:
        g = sched[ev.event_id]
        assert g["start"] == ev.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert g["duration"] == 80 * 60 and g["texts"][0][:2] == ["kaz", ev.title]
    assert got["tdt"] and got["tdt"][0] == "2026-11-26T04:00:00"
    assert got["tot"] and got["tot"][0]["descriptor_tags"] == [0x58]


def test_ffprobe_still_reads_the_service_names(injected: tuple[Path, object]) -> None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe (Debian ffmpeg package) not installed")
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_programs", "-of", "json", str(injected[0])],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    tags = json.loads(out.stdout)["programs"][0]["tags"]
    assert tags["service_name"] == SERVICE_NAME and tags["service_provider"] == "Aulacast"


@pytest.mark.slow
def test_default_rates_hold_over_35_seconds(tmp_path: Path, ts_kit: SimpleNamespace) -> None:
    """TDT/TOT (30 s) and EIT schedule (10 s) limits need a stream longer than those limits."""
    src = ts_kit.make_cbr_ts(tmp_path / "long.ts", seconds=35, video_bitrate="300k")
    out = tmp_path / "long-epg.ts"
    report = inject_si(src, out, config=SiConfig(start_utc=START), events=events())
    assert report.violations == []
    assert report.max_interval_s["eit_pf"] <= 2.0 and report.max_interval_s["eit_schedule"] <= 10.0
    assert report.max_interval_s["tdt"] <= 30.0 and report.max_interval_s["tot"] <= 30.0
    checked = analyze(out)
    assert checked.ok and not checked.warnings, [w.examples for w in checked.warnings]
    assert checked.tables_named("TDT")[0].sections_seen >= 7
    assert len(packets_of(out.read_bytes())) == len(packets_of(src.read_bytes()))
    assert NULL_PACKET[:3] in out.read_bytes()


def test_pcr_wrap_and_utc_midnight(ts_kit: SimpleNamespace) -> None:
    """A PCR that wraps (33-bit base) keeps time running; the schedule is rebuilt at 00:00 UTC."""
    wrap_at = (1 << 33) * 300 / 27e6
    data = ts_kit.synth_ts(3.0, pcr_start_s=wrap_at - 1.0)  # wraps 1 s in; no SDT, so ids come from config
    before_midnight = datetime(2026, 11, 26, 23, 59, 58, 500000, tzinfo=UTC)
    config = SiConfig(start_utc=before_midnight, original_network_id=0x2001, tdt_interval=0.5)
    out, report = inject_si_bytes(data, config=config, events=events())
    assert report.service.original_network_id == 0x2001 and report.service.service_id == ts_kit.SERVICE_ID
    assert 2.9 < report.duration_s < 3.1 and report.schedule_versions == 2
    tdts = [decode_tdt(parse_section(s)) for _t, s in sections_with_times(out, 0x14) if s[0] == 0x70]
    assert tdts[0] == datetime(2026, 11, 26, 23, 59, 58, tzinfo=UTC)
    assert tdts[-1] >= datetime(2026, 11, 27, 0, 0, 0, tzinfo=UTC)
    assert all(b >= a for a, b in zip(tdts, tdts[1:], strict=False))
    versions = {parse_section(s).version_number for _t, s in sections_with_times(out, 0x12) if s[0] == 0x50}
    assert versions == {0, 1}
    checked = analyze(out)
    assert checked.ok, [f.examples for f in checked.errors]


def test_stream_without_null_packets_fails_early_and_lenient_mode_reports(
    cbr_ts: Path, tmp_path: Path, ts_kit: SimpleNamespace
) -> None:
    filler = bytes([0x47, 0x1F, 0xFE, 0x10]) + b"\xff" * 184
    packets = [filler if pid_of(p) == 0x1FFF else p for p in packets_of(cbr_ts.read_bytes())]
    data = b"".join(packets)
    with pytest.raises(
        InsufficientNullPackets, match=r"eit_pf was not repeated for [0-9.]+ s at [0-9.]+ s \(limit 2 s\)"
    ):
        inject_si_bytes(data, config=CONFIG, events=events())
    out, report = inject_si_bytes(
        data, config=replace(CONFIG, strict=False, set_sdt_eit_flags=False), events=events()
    )
    assert out == data and report.si_packets == 0
    assert {v.split(" was ")[0].split(": ")[-1] for v in report.violations} == {
        "eit_pf"
    }  # 4 s: only the 2 s limit is passed


def test_damaged_sync_is_refused_with_its_position(cbr_ts: Path) -> None:
    data = bytearray(cbr_ts.read_bytes())
    data[188 * 30] = 0x00  # in the look-ahead part
    with pytest.raises(InjectionError, match=r"lost sync at packet 30 \(byte 5640\)"):
        inject_si_bytes(bytes(data), config=CONFIG, events=[])
    data = bytearray(cbr_ts.read_bytes())
    data[188 * 5000] = 0x00  # after the look-ahead
    with pytest.raises(InjectionError, match=r"lost sync at packet 5000 \(byte 940000\)"):
        inject_si_bytes(bytes(data), config=CONFIG, events=[])
