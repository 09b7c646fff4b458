"""YAML read safely: the one loader of every YAML file aulacast takes in.

    doc = read_yaml("calendar.yaml", error=CalendarError)   # or load_yaml(text, file=...)
    doc.data                                 # plain dicts, lists, str, int, float, bool, None
    doc.line(("periods", 1, "end"))          # where that value is written

Calendars, curricula, channel files and lecture lists come from people, some
over HTTP. ``yaml.safe_load`` refuses code but not size: 350 bytes of nested
aliases ("billion laughs") expand to gigabytes. So the document is built here
from the parser's event stream, and aliases and anchors are refused (no file
of ours needs them), the number of values and the nesting depth are capped,
and a key given twice is an error rather than a silent overwrite.

Scalars are typed by the YAML 1.2 core schema, not PyYAML's YAML 1.1 one:
``no`` and ``on`` stay text, ``10:30`` is not the number 630 and
``2026-13-01`` is text that a reader refuses as "not a date" with its line,
rather than a crash in the loader. Readers parse dates and times where they
expect them (``fileio.reader``).

libyaml's C parser is used when PyYAML has it; when it refuses a document the
pure-Python parser reads it again, so messages are PyYAML's (the same on every
machine) and a document only one of the two accepts is still read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from fileio.document import Document, KeyPath, key_text
from fileio.errors import FileFormatError
from fileio.text import read_text

MAX_NODES = 100_000
MAX_DEPTH = 64

_FAST: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_EXPLICIT = {  # scalars given an explicit tag (!!int 7) must look like one
    _TAG + "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    _TAG + "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    _TAG + "bool": lambda v: isinstance(v, bool),
    _TAG + "null": lambda v: v is None,
}


def read_yaml(
    path: str | Path,
    *,
    error: type[FileFormatError] = FileFormatError,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Document:
    """Read and parse a YAML file; ``error`` (a FileFormatError class) names file and line."""
    text = read_text(path, error=error)
    return load_yaml(text, file=str(path), error=error, max_nodes=max_nodes, max_depth=max_depth)


def load_yaml(
    text: str,
    *,
    file: str = "<input>",
    error: type[FileFormatError] = FileFormatError,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Document:
    """Parse one YAML document into plain data with the line of every key path.

    An empty document (or one of only comments) has ``data`` None.
    """
    builder = _Builder(file, error, max_nodes, max_depth)
    try:
        return builder.build(_events(text, _FAST))
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise _malformed(text, file, error) from None
    builder = _Builder(file, error, max_nodes, max_depth)
    try:
        return builder.build(_events(text, yaml.SafeLoader))
    except yaml.YAMLError:
        raise _malformed(text, file, error) from None


def _events(text: str, loader_class: type) -> Iterator[yaml.Event]:
    loader = loader_class(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _malformed(text: str, file: str, error: type[FileFormatError]) -> FileFormatError:
    """The pure-Python parser's account of what is wrong, with its line."""
    try:
        for _ in _events(text, yaml.SafeLoader):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return error(f"malformed YAML: {exc.problem or exc.context or 'unreadable'}", file=file, line=line)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return error(f"malformed YAML: character U+{code:04X} is not allowed", file=file, line=line)
    except yaml.YAMLError as exc:
        return error(f"malformed YAML: {exc}".splitlines()[0], file=file)
    return error("malformed YAML", file=file)


class _Frame:
    __slots__ = ("container", "path", "key")

    def __init__(self, container: dict[str, Any] | list[Any], path: KeyPath) -> None:
        self.container = container
        self.path = path
        self.key: str | None = None  # a mapping's key waiting for its value


class _Builder:
    """Plain data and positions from a stream of parser events, within the limits."""

    def __init__(self, file: str, error: type[FileFormatError], max_nodes: int, max_depth: int) -> None:
        self.file = file
        self.error = error
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.lines: dict[KeyPath, int] = {}
        self.key_lines: dict[KeyPath, int] = {}
        self.texts: dict[KeyPath, str] = {}

    def fail(self, message: str, line: int, path: KeyPath | None = None) -> FileFormatError:
        return self.error(message, file=self.file, line=line, key=key_text(path) if path else None)

    def build(self, events: Iterator[yaml.Event]) -> Document:
        root: Any = None
        documents = 0
        nodes = 0
        stack: list[_Frame] = []
        for ev in events:
            line = ev.start_mark.line + 1
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.fail("malformed YAML: expected a single document, found another", line)
                continue
            if isinstance(ev, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
                continue
            if isinstance(ev, yaml.CollectionEndEvent):
                stack.pop()
                continue
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise self.fail("aliases and anchors (&, *) are not accepted; write the values out", line)
            nodes += 1
            if nodes > self.max_nodes:
                raise self.fail(f"more than {self.max_nodes} values in one document", line)
            parent = stack[-1] if stack else None
            if parent is not None and isinstance(parent.container, dict) and parent.key is None:
                self.key(parent, ev, line)
                continue
            if parent is None:
                path: KeyPath = ()
            elif isinstance(parent.container, dict):
                assert parent.key is not None
                path = (*parent.path, parent.key)
            else:
                path = (*parent.path, len(parent.container))
            self.lines[path] = line
            value: Any
            if isinstance(ev, yaml.ScalarEvent):
                value = self.scalar(ev, line, path)
            else:
                value = {} if isinstance(ev, yaml.MappingStartEvent) else []
                self.collection_tag(ev, line, path)
                stack.append(_Frame(value, path))
                if len(stack) > self.max_depth:
                    raise self.fail(f"nested deeper than {self.max_depth} levels", line)
            if parent is None:
                root = value
            elif isinstance(parent.container, dict):
                parent.container[parent.key] = value  # type: ignore[index]
                parent.key = None
            else:
                parent.container.append(value)
        return Document(self.file, root, self.lines, self.key_lines, self.texts, implicit=True)

    def key(self, frame: _Frame, ev: yaml.Event, line: int) -> None:
        if not isinstance(ev, yaml.ScalarEvent):
            raise self.fail("a key must be a plain name, not a mapping or a list", line, frame.path or None)
        name = ev.value
        path = (*frame.path, name)
        if name in frame.container:
            raise self.fail(f"duplicate key (first given on line {self.key_lines[path]})", line, path)
        frame.key = name
        self.key_lines[path] = line

    def collection_tag(self, ev: yaml.Event, line: int, path: KeyPath) -> None:
        tag = ev.tag  # type: ignore[attr-defined]
        expected = _TAG + ("map" if isinstance(ev, yaml.MappingStartEvent) else "seq")
        if tag not in (None, "!", expected):
            raise self.fail(f"the YAML tag {_shown(tag)} is not accepted here", line, path or None)

    def scalar(self, ev: yaml.ScalarEvent, line: int, path: KeyPath) -> Any:
        text = ev.value
        tag = ev.tag
        if tag is None and ev.implicit[0] and not ev.style:
            value = _plain(text)
        elif tag in (None, "!", _TAG + "str"):
            return text
        elif tag in _EXPLICIT:
            value = _plain(text)
            if not isinstance(value, _TooLong) and not _EXPLICIT[tag](value):
                raise self.fail(f"{text!r} is not a YAML {tag.removeprefix(_TAG)}", line, path or None)
            if tag == _TAG + "float":
                value = float(value)
        else:
            raise self.fail(f"the YAML tag {_shown(tag)} is not accepted here", line, path or None)
        if isinstance(value, _TooLong):
            raise self.fail(f"a number of {len(text)} characters is too long", line, path or None)
        if not isinstance(value, str):
            self.texts[path] = text
        return value


def _shown(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class _TooLong(str):
    """A plain scalar that looks like a number too long to be one (int() refuses > 4300 digits)."""


def _plain(text: str) -> Any:
    """A plain scalar typed by the YAML 1.2 core schema."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    try:
        if _INT.match(text):
            return int(text)
        if _OCT.match(text):
            return int(text[2:], 8)
        if _HEX.match(text):
            return int(text[2:], 16)
    except ValueError:
        return _TooLong(text)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text
