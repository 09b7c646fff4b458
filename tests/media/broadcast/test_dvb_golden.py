"""Golden bytes of the DVB sections and a short TS: our encoders make exactly them, our decoders read them back.

The fixtures in tests/data/dvb/ were read by tshark (Wireshark's MPEG-TS and DVB SI dissectors, CRC_32
checked) before they were frozen: tests/data/dvb/README.md. GStreamer's reader checks the stream again here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from media.broadcast.analyzer import analyze
from media.broadcast.dvb.eit import RUNNING_NOT_RUNNING, RUNNING_RUNNING, RUNNING_UNDEFINED, decode_eit
from media.broadcast.dvb.mpegts import SectionAssembler, iter_packets, parse_packet, pid_of, read_pcr
from media.broadcast.dvb.psi import decode_nit, decode_pat, decode_pmt, decode_sdt, parse_section
from media.broadcast.dvb.tdt import Tot, decode_tdt, decode_tot
from tests.helpers import dvb_golden as g

FILES = sorted(g.fixtures())


def split_sections(data: bytes) -> list[bytes]:
    """Sections laid back to back, each as long as its section_length says."""
    out, pos = [], 0
    while pos < len(data):
        end = pos + 3 + (((data[pos + 1] & 0x0F) << 8) | data[pos + 2])
        out.append(data[pos:end])
        pos = end
    return out


def golden(name: str) -> bytes:
    return (g.DATA / name).read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_encoders_make_exactly_the_golden_bytes(name: str) -> None:
    assert g.fixtures()[name] == golden(name), f"{name} changed: see tests/data/dvb/README.md before refreezing"


def test_the_fixtures_stay_small() -> None:
    assert sum(len(golden(name)) for name in FILES) < 60_000
    assert len(golden("short.ts")) == g.PACKETS * 188


def test_decoders_read_the_sections_back() -> None:
    def one(name: str):  # type: ignore[no-untyped-def]
        (raw,) = split_sections(golden(name))
        section = parse_section(raw)
        assert section.crc_ok in (True, None)
        return section

    assert decode_pat(one("pat.bin")) == g.PAT
    assert decode_pmt(one("pmt.bin")) == g.PMT
    assert decode_sdt(one("sdt.bin")) == g.SDT
    assert decode_nit(one("nit.bin")) == g.NIT
    assert one("tdt.bin").crc_ok is None and decode_tdt(one("tdt.bin")) == g.NOW  # a TDT has no CRC
    assert decode_tot(one("tot.bin")) == Tot(g.NOW, (g.OFFSET,))


def test_eit_present_following_and_schedule_read_back() -> None:
    pf = [decode_eit(parse_section(raw)) for raw in split_sections(golden("eit_pf.bin"))]
    assert [e.section_number for e in pf] == [0, 1] and all(e.service == g.SERVICE for e in pf)
    assert pf[0].events == (replace(g.PRESENT, running_status=RUNNING_RUNNING),)
    assert pf[1].events == (replace(g.FOLLOWING, running_status=RUNNING_NOT_RUNNING),)
    assert pf[0].events[0].texts[1].description == g.LONG_RU  # joined again from its extended event descriptors

    schedule = [decode_eit(parse_section(raw)) for raw in split_sections(golden("eit_schedule.bin"))]
    assert [e.section_number for e in schedule] == [0, 8, 16, 24, 32, 40, 48, 56]  # one day: 8 segments of 3 h
    assert {e.table_id for e in schedule} == {0x50} and all(e.last_section_number == 56 for e in schedule)
    events = [ev for e in schedule for ev in e.events]
    assert events == [replace(ev, running_status=RUNNING_UNDEFINED) for ev in (g.PRESENT, g.FOLLOWING, g.EVENING)]


def test_the_stream_reads_back_packet_by_packet() -> None:
    by_pid: dict[int, list[bytes]] = {}
    assemblers: dict[int, SectionAssembler] = {}
    pcrs, last_cc = [], {}
    for n, view in enumerate(iter_packets(golden("short.ts"))):
        packet = parse_packet(view)
        if packet.has_payload and packet.pid != 0x1FFF:  # continuity counters run on, per PID (nulls: any)
            assert packet.continuity_counter == (last_cc.get(packet.pid, -1) + 1) & 0x0F, (n, packet.pid)
            last_cc[packet.pid] = packet.continuity_counter
        pcr = read_pcr(view)
        if pcr is not None:
            pcrs.append((n, pcr))
        if pid_of(view) in (0, g.PMT_PID, g.NIT_PID, g.SDT_PID, g.EIT_PID, g.TDT_PID):
            asm = assemblers.setdefault(packet.pid, SectionAssembler())
            by_pid.setdefault(packet.pid, []).extend(asm.feed(packet.payload, packet.payload_unit_start))
    s = g.sections()
    assert set(by_pid[0]) == set(s["pat"]) and len(by_pid[0]) == 5  # every 60 packets
    assert set(by_pid[g.PMT_PID]) == set(s["pmt"])
    assert by_pid[g.NIT_PID] == s["nit"] and by_pid[g.SDT_PID] == s["sdt"]
    assert by_pid[g.EIT_PID] == s["eit_pf"] + s["eit_schedule"]
    assert by_pid[g.TDT_PID] == s["tdt"] + s["tot"]
    assert all(pcr == g.PCR_BASE + n * g.PCR_PER_PACKET for n, pcr in pcrs) and len(pcrs) == 14


def test_our_analyser_passes_the_stream() -> None:
    report = analyze(g.DATA / "short.ts")
    assert report.ok and not report.warnings, [f.message for f in report.errors + report.warnings]
    names = {t.name for t in report.tables}
    assert {"PAT", "PMT", "SDT actual", "NIT actual", "EIT p/f actual", "TDT", "TOT"} <= names


def test_gstreamer_reads_the_stream(gst_si: Callable[[Path], dict]) -> None:
    """An independent reader on every run: GStreamer's GstMpegts (tsparse), as the other SI tests use."""
    seen = gst_si(g.DATA / "short.ts")
    assert seen["sdt"] == [{"service_id": g.SERVICE_ID, "name": "Aulacast Lectures", "provider": "Aulacast",
                            "eit_pf": True, "eit_schedule": True}]  # fmt: skip
    starts = [(e["table_id"], e["section"], e["event_id"], e["start"], e["duration"]) for e in seen["eit"]]
    iso = lambda ev: ev.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    assert starts == [
        (0x4E, 0, g.PRESENT.event_id, iso(g.PRESENT), 4800), (0x4E, 1, g.FOLLOWING.event_id, iso(g.FOLLOWING), 3600),
        (0x50, 8, g.PRESENT.event_id, iso(g.PRESENT), 4800), (0x50, 8, g.FOLLOWING.event_id, iso(g.FOLLOWING), 3600),
        (0x50, 40, g.EVENING.event_id, iso(g.EVENING), 4800),
    ]  # fmt: skip
    assert seen["eit"][0]["texts"][0] == ["kaz", "Жоғары математика: Шектер", "Тізбек пен функцияның шегі."]
    assert seen["eit"][0]["extended"] == {"rus": g.LONG_RU}
    assert seen["tdt"] == ["2026-11-26T05:10:00"] == [e["utc"] for e in seen["tot"]]
    assert seen["tot"][0]["descriptor_tags"] == [0x58]
    assert datetime.fromisoformat(seen["tdt"][0]).replace(tzinfo=UTC) == g.NOW
