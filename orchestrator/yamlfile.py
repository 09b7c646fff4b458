"""Validated YAML input files whose errors say ``FILE:LINE: KEY: message``.

    data = load_yaml_model(text, Curriculum, file="curriculum.yaml")

The document is read by ``fileio.load_yaml`` (the one safe YAML loader: no
aliases, capped size, the line of every key path), then validated by a
pydantic model; the first validation error is reported at the line of the
key it concerns.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from fileio import FileFormatError, key_text, load_yaml
from fileio.message import Message
from orchestrator.errors import UserError

M = TypeVar("M", bound=BaseModel)


class InputFileError(UserError):
    """``problems``: the place with the sentence's code and values for pages (code "" for a validator's own words)."""

    code = "invalid_file"
    status = 422

    def __init__(self, message: str, *, where: str = "", said: Message | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.problems = [{"where": where, "code": said.code if said else "", "params": dict(said.params) if said else {},
                          "message": said.text if said else (text or message)}]  # fmt: skip


# pydantic's error types a person makes in a file, by the code a page says them with (the values from its ctx)
PYDANTIC_CODES = {
    "missing": "file.required", "extra_forbidden": "file.key_unknown", "literal_error": "file.one_of",
    "int_parsing": "file.not_integer", "int_type": "file.not_integer", "bool_parsing": "file.not_bool",
    "less_than_equal": "file.at_most", "greater_than_equal": "file.at_least",
    "string_too_short": "file.too_short", "string_too_long": "file.too_long",
}  # fmt: skip
_CTX = {"literal_error": "expected", "less_than_equal": "le", "greater_than_equal": "ge",
        "string_too_short": "min_length", "string_too_long": "max_length"}  # fmt: skip


def load_yaml_model(text: str, model: type[M], *, file: str) -> M:
    try:
        doc = load_yaml(text, file=file)
    except FileFormatError as exc:
        raise InputFileError(str(exc), where=str(exc.line or ""), said=getattr(exc, "said", None), text=exc.message) from None
    if not isinstance(doc.data, dict):
        raise InputFileError(f"{file}:1: the document must be a mapping of keys", where="1",
                             said=Message("file.not_mapping", "the document must be a mapping of keys"))
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = doc.line(loc, key=True) or 1
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        key = key_text(loc) or "(document)"
        code = PYDANTIC_CODES.get(err["type"])
        ctx = _CTX.get(err["type"])
        value = str((err.get("ctx") or {}).get(ctx, "")).replace("' or '", "', '")  # the choices, in no language
        said = Message(code, msg, {"value": value} if ctx else {}) if code else None
        raise InputFileError(f"{file}:{line}: {key}: {msg}", where=f"{line}: {key}", said=said) from None
