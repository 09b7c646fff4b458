"""DVB SI text strings (EN 300 468 Annex A): pick a character table, encode, decode.

A string whose first byte is 0x20 or above uses the default table (ISO/IEC 6937,
Latin with non-spacing diacritic introducers); a first byte below 0x20 selects
another table. We write the default table when every character fits it (the
widest receiver support for Latin text) and otherwise the 0x15 selector, UTF-8,
which carries Kazakh and Russian Cyrillic (ә ғ қ ң ө ұ ү һ і are not in any
ISO 8859 part). Decoding understands the single-byte selectors 0x01–0x0B, the
0x10 three-byte form, 0x11 (UCS-2), 0x13/0x14 (GB2312 / Big5) and 0x15 (UTF-8).
"""

from __future__ import annotations

import unicodedata

UTF8_SELECTOR = 0x15

# ISO/IEC 6937 non-spacing diacritics (0xC1-0xCF) and the Unicode combining marks they stand for.
_DIACRITICS = {
    0xC1: "\u0300",  # grave
    0xC2: "\u0301",  # acute
    0xC3: "\u0302",  # circumflex
    0xC4: "\u0303",  # tilde
    0xC5: "\u0304",  # macron
    0xC6: "\u0306",  # breve
    0xC7: "\u0307",  # dot above
    0xC8: "\u0308",  # diaeresis
    0xCA: "\u030a",  # ring above
    0xCB: "\u0327",  # cedilla
    0xCD: "\u030b",  # double acute
    0xCE: "\u0328",  # ogonek
    0xCF: "\u030c",  # caron
}
_MARK_TO_BYTE = {mark: byte for byte, mark in _DIACRITICS.items()}

# Spacing characters of the ISO/IEC 6937 upper half that have no decomposition.
_UPPER = {
    0xA1: "¡",
    0xA2: "¢",
    0xA3: "£",
    0xA5: "¥",
    0xA7: "§",
    0xAB: "«",
    0xB0: "°",
    0xB1: "±",
    0xB2: "²",
    0xB3: "³",
    0xB4: "×",
    0xB5: "µ",
    0xB6: "¶",
    0xB7: "·",
    0xB8: "÷",
    0xBB: "»",
    0xBC: "¼",
    0xBD: "½",
    0xBE: "¾",
    0xBF: "¿",
    0xD0: "―",
    0xD1: "¹",
    0xD2: "®",
    0xD3: "©",
    0xD4: "™",
    0xD5: "♪",
    0xE1: "Æ",
    0xE2: "Đ",
    0xE3: "ª",
    0xE4: "Ħ",
    0xE6: "Ĳ",
    0xE7: "Ŀ",
    0xE8: "Ł",
    0xE9: "Ø",
    0xEA: "Œ",
    0xEB: "º",
    0xEC: "Þ",
    0xED: "Ŧ",
    0xEE: "Ŋ",
    0xEF: "ŉ",
    0xF0: "ĸ",
    0xF1: "æ",
    0xF2: "đ",
    0xF3: "ð",
    0xF4: "ħ",
    0xF5: "ı",
    0xF6: "ĳ",
    0xF7: "ŀ",
    0xF8: "ł",
    0xF9: "ø",
    0xFA: "œ",
    0xFB: "ß",
    0xFC: "þ",
    0xFD: "ŧ",
    0xFE: "ŋ",
    0xFF: "\u00ad",
}
_UPPER_REVERSE = {char: byte for byte, char in _UPPER.items()}

# Control codes inside DVB strings (Annex A.1): emphasis on/off and CR/LF.
_CONTROL = {0x86: "", 0x87: "", 0x8A: "\n"}

_SINGLE_BYTE_TABLES = {
    0x01: "iso8859_5",
    0x02: "iso8859_6",
    0x03: "iso8859_7",
    0x04: "iso8859_8",
    0x05: "iso8859_9",
    0x06: "iso8859_10",
    0x07: "iso8859_11",
    0x09: "iso8859_13",
    0x0A: "iso8859_14",
    0x0B: "iso8859_15",
}


def _encode_iso6937(text: str) -> bytes | None:
    """ISO/IEC 6937 bytes for ``text``, or None when some character has no code there."""
    out = bytearray()
    for char in text:
        code = ord(char)
        if 0x20 <= code <= 0x7E:
            out.append(code)
            continue
        if char == "\n":
            out.append(0x8A)
            continue
        if char in _UPPER_REVERSE:
            out.append(_UPPER_REVERSE[char])
            continue
        decomposed = unicodedata.normalize("NFD", char)
        if len(decomposed) == 2 and decomposed[1] in _MARK_TO_BYTE and 0x41 <= ord(decomposed[0]) <= 0x7A:
            out.append(_MARK_TO_BYTE[decomposed[1]])
            out.append(ord(decomposed[0]))
            continue
        return None
    return bytes(out)


def _decode_iso6937(data: bytes) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(data):
        byte = data[pos]
        if byte in _DIACRITICS and pos + 1 < len(data):
            out.append(unicodedata.normalize("NFC", chr(data[pos + 1]) + _DIACRITICS[byte]))
            pos += 2
            continue
        if byte in _CONTROL:
            out.append(_CONTROL[byte])
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        elif byte in _UPPER:
            out.append(_UPPER[byte])
        elif byte == 0xA0:
            out.append("\u00a0")
        pos += 1
    return "".join(out)


def _truncate_utf8(data: bytes, limit: int) -> bytes:
    cut = data[:limit]
    while cut:
        try:
            cut.decode("utf-8")
            return cut
        except UnicodeDecodeError:
            cut = cut[:-1]
    return cut


def encode_text(text: str, max_bytes: int | None = None) -> bytes:
    """DVB string bytes for ``text``: the default table when it fits, else 0x15 + UTF-8.

    ``max_bytes`` cuts the result (whole characters only) to fit a length field.
    """
    if not text:
        return b""
    latin = _encode_iso6937(text)
    if latin is not None and latin[0] >= 0x20:
        if max_bytes is not None and len(latin) > max_bytes:
            latin = latin[:max_bytes]
            if latin and latin[-1] in _DIACRITICS:  # never end on a lone diacritic introducer
                latin = latin[:-1]
        return latin
    data = bytes([UTF8_SELECTOR]) + text.replace("\n", "\ue08a").encode("utf-8")
    if max_bytes is not None and len(data) > max_bytes:
        data = bytes([UTF8_SELECTOR]) + _truncate_utf8(data[1:], max_bytes - 1)
    return data


def decode_text(data: bytes | memoryview) -> str:
    """The text of a DVB string, whatever character table its first byte selects."""
    data = bytes(data)
    if not data:
        return ""
    first = data[0]
    if first >= 0x20:
        return _decode_iso6937(data)
    if first == UTF8_SELECTOR:
        text = data[1:].decode("utf-8", errors="replace")
        return text.replace("\ue086", "").replace("\ue087", "").replace("\ue08a", "\n")
    if first in _SINGLE_BYTE_TABLES:
        return _strip_controls(data[1:]).decode(_SINGLE_BYTE_TABLES[first], errors="replace")
    if first == 0x10 and len(data) >= 3:
        part = data[2]
        return _strip_controls(data[3:]).decode(f"iso8859_{part}", errors="replace")
    if first == 0x11:
        return data[1:].decode("utf-16-be", errors="replace")
    if first == 0x13:
        return data[1:].decode("gb2312", errors="replace")
    if first == 0x14:
        return data[1:].decode("big5", errors="replace")
    return data[1:].decode("latin-1", errors="replace")


def _strip_controls(data: bytes) -> bytes:
    return data.replace(b"\x86", b"").replace(b"\x87", b"").replace(b"\x8a", b"\n")
