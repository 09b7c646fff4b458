"""A parsed input file: its plain data and where each value stands in the text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]  # ("periods", 1, "end") is periods[1].end


def key_text(path: KeyPath) -> str:
    """The path as people write it: ``periods[1].end``; "" for the whole document."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Document:
    """Plain data (dicts, lists, str, int, float, bool, None, dates) and the line of every key path.

    ``lines`` holds the line where each value starts; ``key_lines`` the line of
    a mapping entry's key (YAML writes a block value on the lines after its
    key). ``texts`` keeps the source text of YAML scalars that were not read as
    strings, so a reader that expects text gets what was written (``1.50``, not
    ``1.5``). ``implicit`` says the format types scalars by their look (YAML),
    so a reader may take ``"15"`` where it expects a number; TOML types are
    explicit and are taken as written.
    """

    file: str
    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    key_lines: Mapping[KeyPath, int] = field(default_factory=dict)
    texts: Mapping[KeyPath, str] = field(default_factory=dict)
    implicit: bool = True

    @classmethod
    def of(cls, data: Any, file: str = "<input>", *, implicit: bool = True) -> Document:
        """Data parsed elsewhere (no positions: errors name the file and key only).

        ``implicit`` False for data of an explicitly typed format (TOML, JSON).
        """
        return cls(file, data, implicit=implicit)

    def line(self, path: KeyPath, *, key: bool = False) -> int | None:
        """The line of ``path``, or of its nearest ancestor in the text; None without positions.

        ``key`` asks for the line of the entry's key rather than its value.
        """
        probe = tuple(path)
        while True:
            if key and probe in self.key_lines:
                return self.key_lines[probe]
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            probe = probe[:-1]
