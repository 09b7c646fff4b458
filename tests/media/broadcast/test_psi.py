"""PSI/SI sections against bytes worked out by hand from ISO/IEC 13818-1 and EN 300 468,
against ffmpeg's own SDT/NIT, CRCs checked by crcmod, and round trips through our parser."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import crcmod.predefined
import pytest

from media.broadcast.dvb.mpegts import SectionAssembler, iter_packets, parse_packet
from media.broadcast.dvb.psi import (
    Nit,
    NitTransportStream,
    Pat,
    Pmt,
    PmtStream,
    Sdt,
    SdtService,
    SectionError,
    decode_duration,
    decode_nit,
    decode_pat,
    decode_pmt,
    decode_sdt,
    decode_utc_time,
    encode_duration,
    encode_nit,
    encode_pat,
    encode_pmt,
    encode_sdt,
    encode_utc_time,
    mjd,
    parse_section,
    sdt_with_eit_flags,
    service_list_descriptor,
)
from media.broadcast.dvb.si_text import decode_text, encode_text

CRC = crcmod.predefined.mkCrcFun("crc-32-mpeg")


def with_crc(hex_text: str) -> bytes:
    data = bytes.fromhex(hex_text.replace(" ", ""))
    return data + CRC(data).to_bytes(4, "big")


def test_pat_by_hand() -> None:
    # table_id 0, '1' '0' '11' + section_length 13, tsid 1, '11' version 0 current, sections 0/0,
    # program 0 -> network PID 0x0010, program 1 -> PMT PID 0x1000 (3 reserved '1' bits before each PID)
    expected = with_crc("00 B0 11 0001 C1 00 00  0000 E010  0001 F000")
    pat = Pat(transport_stream_id=1, programs={0: 0x10, 1: 0x1000})
    assert encode_pat(pat) == expected
    sec = parse_section(expected)
    assert sec.crc_ok and decode_pat(sec) == pat


def test_pmt_by_hand() -> None:
    # program 1, PCR PID 0x0100, no program info, H.264 on 0x0100, MPEG-1 audio on 0x0101
    expected = with_crc("02 B0 17 0001 C1 00 00  E100 F000  1B E100 F000  03 E101 F000")
    pmt = Pmt(1, 0x100, (PmtStream(0x1B, 0x100), PmtStream(0x03, 0x101)))
    assert encode_pmt(pmt) == expected
    assert decode_pmt(parse_section(expected)) == pmt


def test_sdt_with_service_descriptor_by_hand() -> None:
    # SDT actual: '1' '1' '11' length 0x25; tsid 3; onid 0x2001; reserved byte;
    # service 7: '111111' EIT flags 00, running 4 free_CA 0 loop 0x14;
    # service descriptor 0x48: type 1, provider "Aulacast" (8), name "Aula TV" (7)
    expected = with_crc(
        "42 F0 25 0003 C1 00 00 2001 FF  0007 FC 8014  48 12 01 08 "
        + b"Aulacast".hex()
        + " 07 "
        + b"Aula TV".hex()
    )
    sdt = Sdt(3, 0x2001, (SdtService(7, name="Aula TV", provider="Aulacast"),))
    assert encode_sdt(sdt) == expected
    assert decode_sdt(parse_section(expected)) == sdt


def test_nit_by_hand() -> None:
    expected = with_crc(
        "40 F0 22 2001 C1 00 00  F00A 40 08" + b"Aulacast".hex() + " F00B 0003 2001 F005 41 03 0007 01"
    )
    nit = Nit(0x2001, "Aulacast", (NitTransportStream(3, 0x2001, (service_list_descriptor([(7, 1)]),)),))
    assert encode_nit(nit) == expected
    back = decode_nit(parse_section(expected))
    assert back.network_name == "Aulacast" and back.transport_streams[0].transport_stream_id == 3


def _ffmpeg_sections(path: Path) -> dict[int, bytes]:
    asm: dict[int, SectionAssembler] = {}
    found: dict[int, bytes] = {}
    for raw in iter_packets(path):
        p = parse_packet(raw)
        if p.pid in (0x10, 0x11):
            for s in asm.setdefault(p.pid, SectionAssembler()).feed(p.payload, p.payload_unit_start):
                found.setdefault(s[0], s)
    return found


def test_our_sdt_and_nit_equal_ffmpegs_byte_for_byte(cbr_ts: Path) -> None:
    found = _ffmpeg_sections(cbr_ts)
    sdt = decode_sdt(parse_section(found[0x42]))
    assert [(s.service_id, s.name, s.provider) for s in sdt.services] == [(7, "Aula TV", "Aulacast")]
    assert encode_sdt(sdt) == found[0x42]
    nit = decode_nit(parse_section(found[0x40]))
    assert nit.network_name == "Aulacast"
    assert encode_nit(nit) == found[0x40]


def test_sdt_eit_flags_patch_keeps_length_and_fixes_crc() -> None:
    plain = encode_sdt(Sdt(3, 0x2001, (SdtService(7, name="A"), SdtService(8, name="B"))))
    patched = sdt_with_eit_flags(plain, 8, schedule=True, present_following=True)
    assert len(patched) == len(plain) and CRC(patched) == 0
    services = decode_sdt(parse_section(patched)).services
    assert [(s.eit_schedule, s.eit_present_following) for s in services] == [(False, False), (True, True)]
    assert sdt_with_eit_flags(plain, 99, schedule=True, present_following=True) == plain


def test_bad_sections_are_refused_or_flagged() -> None:
    good = encode_pat(Pat(1, {1: 0x100}))
    broken = good[:-1] + bytes([good[-1] ^ 1])
    assert parse_section(broken).crc_ok is False
    with pytest.raises(SectionError, match="section_length"):
        parse_section(good[:-2])


# ---------------------------------------------------------------- time coding (EN 300 468 Annex C)


def test_annex_c_example_93_10_13() -> None:
    # EN 300 468 Annex C: 93/10/13 12:45:00 is coded as 0xC079124500
    assert encode_utc_time(datetime(1993, 10, 13, 12, 45, tzinfo=UTC)) == bytes.fromhex("C079124500")
    assert decode_utc_time(bytes.fromhex("C079124500")) == datetime(1993, 10, 13, 12, 45, tzinfo=UTC)


def _annex_c_mjd(y: int, m: int, d: int) -> int:
    # the conversion formula of Annex C, with Y = year - 1900
    yy = y - 1900
    leap = 1 if m in (1, 2) else 0
    return 14956 + d + int((yy - leap) * 365.25) + int((m + 1 + leap * 12) * 30.6001)


def test_mjd_of_2026_11_26_by_hand_and_by_annex_c() -> None:
    # 51544 (2000-01-01) + 26 years (9497 days) + 329 days into 2026 = 61370 = 0xEFBA
    assert mjd(date(2026, 11, 26)) == 61370 == _annex_c_mjd(2026, 11, 26)
    for day in (date(2024, 2, 29), date(2000, 3, 1), date(2038, 1, 19)):
        assert mjd(day) == _annex_c_mjd(day.year, day.month, day.day)


def test_local_times_are_sent_as_utc_and_durations_in_bcd() -> None:
    almaty = datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Almaty"))
    assert encode_utc_time(almaty) == bytes.fromhex("EFBA043000")
    assert encode_duration(timedelta(hours=1, minutes=45, seconds=30)) == bytes.fromhex("014530")
    assert decode_duration(bytes.fromhex("014530")) == timedelta(hours=1, minutes=45, seconds=30)
    assert decode_utc_time(b"\xff" * 5) is None
    with pytest.raises(ValueError):
        encode_duration(timedelta(hours=100))


# ---------------------------------------------------------------- DVB text (EN 300 468 Annex A)


def test_latin_text_uses_the_default_table() -> None:
    assert encode_text("Aula TV") == b"Aula TV"
    # ISO/IEC 6937: a non-spacing diacritic (0xC2 acute) precedes the base letter
    assert encode_text("Café") == b"Caf\xc2e"
    assert decode_text(b"Caf\xc2e") == "Café"
    assert decode_text(encode_text("Zürich ½")) == "Zürich ½"


def test_kazakh_and_russian_use_the_utf8_selector() -> None:
    kazakh = "Қазақ тілі: әліппе, ұлттық, һ, і"
    data = encode_text(kazakh)
    assert data[0] == 0x15 and data[1:] == kazakh.encode("utf-8")
    assert decode_text(data) == kazakh
    assert encode_text("Физика")[0] == 0x15


def test_other_selectors_decode() -> None:
    assert decode_text(b"\x01" + "Привет".encode("iso8859_5")) == "Привет"
    assert decode_text(b"\x10\x00\x05" + "Привет".encode("iso8859_5")) == "Привет"
    assert decode_text(b"\x11" + "Ωμέγα".encode("utf-16-be")) == "Ωμέγα"
    assert decode_text(b"Line\x8aTwo \x86bold\x87") == "Line\nTwo bold"


def test_truncation_keeps_whole_characters() -> None:
    data = encode_text("Қазақстан" * 10, 20)
    assert len(data) <= 20 and data[0] == 0x15
    data[1:].decode("utf-8")  # no broken character
    assert len(encode_text("x" * 300, 255)) == 255
