"""CRC-32/MPEG-2 as used by every PSI/SI section (ISO/IEC 13818-1 Annex A, EN 300 468 Annex B).

Polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no reflection, no final XOR.
A section whose CRC_32 field is included in the computation yields 0.
``crc32_mpeg2`` is the table-driven reference; ``crc32_mpeg2_fast`` computes the
same value through zlib (bit-reversed input), for analysers that check many
sections.
"""

from __future__ import annotations

import zlib

_POLY = 0x04C11DB7


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


TABLE = _make_table()


def crc32_mpeg2(data: bytes | bytearray | memoryview, crc: int = 0xFFFFFFFF) -> int:
    """CRC-32/MPEG-2 of ``data``, table-driven, one byte per step."""
    table = TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


# zlib's CRC-32 is the reflected form of the same polynomial with the same
# initial value: feeding it bit-reversed bytes gives the bit-reversed register.
_REVERSE_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _reverse32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def crc32_mpeg2_fast(data: bytes | bytearray | memoryview) -> int:
    """Same value as ``crc32_mpeg2``, computed in C by zlib; for long or many sections."""
    return _reverse32(zlib.crc32(bytes(data).translate(_REVERSE_BITS)) ^ 0xFFFFFFFF)
