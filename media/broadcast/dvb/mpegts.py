"""MPEG-2 transport stream packets (ISO/IEC 13818-1 §2.4.3): parse, build, reassemble sections.

A packet is 188 bytes: sync byte 0x47, a 4-byte header (TEI, PUSI, priority,
13-bit PID, scrambling, adaptation field control, continuity counter), then an
optional adaptation field (PCR, discontinuity flag, stuffing) and a payload.
PSI/SI sections ride in payloads, each starting after a ``pointer_field`` in a
packet with PUSI set.

Hot paths (injection, analysis) work on ``bytes``/``memoryview`` slices and the
small readers below (``pid_of``, ``read_pcr``); the ``TsPacket`` dataclass is for
callers and tests that want every field named.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from media.errors import MediaError

PACKET_SIZE = 188
SYNC_BYTE = 0x47
NULL_PID = 0x1FFF
PCR_HZ = 27_000_000
PCR_MODULUS = (1 << 33) * 300  # the 33-bit base wraps after about 26.5 hours
NULL_PACKET = bytes([SYNC_BYTE, 0x1F, 0xFF, 0x10]) + b"\xff" * 184
MAX_SECTION_LENGTH = 4096  # EN 300 468 private sections; PSI sections are limited to 1024

# adaptation_field_control values
AFC_PAYLOAD = 0b01
AFC_ADAPTATION = 0b10
AFC_BOTH = 0b11


class NotTransportStream(MediaError):
    """The input is not an MPEG-TS of 188-byte packets (no sync byte pattern)."""


@dataclass(frozen=True)
class AdaptationField:
    """The adaptation field's flags and clock references (27 MHz units)."""

    length: int
    discontinuity: bool = False
    random_access: bool = False
    es_priority: bool = False
    pcr: int | None = None
    opcr: int | None = None
    splice_countdown: int | None = None


@dataclass(frozen=True)
class TsPacket:
    """One transport packet with every header field named as in ISO/IEC 13818-1."""

    pid: int
    payload_unit_start: bool
    continuity_counter: int
    adaptation_field_control: int = AFC_PAYLOAD
    transport_error: bool = False
    transport_priority: bool = False
    scrambling_control: int = 0
    adaptation: AdaptationField | None = None
    payload: bytes = b""

    @property
    def has_payload(self) -> bool:
        return bool(self.adaptation_field_control & 0b01)

    @property
    def pcr(self) -> int | None:
        return self.adaptation.pcr if self.adaptation else None


def _decode_clock(b: bytes | memoryview, off: int) -> int:
    base = (b[off] << 25) | (b[off + 1] << 17) | (b[off + 2] << 9) | (b[off + 3] << 1) | (b[off + 4] >> 7)
    ext = ((b[off + 4] & 0x01) << 8) | b[off + 5]
    return base * 300 + ext


def _encode_clock(value: int) -> bytes:
    value %= PCR_MODULUS
    base, ext = divmod(value, 300)
    return bytes(
        [
            (base >> 25) & 0xFF,
            (base >> 17) & 0xFF,
            (base >> 9) & 0xFF,
            (base >> 1) & 0xFF,
            ((base & 1) << 7) | 0x7E | (ext >> 8),
            ext & 0xFF,
        ]
    )


def pid_of(packet: bytes | memoryview, offset: int = 0) -> int:
    """The 13-bit PID of the packet starting at ``offset``."""
    return ((packet[offset + 1] & 0x1F) << 8) | packet[offset + 2]


def read_pcr(packet: bytes | memoryview, offset: int = 0) -> int | None:
    """The packet's PCR in 27 MHz units, or None when it carries none."""
    if not packet[offset + 3] & 0x20 or packet[offset + 4] == 0 or not packet[offset + 5] & 0x10:
        return None
    return _decode_clock(packet, offset + 6)


def write_pcr(packet: bytes | bytearray, pcr: int) -> bytes:
    """A copy of ``packet`` with its PCR replaced; the packet must already carry one."""
    if read_pcr(packet) is None:
        raise ValueError("packet carries no PCR field to overwrite")
    out = bytearray(packet)
    out[6:12] = _encode_clock(pcr)
    return bytes(out)


def parse_adaptation(data: bytes | memoryview) -> AdaptationField:
    """Decode an adaptation field; ``data`` starts at its length byte."""
    length = data[0]
    if length == 0:
        return AdaptationField(length=0)
    flags = data[1]
    pos = 2
    pcr = opcr = splice = None
    if flags & 0x10:
        pcr = _decode_clock(data, pos)
        pos += 6
    if flags & 0x08:
        opcr = _decode_clock(data, pos)
        pos += 6
    if flags & 0x04:
        splice = data[pos] - 256 if data[pos] & 0x80 else data[pos]
    return AdaptationField(
        length=length,
        discontinuity=bool(flags & 0x80),
        random_access=bool(flags & 0x40),
        es_priority=bool(flags & 0x20),
        pcr=pcr,
        opcr=opcr,
        splice_countdown=splice,
    )


def parse_packet(packet: bytes | memoryview) -> TsPacket:
    """Decode one 188-byte packet; raises NotTransportStream on a wrong size or sync byte."""
    if len(packet) != PACKET_SIZE or packet[0] != SYNC_BYTE:
        raise NotTransportStream("not an MPEG-TS packet: expected 188 bytes starting with 0x47")
    b1, b3 = packet[1], packet[3]
    afc = (b3 >> 4) & 0x03
    pos = 4
    adaptation = None
    if afc & 0b10:
        af_len = packet[4]
        if af_len > 183:
            raise NotTransportStream(f"adaptation field length {af_len} exceeds the packet")
        adaptation = parse_adaptation(packet[4 : 5 + af_len])
        pos = 5 + af_len
    payload = bytes(packet[pos:]) if afc & 0b01 else b""
    return TsPacket(
        pid=((b1 & 0x1F) << 8) | packet[2],
        payload_unit_start=bool(b1 & 0x40),
        continuity_counter=b3 & 0x0F,
        adaptation_field_control=afc,
        transport_error=bool(b1 & 0x80),
        transport_priority=bool(b1 & 0x20),
        scrambling_control=b3 >> 6,
        adaptation=adaptation,
        payload=payload,
    )


def build_packet(
    pid: int,
    payload: bytes = b"",
    *,
    continuity_counter: int = 0,
    payload_unit_start: bool = False,
    pcr: int | None = None,
    discontinuity: bool = False,
    random_access: bool = False,
    transport_error: bool = False,
    scrambling_control: int = 0,
    stuffing: str = "adaptation",
) -> bytes:
    """One 188-byte packet. A short payload is padded: with adaptation-field stuffing
    (ES data, the default) or with 0xFF bytes after it (``stuffing="payload"``, for PSI).
    """
    if not 0 <= pid <= NULL_PID:
        raise ValueError(f"PID {pid} outside 0..0x1FFF")
    af_body = b""
    if pcr is not None or discontinuity or random_access:
        flags = (
            (0x80 if discontinuity else 0) | (0x40 if random_access else 0) | (0x10 if pcr is not None else 0)
        )
        af_body = bytes([flags]) + (_encode_clock(pcr) if pcr is not None else b"")
    room = 184 - (1 + len(af_body) if af_body else 0)
    if len(payload) > room:
        raise ValueError(f"payload of {len(payload)} bytes does not fit ({room} free)")
    gap = room - len(payload)
    af_field = bytes([len(af_body)]) + af_body if af_body else b""
    if gap:
        if stuffing == "payload" and payload:
            payload = payload + b"\xff" * gap
        elif af_body:
            af_field = bytes([len(af_body) + gap]) + af_body + b"\xff" * gap
        elif gap == 1:
            af_field = b"\x00"  # an empty adaptation field: just its length byte
        else:
            af_field = bytes([gap - 1, 0x00]) + b"\xff" * (gap - 2)
    afc = (0b10 if af_field else 0) | (0b01 if payload else 0)
    header = bytes(
        [
            SYNC_BYTE,
            (0x80 if transport_error else 0) | (0x40 if payload_unit_start else 0) | (pid >> 8),
            pid & 0xFF,
            (scrambling_control << 6) | (afc << 4) | (continuity_counter & 0x0F),
        ]
    )
    return header + af_field + payload


def packetize_section(section: bytes, pid: int, cc_start: int = 0) -> list[bytes]:
    """Packets carrying one section from the start of a payload (pointer_field 0),
    0xFF-stuffed at the end, with continuity counters cc_start, cc_start+1, … (mod 16).
    """
    return packetize_sections([section], pid, cc_start)


def packetize_sections(sections: list[bytes], pid: int, cc_start: int = 0) -> list[bytes]:
    """Packets carrying sections back to back, each section starting a new packet."""
    packets: list[bytes] = []
    cc = cc_start
    for section in sections:
        data = b"\x00" + section  # pointer_field
        first = True
        for pos in range(0, len(data), 184):
            chunk = data[pos : pos + 184]
            if len(chunk) < 184:
                chunk += b"\xff" * (184 - len(chunk))
            header = bytes([SYNC_BYTE, (0x40 if first else 0) | (pid >> 8), pid & 0xFF, 0x10 | (cc & 0x0F)])
            packets.append(header + chunk)
            cc = (cc + 1) & 0x0F
            first = False
    return packets


def set_continuity_counter(packet: bytes | bytearray, cc: int) -> bytes:
    """A copy of ``packet`` with its continuity counter set to ``cc``."""
    return bytes([packet[0], packet[1], packet[2], (packet[3] & 0xF0) | (cc & 0x0F)]) + bytes(packet[4:])


class SectionAssembler:
    """Reassembles sections on one PID from packet payloads.

    Usage: ``for section in asm.feed(payload, pusi): ...``. Call ``reset()`` after a
    continuity error so a half-collected section is dropped instead of corrupted.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._collecting = False

    def reset(self) -> None:
        self._buf.clear()
        self._collecting = False

    def feed(self, payload: bytes | memoryview, payload_unit_start: bool) -> list[bytes]:
        sections: list[bytes] = []
        if payload_unit_start:
            if not payload:
                return sections
            pointer = payload[0]
            if self._collecting:
                self._buf += payload[1 : 1 + pointer]
                sections.extend(self._drain())
            self._buf = bytearray(payload[1 + pointer :])
            self._collecting = True
        elif self._collecting:
            self._buf += payload
        else:
            return sections
        sections.extend(self._drain())
        return sections

    def _drain(self) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buf
        while True:
            if not buf or buf[0] == 0xFF:  # stuffing: the rest of the packet is padding
                buf.clear()
                self._collecting = False
                break
            if len(buf) < 3:
                break
            total = 3 + (((buf[1] & 0x0F) << 8) | buf[2])
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out


def find_sync(data: bytes, start: int = 0, needed: int = 5) -> int:
    """Offset of the first position from ``start`` where ``needed`` sync bytes
    follow each other 188 bytes apart, or -1."""
    limit = len(data) - (needed - 1) * PACKET_SIZE
    pos = start
    while pos < limit:
        pos = data.find(b"\x47", pos, limit)
        if pos < 0:
            return -1
        if all(data[pos + k * PACKET_SIZE] == SYNC_BYTE for k in range(1, needed)):
            return pos
        pos += 1
    return -1


def open_source(source: bytes | bytearray | memoryview | str | Path | BinaryIO) -> tuple[BinaryIO, bool]:
    """A binary reader for ``source`` and whether the caller must close it."""
    import io

    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.open("rb"), True
        except FileNotFoundError:
            raise MediaError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise MediaError(f"{path}: is a directory, not a transport stream file") from None
        except OSError as exc:
            raise MediaError(f"{path}: cannot read ({exc.strerror})") from None
    return source, False


def iter_chunks(
    source: bytes | bytearray | memoryview | str | Path | BinaryIO,
    packets_per_chunk: int = 4096,
    *,
    name: str = "input",
) -> Iterator[bytes]:
    """Whole-packet chunks (a multiple of 188 bytes) of a stream, aligned on the first sync.

    Raises NotTransportStream when the start of the input shows no 188-byte packet
    rhythm; a trailing partial packet is dropped.
    """
    reader, owned = open_source(source)
    try:
        size = PACKET_SIZE * packets_per_chunk
        head = reader.read(size)
        if not head:
            raise NotTransportStream(f"{name}: empty input, not an MPEG transport stream")
        start = find_sync(head, 0, needed=min(5, max(1, len(head) // PACKET_SIZE)))
        if start < 0 or start >= PACKET_SIZE:
            raise NotTransportStream(
                f"{name}: not an MPEG transport stream (no 0x47 sync byte every 188 bytes at the start)"
            )
        buf = head[start:]
        while True:
            whole = len(buf) - len(buf) % PACKET_SIZE
            if whole:
                yield buf[:whole]
            rest = buf[whole:]
            more = reader.read(size)
            if not more:
                return
            buf = rest + more
    finally:
        if owned:
            reader.close()


def iter_packets(
    source: bytes | bytearray | memoryview | str | Path | BinaryIO, *, name: str = "input"
) -> Iterator[memoryview]:
    """Every 188-byte packet of a stream as a memoryview, read in chunks (constant memory)."""
    for chunk in iter_chunks(source, name=name):
        view = memoryview(chunk)
        for off in range(0, len(chunk), PACKET_SIZE):
            yield view[off : off + PACKET_SIZE]
