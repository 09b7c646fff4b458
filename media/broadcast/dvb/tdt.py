"""Time and Date Table and Time Offset Table (EN 300 468 §5.2.5, §5.2.6, §6.2.20).

TDT carries UTC only (8 bytes, no CRC). TOT carries UTC plus a
local_time_offset_descriptor: per country (ISO 3166 alpha-3, "KAZ") and region,
the current offset from UTC, when it next changes and the offset after that.
Kazakhstan has used one zone, UTC+5, without daylight saving since 1 March 2024;
``local_time_offset_for_zone`` derives the fields from the IANA zone so a country
that changes its clocks needs no code change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from media.broadcast.dvb.psi import (
    TAG_LOCAL_TIME_OFFSET,
    TID_TDT,
    TID_TOT,
    Descriptor,
    Section,
    SectionError,
    build_short_section,
    decode_utc_time,
    encode_descriptors,
    encode_utc_time,
    parse_descriptors,
)
from media.errors import MediaError


@dataclass(frozen=True)
class LocalTimeOffset:
    """One region's entry of the local time offset descriptor."""

    country_code: str  # ISO 3166 alpha-3, e.g. "KAZ"
    offset: timedelta  # local time minus UTC, e.g. +5 h
    time_of_change: datetime  # UTC instant of the next change
    next_offset: timedelta  # offset after time_of_change
    region_id: int = 0  # 0: the whole country (no time zone extension)

    def __post_init__(self) -> None:
        if len(self.country_code) != 3 or not self.country_code.isascii():
            raise MediaError(f"country code {self.country_code!r} is not ISO 3166 alpha-3 (e.g. 'KAZ')")
        if not 0 <= self.region_id <= 0x3F:
            raise MediaError(f"country_region_id {self.region_id} outside 0..63")


@dataclass(frozen=True)
class Tot:
    utc_time: datetime
    offsets: tuple[LocalTimeOffset, ...]
    other_descriptors: tuple[Descriptor, ...] = ()


def _bcd_hhmm(delta: timedelta) -> bytes:
    minutes = abs(int(delta.total_seconds())) // 60
    hours, mins = divmod(minutes, 60)
    if hours > 99:
        raise MediaError(f"time offset {delta} too large")
    return bytes([((hours // 10) << 4) | (hours % 10), ((mins // 10) << 4) | (mins % 10)])


def _from_bcd_hhmm(data: bytes) -> timedelta:
    def digits(b: int) -> int:
        return (b >> 4) * 10 + (b & 0x0F)

    return timedelta(hours=digits(data[0]), minutes=digits(data[1]))


def local_time_offset_descriptor(offsets: Sequence[LocalTimeOffset]) -> Descriptor:
    """Local time offset descriptor (0x58), 13 bytes per region."""
    data = bytearray()
    for o in offsets:
        negative = o.offset < timedelta(0)
        data += o.country_code.upper().encode("ascii")
        data.append((o.region_id << 2) | 0x02 | (0x01 if negative else 0))
        data += _bcd_hhmm(o.offset)
        data += encode_utc_time(o.time_of_change)
        data += _bcd_hhmm(o.next_offset)
    return Descriptor(TAG_LOCAL_TIME_OFFSET, bytes(data))


def parse_local_time_offsets(d: Descriptor) -> tuple[LocalTimeOffset, ...]:
    out = []
    data = d.data
    for pos in range(0, len(data) - 12, 13):
        entry = data[pos : pos + 13]
        sign = -1 if entry[3] & 0x01 else 1
        out.append(
            LocalTimeOffset(
                country_code=entry[:3].decode("ascii", errors="replace"),
                region_id=entry[3] >> 2,
                offset=sign * _from_bcd_hhmm(entry[4:6]),
                time_of_change=decode_utc_time(entry[6:11]) or datetime(1858, 11, 17, tzinfo=UTC),
                next_offset=sign * _from_bcd_hhmm(entry[11:13]),
            )
        )
    return tuple(out)


def local_time_offset_for_zone(
    zone: str | ZoneInfo, at: datetime, *, country_code: str = "KAZ", region_id: int = 0
) -> LocalTimeOffset:
    """The descriptor entry for an IANA zone at instant ``at``.

    The next change is searched a year ahead (daily, then to the minute). A zone
    without one (Asia/Almaty today) gets time_of_change one year ahead, at 00:00
    UTC, with next_offset equal to the current offset, so receivers see no change.
    """
    if isinstance(zone, str):
        try:
            zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MediaError(
                f"unknown time zone {zone!r} (expected an IANA name such as 'Asia/Almaty')"
            ) from None
    at_utc = at.astimezone(UTC)
    current = at_utc.astimezone(zone).utcoffset() or timedelta(0)
    day = timedelta(days=1)
    probe = at_utc
    for _ in range(366):
        nxt = probe + day
        if (nxt.astimezone(zone).utcoffset() or timedelta(0)) != current:
            lo, hi = probe, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if (mid.astimezone(zone).utcoffset() or timedelta(0)) == current:
                    lo = mid
                else:
                    hi = mid
            change = hi.replace(second=0, microsecond=0)
            return LocalTimeOffset(
                country_code, current, change, change.astimezone(zone).utcoffset() or timedelta(0), region_id
            )
        probe = nxt
    horizon = datetime(at_utc.year + 1, at_utc.month, 1, tzinfo=UTC)
    return LocalTimeOffset(country_code, current, horizon, current, region_id)


def encode_tdt(utc_time: datetime) -> bytes:
    """TDT section: table_id 0x70, section_length 5, UTC time (no CRC)."""
    return build_short_section(TID_TDT, encode_utc_time(utc_time))


def decode_tdt(section: Section) -> datetime:
    if section.table_id != TID_TDT or len(section.body) != 5:
        raise SectionError("not a TDT section (table id 0x70, 5 bytes of UTC time)")
    when = decode_utc_time(section.body)
    if when is None:
        raise SectionError("TDT carries an undefined time")
    return when


def encode_tot(utc_time: datetime, offsets: Sequence[LocalTimeOffset]) -> bytes:
    """TOT section: table_id 0x73, UTC time, descriptor loop with the local time offsets, CRC_32."""
    loop = encode_descriptors([local_time_offset_descriptor(offsets)]) if offsets else b""
    body = encode_utc_time(utc_time) + bytes([0xF0 | (len(loop) >> 8), len(loop) & 0xFF]) + loop
    return build_short_section(TID_TOT, body, with_crc=True)


def decode_tot(section: Section) -> Tot:
    if section.table_id != TID_TOT or len(section.body) < 7:
        raise SectionError("not a TOT section (table id 0x73)")
    b = section.body
    when = decode_utc_time(b[:5])
    if when is None:
        raise SectionError("TOT carries an undefined time")
    loop_len = ((b[5] & 0x0F) << 8) | b[6]
    offsets: list[LocalTimeOffset] = []
    others: list[Descriptor] = []
    for d in parse_descriptors(b[7 : 7 + loop_len]):
        if d.tag == TAG_LOCAL_TIME_OFFSET:
            offsets.extend(parse_local_time_offsets(d))
        else:
            others.append(d)
    return Tot(when, tuple(offsets), tuple(others))
