"""CSV cells a spreadsheet will not run: every CSV aulacast writes goes through ``csv_writer``.

    w = csv_writer(buf)            # like csv.writer(buf, lineterminator="\\n")
    w.writerow(["=1+1", "ok"])     # written as "'=1+1", ok

A cell starting with ``= + - @``, a tab or a carriage return is a formula to Excel and
LibreOffice (CSV injection, OWASP); such cells get a leading apostrophe, which the
spreadsheet shows as text. Numbers we format ourselves (``-1.5``) are left alone.
"""

from __future__ import annotations

import csv
import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def writerow(self, row: Any) -> Any:
        return self._inner.writerow([csv_cell(v) for v in row])

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: Any, **kw: Any) -> _SafeWriter:
    kw.setdefault("lineterminator", "\n")
    return _SafeWriter(csv.writer(stream, **kw))
