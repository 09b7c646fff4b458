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
from orchestrator.errors import UserError

M = TypeVar("M", bound=BaseModel)


class InputFileError(UserError):
    code = "invalid_file"
    status = 422


def load_yaml_model(text: str, model: type[M], *, file: str) -> M:
    try:
        doc = load_yaml(text, file=file)
    except FileFormatError as exc:
        raise InputFileError(str(exc)) from None
    if not isinstance(doc.data, dict):
        raise InputFileError(f"{file}:1: the document must be a mapping of keys")
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = doc.line(loc, key=True) or 1
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        raise InputFileError(f"{file}:{line}: {key_text(loc) or '(document)'}: {msg}") from None
