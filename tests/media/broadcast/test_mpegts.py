"""TS packets: header fields, adaptation field, PCR, packetising sections and reassembling them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from media.broadcast.dvb.mpegts import (
    NULL_PACKET,
    NotTransportStream,
    SectionAssembler,
    build_packet,
    iter_chunks,
    iter_packets,
    packetize_section,
    packetize_sections,
    parse_packet,
    pid_of,
    read_pcr,
    set_continuity_counter,
    write_pcr,
)


def test_null_packet_by_hand() -> None:
    assert NULL_PACKET[:4] == bytes([0x47, 0x1F, 0xFF, 0x10]) and len(NULL_PACKET) == 188
    p = parse_packet(NULL_PACKET)
    assert (p.pid, p.payload_unit_start, p.continuity_counter, p.adaptation_field_control) == (
        0x1FFF,
        False,
        0,
        1,
    )


def test_header_fields_by_hand() -> None:
    # TEI 0, PUSI 1, priority 0, PID 0x0100, not scrambled, payload only, CC 5
    raw = bytes([0x47, 0x41, 0x00, 0x15]) + bytes(range(184))
    p = parse_packet(raw)
    assert (p.pid, p.payload_unit_start, p.continuity_counter, p.transport_error) == (0x100, True, 5, False)
    assert p.payload == bytes(range(184))
    assert build_packet(0x100, bytes(range(184)), continuity_counter=5, payload_unit_start=True) == raw


@pytest.mark.parametrize("size", [0, 1, 2, 100, 182, 183, 184])
def test_every_payload_size_round_trips(size: int) -> None:
    payload = bytes((i * 7) & 0xFF for i in range(size))
    raw = build_packet(0x1234 & 0x1FFF, payload, continuity_counter=15)
    assert len(raw) == 188
    p = parse_packet(raw)
    assert p.payload == payload and p.continuity_counter == 15 and p.pid == 0x1234 & 0x1FFF


@pytest.mark.parametrize("pcr", [0, 1, 299, 300, 27_000_000 * 3600, (1 << 33) * 300 - 1])
def test_pcr_round_trips(pcr: int) -> None:
    raw = build_packet(0x100, b"abc", pcr=pcr, discontinuity=True, random_access=True)
    p = parse_packet(raw)
    assert p.pcr == pcr == read_pcr(raw)
    assert p.adaptation is not None and p.adaptation.discontinuity and p.adaptation.random_access
    assert p.payload == b"abc"
    assert read_pcr(write_pcr(raw, 12345)) == 12345


def test_pcr_by_hand() -> None:
    # base 1, extension 2: 33-bit base split over 4.x bytes, then 6 reserved '1' bits and 9-bit extension
    raw = build_packet(0x100, b"", pcr=1 * 300 + 2)
    assert raw[3] >> 4 == 0b10  # adaptation field only
    assert raw[4] == 183 and raw[5] == 0x10
    assert raw[6:12] == bytes([0, 0, 0, 0, 0x80 | 0x7E, 0x02])
    assert read_pcr(build_packet(0x100, b"x")) is None


def test_continuity_counter_is_set_without_touching_the_rest() -> None:
    raw = build_packet(0x20, b"x" * 184, continuity_counter=3)
    again = set_continuity_counter(raw, 12)
    assert parse_packet(again).continuity_counter == 12 and again[4:] == raw[4:]


def _section(table_id: int, body_len: int) -> bytes:
    body = bytes((table_id + i) & 0xFF for i in range(body_len))
    return bytes([table_id, 0xB0 | (body_len >> 8), body_len & 0xFF]) + body


def test_packetize_then_reassemble_long_section() -> None:
    section = _section(0x42, 600)
    packets = packetize_section(section, 0x11, cc_start=14)
    assert len(packets) == 4  # 1 pointer byte + 603 bytes = 604 > 3 * 184
    assert [parse_packet(p).continuity_counter for p in packets] == [14, 15, 0, 1]
    assert [parse_packet(p).payload_unit_start for p in packets] == [True, False, False, False]
    assert packets[0][4] == 0  # pointer_field
    asm = SectionAssembler()
    got = [s for p in packets for s in asm.feed(parse_packet(p).payload, parse_packet(p).payload_unit_start)]
    assert got == [section]


def test_two_sections_in_one_packet_and_a_pointer_field() -> None:
    a, b, c = _section(0x4E, 20), _section(0x4E, 30), _section(0x50, 300)
    # a and b share one packet; c starts inside the second packet after the tail of nothing
    payload1 = b"\x00" + a + b + c[: 184 - 1 - len(a) - len(b)]
    rest = c[184 - 1 - len(a) - len(b) :]
    payload2 = rest + b"\xff" * (184 - len(rest))
    asm = SectionAssembler()
    assert asm.feed(payload1, True) == [a, b]
    assert asm.feed(payload2, False) == [c]
    # a new section starting mid-packet: pointer_field says where
    tail = _section(0x70, 5)
    head = _section(0x73, 250)
    first = b"\x00" + head[:183]
    second = bytes([len(head) - 183]) + head[183:] + tail
    second += b"\xff" * (184 - len(second))
    asm = SectionAssembler()
    assert asm.feed(first, True) == []
    assert asm.feed(second, True) == [head, tail]


def test_packetize_sections_starts_each_in_a_new_packet() -> None:
    secs = [_section(0x4E, 10), _section(0x4E, 10)]
    packets = packetize_sections(secs, 0x12, 0)
    assert len(packets) == 2 and all(pid_of(p) == 0x12 for p in packets)


def test_iterators_skip_leading_junk_and_refuse_non_ts(tmp_path: Path) -> None:
    stream = b"".join(build_packet(0x100, b"p", continuity_counter=i & 15) for i in range(20))
    path = tmp_path / "x.ts"
    path.write_bytes(b"\x00\x01junk" + stream + b"\x47\x00")  # junk before, partial packet after
    assert len(list(iter_packets(path))) == 20
    assert sum(len(c) for c in iter_chunks(io.BytesIO(stream), packets_per_chunk=3)) == len(stream)
    with pytest.raises(NotTransportStream, match="not an MPEG transport stream"):
        list(iter_packets(b"hello world " * 100))
    with pytest.raises(NotTransportStream, match="empty"):
        list(iter_packets(b""))
