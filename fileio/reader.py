"""Typed reading of a parsed file, each refusal at its place: ``FILE:LINE: KEY: message``.

    r = Reader(read_yaml(path), error=CalendarError)
    top = r.mapping((), required=("name", "periods"), optional=("holidays",))
    name = r.text(("name",))
    for i in range(len(r.seq(("periods",)))):
        start = r.day(("periods", i, "start"))

Every method takes a key path (``("periods", 1, "end")``) and returns a value
of the asked type or raises ``error`` (a ``FileFormatError`` class: the
caller's own, such as ``CalendarError``) naming the file, the line the value
is written on and the path. The calendar, channel and profile files all read
through it; what is particular to one file (a weekday name, a PID, a
duration) is a few lines in its own module on top of ``get`` and ``fail``.

YAML types scalars by their look, so where text is expected a YAML number is
taken as the text it was written as (``id: 101``), and a quoted number counts
where a number is expected; TOML's types are explicit and taken as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from fileio.document import Document, KeyPath, key_text
from fileio.errors import FileFormatError
from fileio.message import Message

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # "no default given"
_ABSENT: Any = object()

_INT = re.compile(r"^[-+]?[0-9]+$")
_NUMBER = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_HHMM = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_HHMMSS = re.compile(r"^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}(?:\.[0-9]+)?))?$")


class Reader:
    """Typed, checked access to a ``Document``; every error is ``error(message, file, line, key)``."""

    def __init__(self, doc: Document, error: type[FileFormatError] = FileFormatError) -> None:
        self.doc = doc
        self.error = error

    @property
    def file(self) -> str:
        return self.doc.file

    def fail(self, path: KeyPath, message: str, *, at_key: bool = False, code: str | None = None,
             **params: object) -> FileFormatError:
        """The error to raise for the value at ``path`` (``at_key``: at its key's line). With ``code``, the error's
        ``said`` is the message with its code and the values it quotes (fileio.message), for pages."""
        err = self.error(
            message, file=self.doc.file, line=self.doc.line(path, key=at_key), key=key_text(path) or None
        )
        if code is not None:
            err.said = Message(code, message, {k: str(v) for k, v in params.items()})  # type: ignore[attr-defined]
        return err

    # -- structure

    def get(self, path: KeyPath, default: Any = MISSING) -> Any:
        """The value at ``path``; ``default`` when it is absent, or "missing" without one."""
        node = self.doc.data
        for part in path:
            if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, dict) and part in node:
                node = node[part]
            elif default is MISSING:
                raise self.fail(path, "missing", code="file.missing")
            else:
                return default
        return node

    def has(self, path: KeyPath) -> bool:
        """Whether ``path`` is given (a null value counts as given)."""
        return self.get(path, _ABSENT) is not _ABSENT

    def mapping(
        self,
        path: KeyPath,
        required: Iterable[str] = (),
        optional: Iterable[str] | None = None,
        *,
        default: Any = MISSING,
    ) -> dict[str, Any]:
        """The mapping at ``path``, its keys checked.

        With ``optional`` given, a key that is neither required nor optional is
        refused at its own line; a required key that is absent is refused at
        the mapping.
        """
        value = self.get(path, default)
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, found {self.kind(path, value)}")
        required = tuple(required)
        if optional is not None:
            allowed = required + tuple(optional)
            for name in value:
                if name not in allowed:
                    raise self.fail(
                        (*path, name), f"unknown key (expected one of: {', '.join(allowed)})", at_key=True,
                        code="file.unknown_key", allowed=", ".join(allowed),
                    )
        for name in required:
            if name not in value:
                if path:
                    raise self.fail(path, f"missing key '{name}'", code="file.missing_key", key=name)
                raise self.fail((name,), "missing key", code="file.missing_top_key")
        return value

    def seq(self, path: KeyPath, default: Iterable[Any] = ()) -> list[Any]:
        """The list at ``path``; absent or null is ``default`` (empty)."""
        value = self.get(path, None)
        if value is None:
            return list(default)
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, found {self.kind(path, value)}")
        return value

    # -- scalars

    def scalar(self, path: KeyPath, default: Any = MISSING) -> Any:
        """A single value (not a mapping, list or null)."""
        value = self.get(path, default)
        if value is None or isinstance(value, dict | list):
            raise self.fail(path, f"expected a value, found {self.kind(path, value)}")
        return value

    def source(self, path: KeyPath, value: Any) -> str:
        """What was written for ``value`` at ``path``: its source text in YAML, else its text form."""
        if isinstance(value, str):
            return value
        written = self.doc.texts.get(tuple(path))
        if written is not None:
            return written
        if isinstance(value, bool):
            return "true" if value else "false"
        return value.isoformat() if isinstance(value, date | time) else str(value)

    def text(self, path: KeyPath, default: Any = MISSING, *, max_bytes: int | None = None) -> str:
        """Non-blank text, surrounding space removed (in YAML any scalar, as written)."""
        value = self.scalar(path, default)
        if not isinstance(value, str) and not self.doc.implicit:
            raise self.fail(path, f"must be a string, not {show(value)}")
        text = self.source(path, value).strip()
        if not text:
            raise self.fail(path, "must not be empty", code="file.empty_value")
        if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
            raise self.fail(path, f"is longer than {max_bytes} bytes")
        return text

    def integer(
        self, path: KeyPath, low: int | None = None, high: int | None = None, default: Any = MISSING
    ) -> int:
        """A whole number, within ``low``..``high`` when given."""
        return self._numeric(path, int, low, high, default)

    def number(
        self, path: KeyPath, low: float | None = None, high: float | None = None, default: Any = MISSING
    ) -> float:
        """A number (integer or decimal), within ``low``..``high`` when given."""
        return float(self._numeric(path, float, low, high, default))

    def _numeric(self, path: KeyPath, kind: type, low: float | None, high: float | None, default: Any) -> Any:
        value = self.scalar(path, default)
        pattern, accepted, name = (_INT, int, "an integer") if kind is int else (_NUMBER, int | float, "a number")
        if self.doc.implicit and isinstance(value, str) and pattern.match(value.strip()):
            value = kind(value)
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise self.fail(path, f"must be {name}, not {show(value)}")
        self.within(path, value, low, high)
        return value

    def within(self, path: KeyPath, value: float, low: float | None, high: float | None) -> None:
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, f"{value} is outside {'' if low is None else low}..{'' if high is None else high}")

    def choice(self, path: KeyPath, allowed: Iterable[str], default: Any = MISSING) -> str:
        """One of ``allowed``."""
        allowed = tuple(allowed)
        value = self.text(path, default)
        if value not in allowed:
            raise self.fail(path, f"unknown value {value!r} (expected {' or '.join(allowed)})")
        return value

    def day(self, path: KeyPath, default: Any = MISSING) -> date:
        """A date written YYYY-MM-DD."""
        value = self.scalar(path, default)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        text = self.source(path, value).strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self.fail(path, f"{text} is not a date (expected YYYY-MM-DD)", code="file.not_date", value=text) from None

    def clock(self, path: KeyPath, default: Any = MISSING, *, seconds: bool = False) -> time:
        """A time of day written HH:MM (or HH:MM:SS with ``seconds``)."""
        value = self.scalar(path, default)
        if isinstance(value, time):
            return value
        text = self.source(path, value).strip()
        found = (_HHMMSS if seconds else _HHMM).match(text)
        try:
            if found is None:
                raise ValueError(text)
            sec = float(found[3]) if seconds and found[3] else 0.0
            return time(int(found[1]), int(found[2]), int(sec), round((sec % 1) * 1_000_000))
        except ValueError:
            raise self.fail(path, f"{text} is not a time of day (expected HH:MM)", code="file.not_time", value=text) from None

    # -- words for messages

    def kind(self, path: KeyPath, value: Any) -> str:
        """What a value is, for "expected ..., found ..." messages."""
        if isinstance(value, dict):
            return "a mapping"
        if isinstance(value, list):
            return "a list"
        if value is None or value is MISSING:
            return "nothing"
        return f"'{self.source(path, value)}'"


def show(value: Any) -> str:
    """A value with its type, shortened: ``str '103'``."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
