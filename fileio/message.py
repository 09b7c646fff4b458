"""Sentences a person sees, made by the server: a stable code, the values the sentence quotes, its English text.

A page words ``code`` in the reader's language (``t("<area>.msg.<code>", params)``) and shows the English
``text`` only for a code it does not know; API and command-line users read ``text``. Each module that makes
such sentences keeps a :class:`Messages` catalogue of its codes and English templates (``{name}`` marks a
quoted value, as in the page catalogues), so a test can check every code has a kk/ru/en wording.

Some sentences travel as plain text before they reach a page (a recording's manifest ``reason``, a room's
ended reason in Redis); :meth:`Messages.parse` turns such a text back into its code and values, using the
templates of the module that made it — never the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    code: str
    text: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "text": self.text}


class Messages:
    """A module's codes and English templates."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates = dict(templates)
        self._patterns = [(code, _pattern(tpl)) for code, tpl in self.templates.items()]

    def __contains__(self, code: object) -> bool:
        return code in self.templates

    def __iter__(self) -> Iterator[str]:
        return iter(self.templates)

    def make(self, code: str, **params: object) -> Message:
        values = {k: str(v) for k, v in params.items()}
        return Message(code, self.templates[code].format(**values), values)

    def parse(self, text: str) -> Message | None:
        """The message whose template gives exactly ``text`` (the first, in catalogue order), else None."""
        for code, pattern in self._patterns:
            m = pattern.fullmatch(text)
            if m:
                return Message(code, text, m.groupdict())
        return None


def _pattern(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.*?)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.DOTALL)


def message_fields(message: Message | None) -> dict[str, Any]:
    """``reason_code`` and ``reason_params`` beside a ``reason`` (a socket event): null and {} for no code."""
    if message is None:
        return {"reason_code": None, "reason_params": {}}
    return {"reason_code": message.code, "reason_params": dict(message.params)}
