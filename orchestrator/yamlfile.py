"""Validated YAML input files whose errors say ``FILE:LINE: KEY: message``.

    data = load_yaml_model(text, Curriculum, file="curriculum.yaml")

The document is composed once to remember the line of every key path, then
validated by a pydantic model; the first validation error is reported at the
line of the key it concerns.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from orchestrator.errors import UserError

M = TypeVar("M", bound=BaseModel)


class InputFileError(UserError):
    code = "invalid_file"
    status = 422


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[(*path, key)] = k.start_mark.line + 1
            _lines(v, (*path, key), out)
            out[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def _key(path: tuple[Any, ...]) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(document)"


def load_yaml_model(text: str, model: type[M], *, file: str) -> M:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise InputFileError(f"{file}{line}: malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{file}: malformed YAML: {exc}") from None
    if node is None or not isinstance(data, dict):
        raise InputFileError(f"{file}:1: the document must be a mapping of keys")
    lines: dict[tuple[Any, ...], int] = {}
    _lines(node, (), lines)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        probe = loc
        while probe and probe not in lines:
            probe = probe[:-1]
        line = lines.get(probe, 1)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputFileError(f"{file}:{line}: {_key(loc)}: {msg}") from None
