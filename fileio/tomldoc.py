"""TOML read with the line of every key: tomllib for the values, a scan of the text for the lines.

    doc = read_toml("hd-720p25.toml", error=ProfileError)
    doc.data["video"]["codec"], doc.line(("video", "codec"))

``tomllib`` (the standard library's parser) decides what the document means
and refuses what is not TOML; it keeps no positions, so the lines come from a
scan that follows table headers (``[video]``, ``[[series]]``) and key lines
(``bitrate = ...``, dotted ``a.b = ...``), skipping the inside of strings,
multi-line strings and multi-line arrays. A key inside an inline table or a
multi-line array is placed on the line of the key that holds it. The scan only
locates: a line it gets wrong names a nearby line, never a wrong value.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fileio.document import Document, KeyPath
from fileio.errors import FileFormatError
from fileio.text import read_text

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY)
_LINE_IN_MESSAGE = re.compile(r"\(at line (\d+), column \d+\)")


def read_toml(path: str | Path, *, error: type[FileFormatError] = FileFormatError) -> Document:
    """Read and parse a TOML file; ``error`` (a FileFormatError class) names file and line."""
    return load_toml(read_text(path, error=error), file=str(path), error=error)


def load_toml(text: str, *, file: str = "<input>", error: type[FileFormatError] = FileFormatError) -> Document:
    """Parse TOML text into plain data with the line of every key path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _LINE_IN_MESSAGE.search(str(exc))
        raise error(f"not valid TOML ({exc})", file=file, line=int(found[1]) if found else None) from None
    return Document(file, data, _lines(text), implicit=False)


def _lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {(): 1}
    arrays: dict[KeyPath, int] = {}  # array of tables (resolved path) -> elements so far
    table: KeyPath = ()
    open_string: str | None = None  # the delimiter of a multi-line string we are inside
    depth = 0  # brackets and braces open across lines (a multi-line array)
    for number, raw in enumerate(text.splitlines(), 1):
        code, open_string_after = _code(raw, open_string)
        starts_clean = open_string is None and depth == 0
        open_string = open_string_after
        if starts_clean:
            header = _ARRAY_HEADER.match(raw)
            if header:
                table = _resolve(_names(header[1]), arrays, new_element=True)
                _mark(lines, table, number)
                continue
            header = _TABLE_HEADER.match(raw)
            if header:
                table = _resolve(_names(header[1]), arrays)
                _mark(lines, table, number)
                continue
            key = _KEY_LINE.match(raw)
            if key:
                _mark(lines, (*table, *_names(key[1])), number)
                code = code.split("=", 1)[1] if "=" in code else ""
        depth = max(0, depth + sum(code.count(c) for c in "[{") - sum(code.count(c) for c in "]}"))
    return lines


def _mark(lines: dict[KeyPath, int], path: KeyPath, number: int) -> None:
    """The line of ``path``; tables it implies without a header of their own start here too."""
    for i in range(1, len(path)):
        lines.setdefault(path[:i], number)
    lines[path] = number


def _resolve(names: list[str], arrays: dict[KeyPath, int], new_element: bool = False) -> KeyPath:
    """Header names as a key path: an array of tables on the way means its last element."""
    path: KeyPath = ()
    for i, name in enumerate(names):
        path = (*path, name)
        last = i == len(names) - 1
        if last and new_element:
            index = arrays.get(path, 0)
            arrays[path] = index + 1
            path = (*path, index)
        elif path in arrays:
            path = (*path, arrays[path] - 1)
    return path


def _names(dotted: str) -> list[str]:
    out = []
    for part in _PART.findall(dotted):
        if part[0] in "\"'":
            part = tomllib.loads(f"k = {part}")["k"]  # the quoted key's value, escapes and all
        out.append(part)
    return out


def _code(line: str, open_string: str | None) -> tuple[str, str | None]:
    """The line without strings and comments, and the multi-line string still open at its end."""
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if open_string is not None:
            end = line.find(open_string, i)
            while end != -1 and open_string == '"""' and _escaped(line, end):
                end = line.find(open_string, end + 1)
            if end == -1:
                return "".join(out), open_string
            i = end + 3
            while i < n and line[i] == open_string[0]:  # up to two quotes may close the string too
                i += 1
            open_string = None
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            open_string = line[i : i + 3]
            i += 3
            continue
        if c in "\"'":
            end = i + 1
            while end < n and line[end] != c:
                end += 2 if c == '"' and line[end] == "\\" else 1
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), open_string


def _escaped(line: str, at: int) -> bool:
    backslashes = 0
    while at - backslashes - 1 >= 0 and line[at - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1
