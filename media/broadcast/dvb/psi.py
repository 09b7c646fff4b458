"""PSI/SI sections and tables: PAT, CAT, PMT (ISO/IEC 13818-1), NIT, SDT (EN 300 468).

Pure functions: ``encode_*`` return a complete section (header, body, CRC_32),
``decode_*`` take one section and return a dataclass. Also here: descriptors
(generic loop plus the ones we write: network name, service list, service) and
the SI time coding (MJD + BCD UTC time, BCD duration) shared by EIT, TDT and TOT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from media.broadcast.dvb.crc32 import crc32_mpeg2, crc32_mpeg2_fast
from media.broadcast.dvb.si_text import decode_text, encode_text
from media.errors import MediaError

# PIDs and table ids (ISO/IEC 13818-1 Table 2-3, EN 300 468 Tables 1 and 2)
PID_PAT = 0x0000
PID_CAT = 0x0001
PID_NIT = 0x0010
PID_SDT = 0x0011
PID_EIT = 0x0012
PID_TDT = 0x0014  # TDT and TOT share it

TID_PAT = 0x00
TID_CAT = 0x01
TID_PMT = 0x02
TID_NIT_ACTUAL = 0x40
TID_NIT_OTHER = 0x41
TID_SDT_ACTUAL = 0x42
TID_SDT_OTHER = 0x46
TID_EIT_PF_ACTUAL = 0x4E
TID_EIT_PF_OTHER = 0x4F
TID_TDT = 0x70
TID_TOT = 0x73

TABLE_NAMES = {
    TID_PAT: "PAT",
    TID_CAT: "CAT",
    TID_PMT: "PMT",
    TID_NIT_ACTUAL: "NIT actual",
    TID_NIT_OTHER: "NIT other",
    TID_SDT_ACTUAL: "SDT actual",
    TID_SDT_OTHER: "SDT other",
    TID_EIT_PF_ACTUAL: "EIT p/f actual",
    TID_EIT_PF_OTHER: "EIT p/f other",
    TID_TDT: "TDT",
    TID_TOT: "TOT",
}


def table_name(table_id: int) -> str:
    """A short human name for a table id (EIT schedule ids 0x50–0x6F included)."""
    if 0x50 <= table_id <= 0x5F:
        return f"EIT schedule actual 0x{table_id:02X}"
    if 0x60 <= table_id <= 0x6F:
        return f"EIT schedule other 0x{table_id:02X}"
    return TABLE_NAMES.get(table_id, f"table 0x{table_id:02X}")


# descriptor tags (EN 300 468 Table 12)
TAG_NETWORK_NAME = 0x40
TAG_SERVICE_LIST = 0x41
TAG_SERVICE = 0x48
TAG_SHORT_EVENT = 0x4D
TAG_EXTENDED_EVENT = 0x4E
TAG_CONTENT = 0x54
TAG_PARENTAL_RATING = 0x55
TAG_LOCAL_TIME_OFFSET = 0x58

SERVICE_TYPE_DIGITAL_TV = 0x01
SERVICE_TYPE_AVC_HD_TV = 0x19


class SectionError(MediaError):
    """A section that cannot be decoded (too short, lengths that disagree, bad CRC)."""


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """A decoded section header; ``body`` is what lies between the header and the CRC."""

    table_id: int
    section_syntax_indicator: bool
    body: bytes
    table_id_extension: int = 0
    version_number: int = 0
    current_next_indicator: bool = True
    section_number: int = 0
    last_section_number: int = 0
    crc_ok: bool | None = None  # None: this section type carries no CRC (TDT)
    raw: bytes = b""


def build_long_section(
    table_id: int,
    table_id_extension: int,
    body: bytes,
    *,
    version_number: int = 0,
    section_number: int = 0,
    last_section_number: int = 0,
    current_next_indicator: bool = True,
    private_indicator: bool = False,
) -> bytes:
    """A section with the long syntax (section_syntax_indicator 1) and its CRC_32.

    ``private_indicator`` sets the bit after section_syntax_indicator, which is
    '0' in MPEG PSI (PAT, CAT, PMT) and reserved_future_use '1' in DVB SI.
    """
    section_length = 5 + len(body) + 4
    if section_length > 4093:
        raise ValueError(f"section body of {len(body)} bytes is too long")
    head = bytes(
        [
            table_id,
            0x80 | (0x40 if private_indicator else 0) | 0x30 | (section_length >> 8),
            section_length & 0xFF,
            table_id_extension >> 8,
            table_id_extension & 0xFF,
            0xC0 | ((version_number & 0x1F) << 1) | (1 if current_next_indicator else 0),
            section_number,
            last_section_number,
        ]
    )
    data = head + body
    return data + crc32_mpeg2(data).to_bytes(4, "big")


def build_short_section(table_id: int, body: bytes, *, with_crc: bool = False) -> bytes:
    """A section with the short syntax (section_syntax_indicator 0); TOT adds a CRC_32."""
    section_length = len(body) + (4 if with_crc else 0)
    # reserved_future_use and reserved bits are '1' (EN 300 468 5.2.5/5.2.6)
    data = bytes([table_id, 0x70 | (section_length >> 8), section_length & 0xFF]) + body
    if with_crc:
        data += crc32_mpeg2(data).to_bytes(4, "big")
    return data


_CRC_TABLES_SHORT = {TID_TOT}


def parse_section(data: bytes | memoryview, *, check_crc: bool = True) -> Section:
    """Decode a section's header and check its CRC (where the table has one)."""
    data = bytes(data)
    if len(data) < 3:
        raise SectionError(f"section of {len(data)} bytes is too short")
    table_id = data[0]
    ssi = bool(data[1] & 0x80)
    length = ((data[1] & 0x0F) << 8) | data[2]
    if len(data) != 3 + length:
        raise SectionError(
            f"{table_name(table_id)}: section_length {length} disagrees with {len(data) - 3} bytes present"
        )
    if not ssi:
        has_crc = table_id in _CRC_TABLES_SHORT
        crc_ok = (crc32_mpeg2_fast(data) == 0) if (has_crc and check_crc) else None
        body = data[3:-4] if has_crc else data[3:]
        return Section(table_id=table_id, section_syntax_indicator=False, body=body, crc_ok=crc_ok, raw=data)
    if length < 9:
        raise SectionError(f"{table_name(table_id)}: section_length {length} too short for long syntax")
    crc_ok = (crc32_mpeg2_fast(data) == 0) if check_crc else None
    return Section(
        table_id=table_id,
        section_syntax_indicator=True,
        body=data[8:-4],
        table_id_extension=(data[3] << 8) | data[4],
        version_number=(data[5] >> 1) & 0x1F,
        current_next_indicator=bool(data[5] & 0x01),
        section_number=data[6],
        last_section_number=data[7],
        crc_ok=crc_ok,
        raw=data,
    )


# --------------------------------------------------------------------------- descriptors


@dataclass(frozen=True)
class Descriptor:
    """One descriptor as tag + data; typed decoders below read the common ones."""

    tag: int
    data: bytes

    def encode(self) -> bytes:
        if len(self.data) > 255:
            raise ValueError(f"descriptor 0x{self.tag:02X} data of {len(self.data)} bytes exceeds 255")
        return bytes([self.tag, len(self.data)]) + self.data


def parse_descriptors(data: bytes | memoryview) -> list[Descriptor]:
    """Split a descriptor loop into descriptors."""
    data = bytes(data)
    out: list[Descriptor] = []
    pos = 0
    while pos + 2 <= len(data):
        tag, length = data[pos], data[pos + 1]
        if pos + 2 + length > len(data):
            raise SectionError(f"descriptor 0x{tag:02X} of length {length} overruns its loop")
        out.append(Descriptor(tag, data[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return out


def encode_descriptors(descriptors: list[Descriptor] | tuple[Descriptor, ...]) -> bytes:
    return b"".join(d.encode() for d in descriptors)


def _loop(payload: bytes) -> bytes:
    """A 12-bit loop length (with 4 reserved '1' bits) followed by the loop."""
    if len(payload) > 0x0FFF:
        raise ValueError("descriptor loop longer than 4095 bytes")
    return bytes([0xF0 | (len(payload) >> 8), len(payload) & 0xFF]) + payload


def service_descriptor(service_type: int, provider_name: str, service_name: str) -> Descriptor:
    """Service descriptor (0x48): type plus provider and service names."""
    provider = encode_text(provider_name, 100)
    name = encode_text(service_name, 100)
    return Descriptor(
        TAG_SERVICE, bytes([service_type, len(provider)]) + provider + bytes([len(name)]) + name
    )


def parse_service_descriptor(d: Descriptor) -> tuple[int, str, str]:
    """(service_type, provider_name, service_name) of a service descriptor."""
    data = d.data
    plen = data[1]
    provider = decode_text(data[2 : 2 + plen])
    nlen = data[2 + plen]
    name = decode_text(data[3 + plen : 3 + plen + nlen])
    return data[0], provider, name


def network_name_descriptor(name: str) -> Descriptor:
    return Descriptor(TAG_NETWORK_NAME, encode_text(name, 255))


def service_list_descriptor(services: list[tuple[int, int]]) -> Descriptor:
    """Service list descriptor (0x41) from (service_id, service_type) pairs."""
    return Descriptor(TAG_SERVICE_LIST, b"".join(bytes([sid >> 8, sid & 0xFF, t]) for sid, t in services))


# --------------------------------------------------------------------------- time coding


_MJD_EPOCH = date(1858, 11, 17)


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def _from_bcd(byte: int) -> int:
    hi, lo = byte >> 4, byte & 0x0F
    if hi > 9 or lo > 9:
        raise SectionError(f"0x{byte:02X} is not a BCD digit pair")
    return hi * 10 + lo


def mjd(day: date) -> int:
    """Modified Julian Date of a calendar day (EN 300 468 Annex C)."""
    return (day - _MJD_EPOCH).days


def encode_utc_time(when: datetime) -> bytes:
    """The 40-bit UTC time field: 16-bit MJD then hh mm ss in BCD. Naive times are UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    day = mjd(when.date())
    return bytes([day >> 8, day & 0xFF, _bcd(when.hour), _bcd(when.minute), _bcd(when.second)])


def decode_utc_time(data: bytes | memoryview) -> datetime | None:
    """The UTC datetime of a 40-bit time field; None for the all-ones 'undefined' value."""
    data = bytes(data[:5])
    if data == b"\xff" * 5:
        return None
    day = _MJD_EPOCH + timedelta(days=(data[0] << 8) | data[1])
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=_from_bcd(data[2]), minutes=_from_bcd(data[3]), seconds=_from_bcd(data[4])
    )


def encode_duration(duration: timedelta) -> bytes:
    """The 24-bit duration field: hh mm ss in BCD (whole seconds, at most 99:59:59)."""
    seconds = int(duration.total_seconds())
    if not 0 <= seconds < 100 * 3600:
        raise ValueError(f"duration {duration} outside 0..99:59:59")
    hours, rest = divmod(seconds, 3600)
    return bytes([_bcd(hours), _bcd(rest // 60), _bcd(rest % 60)])


def decode_duration(data: bytes | memoryview) -> timedelta:
    return timedelta(hours=_from_bcd(data[0]), minutes=_from_bcd(data[1]), seconds=_from_bcd(data[2]))


# --------------------------------------------------------------------------- PAT


@dataclass(frozen=True)
class Pat:
    """Program association: transport_stream_id and program_number -> PMT PID (0 -> NIT PID)."""

    transport_stream_id: int
    programs: dict[int, int]
    version_number: int = 0


def encode_pat(pat: Pat) -> bytes:
    body = b"".join(
        bytes([num >> 8, num & 0xFF, 0xE0 | (pid >> 8), pid & 0xFF])
        for num, pid in sorted(pat.programs.items())
    )
    return build_long_section(TID_PAT, pat.transport_stream_id, body, version_number=pat.version_number)


def decode_pat(section: Section) -> Pat:
    _expect(section, TID_PAT)
    body = section.body
    programs = {}
    for pos in range(0, len(body) - 3, 4):
        programs[(body[pos] << 8) | body[pos + 1]] = ((body[pos + 2] & 0x1F) << 8) | body[pos + 3]
    return Pat(section.table_id_extension, programs, section.version_number)


# --------------------------------------------------------------------------- PMT


@dataclass(frozen=True)
class PmtStream:
    stream_type: int
    pid: int
    descriptors: tuple[Descriptor, ...] = ()


STREAM_TYPES = {
    0x01: "MPEG-1 video",
    0x02: "MPEG-2 video",
    0x03: "MPEG-1 audio",
    0x04: "MPEG-2 audio",
    0x06: "PES private data",
    0x0F: "AAC (ADTS)",
    0x11: "AAC (LATM)",
    0x1B: "H.264",
    0x24: "HEVC",
    0x81: "AC-3",
}


@dataclass(frozen=True)
class Pmt:
    """Program map: PCR PID and elementary streams of one program."""

    program_number: int
    pcr_pid: int
    streams: tuple[PmtStream, ...]
    program_info: tuple[Descriptor, ...] = ()
    version_number: int = 0


def encode_pmt(pmt: Pmt) -> bytes:
    info = encode_descriptors(pmt.program_info)
    body = bytearray([0xE0 | (pmt.pcr_pid >> 8), pmt.pcr_pid & 0xFF]) + _loop(info)
    for s in pmt.streams:
        es_info = encode_descriptors(s.descriptors)
        body += bytes([s.stream_type, 0xE0 | (s.pid >> 8), s.pid & 0xFF]) + _loop(es_info)
    return build_long_section(TID_PMT, pmt.program_number, bytes(body), version_number=pmt.version_number)


def decode_pmt(section: Section) -> Pmt:
    _expect(section, TID_PMT)
    b = section.body
    pcr_pid = ((b[0] & 0x1F) << 8) | b[1]
    info_len = ((b[2] & 0x0F) << 8) | b[3]
    info = tuple(parse_descriptors(b[4 : 4 + info_len]))
    pos = 4 + info_len
    streams = []
    while pos + 5 <= len(b):
        es_len = ((b[pos + 3] & 0x0F) << 8) | b[pos + 4]
        streams.append(
            PmtStream(
                b[pos],
                ((b[pos + 1] & 0x1F) << 8) | b[pos + 2],
                tuple(parse_descriptors(b[pos + 5 : pos + 5 + es_len])),
            )
        )
        pos += 5 + es_len
    return Pmt(section.table_id_extension, pcr_pid, tuple(streams), info, section.version_number)


def decode_cat(section: Section) -> tuple[Descriptor, ...]:
    """The CA descriptors of a conditional access table."""
    _expect(section, TID_CAT)
    return tuple(parse_descriptors(section.body))


# --------------------------------------------------------------------------- SDT


@dataclass(frozen=True)
class SdtService:
    """One service in the SDT; ``name``/``provider``/``service_type`` come from its service descriptor."""

    service_id: int
    name: str = ""
    provider: str = ""
    service_type: int = SERVICE_TYPE_DIGITAL_TV
    eit_schedule: bool = False
    eit_present_following: bool = False
    running_status: int = 4
    free_ca_mode: bool = False
    other_descriptors: tuple[Descriptor, ...] = ()


@dataclass(frozen=True)
class Sdt:
    transport_stream_id: int
    original_network_id: int
    services: tuple[SdtService, ...]
    version_number: int = 0
    actual: bool = True


def encode_sdt(sdt: Sdt) -> bytes:
    body = bytearray([sdt.original_network_id >> 8, sdt.original_network_id & 0xFF, 0xFF])
    for s in sdt.services:
        descs = [service_descriptor(s.service_type, s.provider, s.name), *s.other_descriptors]
        loop = encode_descriptors(descs)
        body += (
            bytes(
                [
                    s.service_id >> 8,
                    s.service_id & 0xFF,
                    0xFC | (0x02 if s.eit_schedule else 0) | (0x01 if s.eit_present_following else 0),
                    (s.running_status << 5) | (0x10 if s.free_ca_mode else 0) | (len(loop) >> 8),
                    len(loop) & 0xFF,
                ]
            )
            + loop
        )
    tid = TID_SDT_ACTUAL if sdt.actual else TID_SDT_OTHER
    return build_long_section(
        tid, sdt.transport_stream_id, bytes(body), version_number=sdt.version_number, private_indicator=True
    )


def decode_sdt(section: Section) -> Sdt:
    if section.table_id not in (TID_SDT_ACTUAL, TID_SDT_OTHER):
        raise SectionError(f"table id 0x{section.table_id:02X} is not an SDT")
    b = section.body
    onid = (b[0] << 8) | b[1]
    pos = 3
    services = []
    while pos + 5 <= len(b):
        sid = (b[pos] << 8) | b[pos + 1]
        flags = b[pos + 2]
        status_len = (b[pos + 3] << 8) | b[pos + 4]
        loop_len = status_len & 0x0FFF
        descs = parse_descriptors(b[pos + 5 : pos + 5 + loop_len])
        stype, provider, name = SERVICE_TYPE_DIGITAL_TV, "", ""
        others = []
        for d in descs:
            if d.tag == TAG_SERVICE:
                stype, provider, name = parse_service_descriptor(d)
            else:
                others.append(d)
        services.append(
            SdtService(
                service_id=sid,
                name=name,
                provider=provider,
                service_type=stype,
                eit_schedule=bool(flags & 0x02),
                eit_present_following=bool(flags & 0x01),
                running_status=status_len >> 13,
                free_ca_mode=bool(status_len & 0x1000),
                other_descriptors=tuple(others),
            )
        )
        pos += 5 + loop_len
    return Sdt(
        section.table_id_extension,
        onid,
        tuple(services),
        section.version_number,
        section.table_id == TID_SDT_ACTUAL,
    )


def sdt_with_eit_flags(section: bytes, service_id: int, *, schedule: bool, present_following: bool) -> bytes:
    """The same SDT section with one service's EIT_schedule / EIT_present_following flags
    set as given and the CRC recomputed; lengths and every other byte unchanged.
    Returns ``section`` itself when the service is not in it."""
    sec = parse_section(section, check_crc=False)
    if sec.table_id not in (TID_SDT_ACTUAL, TID_SDT_OTHER):
        raise SectionError(f"table id 0x{sec.table_id:02X} is not an SDT")
    data = bytearray(section)
    pos = 8 + 3
    end = len(data) - 4
    found = False
    while pos + 5 <= end:
        sid = (data[pos] << 8) | data[pos + 1]
        if sid == service_id:
            flags = data[pos + 2] & ~0x03
            data[pos + 2] = flags | (0x02 if schedule else 0) | (0x01 if present_following else 0)
            found = True
        pos += 5 + (((data[pos + 3] & 0x0F) << 8) | data[pos + 4])
    if not found:
        return section
    data[-4:] = crc32_mpeg2(bytes(data[:-4])).to_bytes(4, "big")
    return bytes(data)


# --------------------------------------------------------------------------- NIT


@dataclass(frozen=True)
class NitTransportStream:
    transport_stream_id: int
    original_network_id: int
    descriptors: tuple[Descriptor, ...] = ()


@dataclass(frozen=True)
class Nit:
    network_id: int
    network_name: str = ""
    transport_streams: tuple[NitTransportStream, ...] = ()
    other_descriptors: tuple[Descriptor, ...] = ()
    version_number: int = 0
    actual: bool = True


def encode_nit(nit: Nit) -> bytes:
    net = encode_descriptors(
        ([network_name_descriptor(nit.network_name)] if nit.network_name else [])
        + list(nit.other_descriptors)
    )
    ts_loop = bytearray()
    for ts in nit.transport_streams:
        d = encode_descriptors(ts.descriptors)
        ts_loop += bytes(
            [
                ts.transport_stream_id >> 8,
                ts.transport_stream_id & 0xFF,
                ts.original_network_id >> 8,
                ts.original_network_id & 0xFF,
            ]
        ) + _loop(d)
    body = _loop(net) + _loop(bytes(ts_loop))
    tid = TID_NIT_ACTUAL if nit.actual else TID_NIT_OTHER
    return build_long_section(
        tid, nit.network_id, body, version_number=nit.version_number, private_indicator=True
    )


def decode_nit(section: Section) -> Nit:
    if section.table_id not in (TID_NIT_ACTUAL, TID_NIT_OTHER):
        raise SectionError(f"table id 0x{section.table_id:02X} is not a NIT")
    b = section.body
    net_len = ((b[0] & 0x0F) << 8) | b[1]
    name = ""
    others = []
    for d in parse_descriptors(b[2 : 2 + net_len]):
        if d.tag == TAG_NETWORK_NAME:
            name = decode_text(d.data)
        else:
            others.append(d)
    pos = 2 + net_len
    loop_len = ((b[pos] & 0x0F) << 8) | b[pos + 1]
    pos += 2
    end = min(len(b), pos + loop_len)
    streams = []
    while pos + 6 <= end:
        dlen = ((b[pos + 4] & 0x0F) << 8) | b[pos + 5]
        streams.append(
            NitTransportStream(
                (b[pos] << 8) | b[pos + 1],
                (b[pos + 2] << 8) | b[pos + 3],
                tuple(parse_descriptors(b[pos + 6 : pos + 6 + dlen])),
            )
        )
        pos += 6 + dlen
    return Nit(
        section.table_id_extension,
        name,
        tuple(streams),
        tuple(others),
        section.version_number,
        section.table_id == TID_NIT_ACTUAL,
    )


def _expect(section: Section, table_id: int) -> None:
    if section.table_id != table_id:
        raise SectionError(f"expected {table_name(table_id)}, got table id 0x{section.table_id:02X}")
