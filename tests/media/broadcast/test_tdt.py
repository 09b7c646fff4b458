"""TDT and TOT against sections worked out by hand (EN 300 468 §5.2.5, §5.2.6, §6.2.20)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import crcmod.predefined
import pytest

from media.broadcast.dvb.psi import parse_section
from media.broadcast.dvb.tdt import (
    LocalTimeOffset,
    decode_tdt,
    decode_tot,
    encode_tdt,
    encode_tot,
    local_time_offset_for_zone,
)
from media.errors import MediaError

CRC = crcmod.predefined.mkCrcFun("crc-32-mpeg")
WHEN = datetime(2026, 11, 26, 14, 30, 5, tzinfo=UTC)


def test_tdt_by_hand() -> None:
    # table_id 0x70; '0' ssi, '1' reserved_future_use, '11' reserved, section_length 5;
    # MJD 61370 = 0xEFBA, then 14:30:05 in BCD. No CRC in a TDT.
    assert encode_tdt(WHEN) == bytes.fromhex("70 70 05 EFBA 14 30 05")
    assert decode_tdt(parse_section(encode_tdt(WHEN))) == WHEN


def test_tot_with_kazakhstan_offset_by_hand() -> None:
    offset = LocalTimeOffset("KAZ", timedelta(hours=5), datetime(2027, 11, 1, tzinfo=UTC), timedelta(hours=5))
    data = bytes.fromhex(
        "73 70 1A  EFBA 143005  F0 0F"  # TOT, length 26; UTC; descriptors_loop_length 15
        "58 0D 4B415A 02 0500 F1 0E 000000 0500"  # 'KAZ', region 0 + reserved '1' + polarity '+', 05:00,
    )  # time_of_change 2027-11-01 00:00:00 (MJD 61710 = 0xF10E), next offset 05:00
    expected = data + CRC(data).to_bytes(4, "big")
    assert encode_tot(WHEN, [offset]) == expected
    tot = decode_tot(parse_section(expected))
    assert parse_section(expected).crc_ok and tot.utc_time == WHEN and tot.offsets == (offset,)


def test_negative_offsets_set_the_polarity_bit() -> None:
    west = LocalTimeOffset(
        "BRA", timedelta(hours=-3), datetime(2027, 1, 1, tzinfo=UTC), timedelta(hours=-3), 1
    )
    section = encode_tot(WHEN, [west])
    assert section[12 + 3] == (1 << 2) | 0x02 | 0x01
    assert decode_tot(parse_section(section)).offsets == (west,)


def test_offsets_from_iana_zones() -> None:
    almaty = local_time_offset_for_zone("Asia/Almaty", WHEN)
    assert (almaty.country_code, almaty.offset, almaty.next_offset) == (
        "KAZ",
        timedelta(hours=5),
        timedelta(hours=5),
    )
    berlin = local_time_offset_for_zone("Europe/Berlin", WHEN, country_code="DEU")
    assert berlin.offset == timedelta(hours=1) and berlin.next_offset == timedelta(hours=2)
    assert berlin.time_of_change == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    with pytest.raises(MediaError, match="unknown time zone"):
        local_time_offset_for_zone("Mars/Olympus", WHEN)
    with pytest.raises(MediaError, match="alpha-3"):
        LocalTimeOffset("KZ", timedelta(0), WHEN, timedelta(0))
