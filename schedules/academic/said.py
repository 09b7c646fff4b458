"""A sentence said to a person: its English words plus a stable code and the values it quotes.

The server keeps the English ``text`` for API and CLI users; a page looks the code up in its
catalogue (``staff.msg.<code>``) and fills in ``params`` in the reader's language. A param may
itself be a ``Said`` (a nested phrase, e.g. "week 3 (…)" inside "no free time in …") or a tuple
of them (a list, said joined with commas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Said:
    code: str
    text: str
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return self.text

    @classmethod
    def of(cls, code: str, text: str, **params: Any) -> Said:
        return cls(code, text, tuple(params.items()))

    def params_json(self) -> dict[str, Any]:
        return {k: _json(v) for k, v in self.params}

    def as_json(self) -> dict[str, Any]:
        """``{"code", "params", "message"}``: the shape the pages render (staff-kit.js ``said``)."""
        return {"code": self.code, "params": self.params_json(), "message": self.text}


def _json(v: Any) -> Any:
    if isinstance(v, Said):
        return v.as_json()
    if isinstance(v, tuple | list):
        return [_json(x) for x in v]
    return v


def coded(said: Said | None) -> dict[str, Any]:
    """``{"code", "params"}`` of a reason for the API, beside its English (``""`` and ``{}`` when it has none)."""
    return {"code": said.code, "params": said.params_json()} if said is not None else {"code": "", "params": {}}
