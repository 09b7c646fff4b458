"""The analyser on real ffmpeg streams, on the same streams with faults put in, and on
hand-built streams for faults ffmpeg does not make (late or jumping PCRs, scrambled PAT)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from media.broadcast.analyzer import analyze, format_report
from media.broadcast.dvb.mpegts import PACKET_SIZE, NotTransportStream, packetize_section
from media.broadcast.dvb.psi import Pat, Pmt, PmtStream, build_long_section, encode_pat, encode_pmt


def codes(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in report.errors}


@pytest.fixture(scope="module")
def packets(cbr_ts: Path) -> list[bytes]:
    data = cbr_ts.read_bytes()
    return [data[i : i + PACKET_SIZE] for i in range(0, len(data), PACKET_SIZE)]


def pid_of(p: bytes) -> int:
    return ((p[1] & 0x1F) << 8) | p[2]


def test_clean_ffmpeg_stream(cbr_ts: Path, packets: list[bytes]) -> None:
    r = analyze(cbr_ts)
    assert r.ok and r.errors == [], format_report(r)
    assert r.packets == len(packets)
    assert r.null_packets == sum(pid_of(p) == 0x1FFF for p in packets)
    assert 0.3 < r.null_share < 0.9
    # CBR at -muxrate 2M: every PCR-measured second carries 2 Mbit/s
    assert r.bitrate is not None and len(r.bitrate.per_second) >= 3
    assert abs(r.bitrate.mean - 2_000_000) < 2_000 and r.bitrate.spread < 2_000
    assert 3.9 < r.duration_s < 4.2
    video = next(p for p in r.pids if p.pid == 0x100)
    assert video.pcr_count > 0 and video.pcr_max_interval_ms < 40 and video.pcr_accuracy_max_ns < 500
    sdt = r.tables_named("SDT")[0]
    assert (
        sdt.content["services"][0]["name"] == "Aula TV"
        and sdt.content["services"][0]["provider"] == "Aulacast"
    )
    assert r.tables_named("NIT")[0].content["network_name"] == "Aulacast"
    pat = r.tables_named("PAT")[0]
    assert pat.content["transport_stream_id"] == 3 and pat.max_interval_s <= 0.11
    pmt = r.tables_named("PMT")[0]
    assert [s["type"] for s in pmt.content["streams"]] == ["H.264", "MPEG-1 audio"]
    text = format_report(r)
    assert "OK: no TR 101 290 priority 1/2 errors" in text and "'Aula TV'" in text


def test_dropped_packets_are_continuity_errors(packets: list[bytes]) -> None:
    video = [i for i, p in enumerate(packets) if pid_of(p) == 0x100]
    drop = {video[10], video[200], video[201]}
    r = analyze(b"".join(p for i, p in enumerate(packets) if i not in drop))
    cc = r.finding("Continuity_count_error")
    assert cc is not None and cc.count == 2 and cc.priority == 1
    assert "PID 0x0100" in cc.examples[0]
    assert next(p for p in r.pids if p.pid == 0x100).cc_errors == 2
    assert not r.ok


def test_duplicate_packet_once_is_allowed_twice_is_not(packets: list[bytes]) -> None:
    k = next(i for i, p in enumerate(packets) if pid_of(p) == 0x101)
    once = packets[: k + 1] + [packets[k]] + packets[k + 1 :]
    assert "Continuity_count_error" not in codes(analyze(b"".join(once)))
    twice = packets[: k + 1] + [packets[k], packets[k]] + packets[k + 1 :]
    assert "Continuity_count_error" in codes(analyze(b"".join(twice)))


@pytest.mark.parametrize(("pid", "name"), [(0x0000, "PAT"), (0x0011, "SDT")])
def test_corrupted_crc_byte(packets: list[bytes], pid: int, name: str) -> None:
    damaged = list(packets)
    k = [i for i, p in enumerate(packets) if pid_of(p) == pid][2]
    raw = bytearray(damaged[k])
    length = ((raw[6] & 0x0F) << 8) | raw[7]
    raw[5 + 3 + length - 1] ^= 0x5A  # the last CRC byte of the section
    damaged[k] = bytes(raw)
    r = analyze(b"".join(damaged))
    crc = r.finding("CRC_error")
    assert crc is not None and crc.count == 1 and crc.priority == 2
    assert name in crc.examples[0] and "CRC_32" in crc.examples[0]
    table = r.tables_named(name)[0]
    assert table.crc_errors == 1


def test_all_pat_packets_removed(packets: list[bytes]) -> None:
    r = analyze(b"".join(p for p in packets if pid_of(p) != 0))
    pat = r.finding("PAT_error")
    assert pat is not None and "no PAT" in pat.examples[0]


def test_pat_gap_longer_than_half_a_second(packets: list[bytes]) -> None:
    pat_idx = [i for i, p in enumerate(packets) if pid_of(p) == 0]
    gone = set(pat_idx[5:12])  # 7 × 100 ms: a 0.8 s gap
    null = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184
    kept = [null if i in gone else p for i, p in enumerate(packets)]  # keep timing: nulls in their place
    r = analyze(b"".join(kept))
    pat = r.finding("PAT_error")
    assert pat is not None and "limit 0.5 s" in pat.examples[0]
    assert "Continuity_count_error" in codes(r)  # PAT CCs jump too


def test_damaged_sync_bytes(packets: list[bytes]) -> None:
    one = list(packets)
    one[100] = b"\x46" + one[100][1:]
    r = analyze(b"".join(one))
    assert codes(r) == {"Sync_byte_error"}
    many = list(packets)
    for k in (300, 301, 302):
        many[k] = b"\x00" + many[k][1:]
    r = analyze(b"".join(many))
    assert {"TS_sync_loss", "Sync_byte_error"} <= codes(r)
    assert r.packets < len(packets)  # the unsynchronised packets are not counted as read


def test_bytes_lost_mid_stream_lose_sync_then_resynchronise(packets: list[bytes]) -> None:
    data = b"".join(packets)
    r = analyze(data[:50_000] + data[50_100:])
    assert "TS_sync_loss" in codes(r)
    assert r.packets > len(packets) - 5  # reading carried on after resynchronising
    assert r.tables_named("SDT")


def test_transport_error_indicator(packets: list[bytes]) -> None:
    hit = list(packets)
    hit[50] = hit[50][:1] + bytes([hit[50][1] | 0x80]) + hit[50][2:]
    assert "Transport_error" in codes(analyze(b"".join(hit)))


def test_pid_named_in_pmt_but_absent(packets: list[bytes]) -> None:
    r = analyze(b"".join(p for p in packets if pid_of(p) != 0x101))
    pid = r.finding("PID_error")
    assert pid is not None and "0x0101" in pid.examples[0]


def test_pmt_missing(packets: list[bytes]) -> None:
    r = analyze(b"".join(p for p in packets if pid_of(p) != 0x1000))
    assert r.finding("PMT_error") is not None


def test_synthetic_clean_stream(ts_kit: SimpleNamespace) -> None:
    r = analyze(ts_kit.synth_ts(2.0))
    assert r.ok, format_report(r)
    assert r.bitrate is not None and abs(r.bitrate.mean - 1_000_000) < 1_000


def test_pcr_late_is_a_repetition_error_and_over_40ms_a_warning(ts_kit: SimpleNamespace) -> None:
    r = analyze(ts_kit.synth_ts(2.0, pcr_interval=0.15))
    assert "PCR_repetition_error" in codes(r)
    r = analyze(ts_kit.synth_ts(2.0, pcr_interval=0.06))
    assert r.ok and {w.code for w in r.warnings} == {"PCR_interval_over_40ms"}


def test_pcr_jump_needs_the_discontinuity_indicator(ts_kit: SimpleNamespace) -> None:
    r = analyze(ts_kit.synth_ts(2.0, pcr_jump_at=1.0, pcr_jump_s=0.5))
    assert "PCR_discontinuity_indicator_error" in codes(r)
    r = analyze(ts_kit.synth_ts(2.0, pcr_jump_at=1.0, pcr_jump_s=0.5, pcr_jump_flagged=True))
    assert "PCR_discontinuity_indicator_error" not in codes(r)


def test_pts_gap(ts_kit: SimpleNamespace) -> None:
    r = analyze(ts_kit.synth_ts(3.0, pts_interval=0.9))
    assert "PTS_error" in codes(r)


def test_scrambled_pat_and_wrong_table_id_on_pid_0(ts_kit: SimpleNamespace) -> None:
    data = bytearray(ts_kit.synth_ts(1.0))
    data[3] |= 0x80  # the first packet is the PAT: scrambling_control '10'
    assert "PAT_error" in codes(analyze(bytes(data)))
    wrong = packetize_section(encode_pmt(Pmt(7, 0x100, (PmtStream(0x1B, 0x100),))), 0, 0)[0]
    stream = ts_kit.synth_ts(1.0)
    r = analyze(wrong + stream[PACKET_SIZE:])
    pat = r.finding("PAT_error")
    assert pat is not None and "table id 0x02 on the PAT PID" in pat.examples[0]
    assert encode_pat(Pat(1, {})) != wrong


def test_not_a_transport_stream(tmp_path: Path) -> None:
    f = tmp_path / "x.ts"
    f.write_bytes(b"GIF89a" + bytes(5000))
    with pytest.raises(NotTransportStream, match="x.ts: not an MPEG transport stream"):
        analyze(f)


def test_section_with_good_crc_but_overrunning_loop(ts_kit: SimpleNamespace) -> None:
    # a NIT whose network name descriptor claims 32 bytes inside a 10-byte loop
    body = bytes.fromhex("F00A 4020") + b"Aulacast" + bytes.fromhex("F000")
    nit = build_long_section(0x40, 0x2001, body, private_indicator=True)
    stream = packetize_section(nit, 0x10, 0)[0] + ts_kit.synth_ts(1.0)
    r = analyze(stream)
    bad = r.finding("Section_syntax_error")
    assert bad is not None and bad.priority == 2 and "NIT actual cannot be decoded" in bad.examples[0]
    assert r.finding("CRC_error") is None and not r.ok


def test_eit_schedule_repeated_too_slowly_is_a_warning(ts_kit: SimpleNamespace) -> None:
    from datetime import UTC, datetime, timedelta

    from media.broadcast.dvb.eit import EitEvent, ServiceRef, eit_schedule_sections

    now = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    section = eit_schedule_sections(
        ServiceRef(7, 3, 0x2001), [EitEvent.simple(now, timedelta(hours=1), "Physics")], now=now, days=1
    )[0]
    data = bytearray(ts_kit.synth_ts(13.0))
    per_second = 1_000_000 // (188 * 8)
    for cc, second in enumerate((0.2, 12.2)):
        k = int(second * per_second)
        while data[k * 188 + 1 : k * 188 + 3] != b"\x1f\xff":
            k += 1
        data[k * 188 : (k + 1) * 188] = packetize_section(section, 0x12, cc)[0]
    r = analyze(bytes(data))
    assert r.ok
    late = r.finding("SI_repetition_error")
    assert (
        late is not None
        and late.priority == 3
        and "EIT schedule 0x50 service 7 section 0" in late.examples[0]
    )


def test_stream_without_pcr_says_timing_was_not_measured() -> None:
    pat = packetize_section(encode_pat(Pat(1, {1: 0x1000})), 0, 0)[0]
    pmt = packetize_section(encode_pmt(Pmt(1, 0x100, (PmtStream(0x1B, 0x100),))), 0x1000, 0)[0]
    r = analyze(pat + pmt)
    assert r.finding("No_time_base") is not None
    assert r.finding("PCR_repetition_error") is not None  # the PMT names a PCR PID that carries none


def test_si_sections_closer_than_25ms_are_a_warning(ts_kit: SimpleNamespace) -> None:
    from datetime import UTC, datetime, timedelta

    from media.broadcast.dvb.eit import EitEvent, ServiceRef, eit_pf_sections

    now = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    present = EitEvent.simple(now, timedelta(hours=1), "Physics")
    sections = eit_pf_sections(ServiceRef(7, 3, 0x2001), present, None)
    data = bytearray(ts_kit.synth_ts(1.0))
    nulls = [k for k in range(len(data) // 188) if data[k * 188 + 1 : k * 188 + 3] == b"\x1f\xff"]
    first, second = nulls[100], nulls[101]  # neighbouring null packets: well under 25 ms apart
    data[first * 188 : (first + 1) * 188] = packetize_section(sections[0], 0x12, 0)[0]
    data[second * 188 : (second + 1) * 188] = packetize_section(sections[1], 0x12, 1)[0]
    r = analyze(bytes(data))
    close = r.finding("SI_repetition_error")
    assert r.ok and close is not None and "minimum 25 ms" in close.examples[0]
