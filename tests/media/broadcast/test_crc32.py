"""CRC-32/MPEG-2 against crcmod's independent predefined 'crc-32-mpeg'."""

from __future__ import annotations

import random

import crcmod.predefined

from media.broadcast.dvb.crc32 import crc32_mpeg2, crc32_mpeg2_fast

REFERENCE = crcmod.predefined.mkCrcFun("crc-32-mpeg")


def test_check_value_of_the_catalogue() -> None:
    # the catalogue check value of CRC-32/MPEG-2 over "123456789"
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7
    assert crc32_mpeg2_fast(b"123456789") == 0x0376E6E7


def test_matches_crcmod_on_random_data() -> None:
    rng = random.Random(4)
    for size in (0, 1, 2, 3, 7, 183, 184, 1021, 4093):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc32_mpeg2(data) == REFERENCE(data) == crc32_mpeg2_fast(data), size


def test_section_with_its_crc_appended_checks_to_zero() -> None:
    section = bytes.fromhex("00b00d0001c100000001f000")
    crc = crc32_mpeg2(section)
    assert crc32_mpeg2(section + crc.to_bytes(4, "big")) == 0
