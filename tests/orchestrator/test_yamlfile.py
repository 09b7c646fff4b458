"""Curriculum-style files: pydantic validation with lines found by fileio, through the one safe loader."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from orchestrator.curriculum import Curriculum
from orchestrator.yamlfile import InputFileError, load_yaml_model


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_week: int
    hours: tuple[str, str] | None = None


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Inner]


def error(text: str) -> str:
    with pytest.raises(InputFileError) as caught:
        load_yaml_model(text, Outer, file="cur.yaml")
    return str(caught.value)


def test_validation_errors_point_at_the_key() -> None:
    assert error("items:\n  - per_week: 1\n  - per_week: x\n") == (
        "cur.yaml:3: items[1].per_week: Input should be a valid integer, unable to parse string as an integer"
    )
    assert error("items:\n  - per_week: 1\n    colour: red\n") == "cur.yaml:3: items[0].colour: unknown key"
    assert error("items:\n  - hours: [a, b]\n") == "cur.yaml:2: items[0].per_week: Field required"  # the item's line


def test_the_safe_loader_refuses_aliases_and_duplicates() -> None:
    assert error("items:\n  - &a {per_week: 1}\n  - *a\n") == (
        "cur.yaml:2: aliases and anchors (&, *) are not accepted; write the values out"
    )
    assert error("items: []\nitems: []\n") == "cur.yaml:2: items: duplicate key (first given on line 1)"
    assert error("- 1\n") == "cur.yaml:1: the document must be a mapping of keys"
    assert error("items: [\n") == "cur.yaml:2: malformed YAML: expected the node content, but found '<stream end>'"


def test_unquoted_clock_times_are_text_not_base_60_numbers() -> None:
    model = load_yaml_model("items:\n  - {per_week: 1, hours: [10:00, 18:00]}\n", Outer, file="cur.yaml")
    assert model.items[0].hours == ("10:00", "18:00")  # YAML 1.1 read these as 600 and 1080


def test_the_demo_curriculum_still_reads() -> None:
    from orchestrator.demo import DATA

    cur = load_yaml_model((DATA / "curriculum.yaml").read_text(encoding="utf-8"), Curriculum, file="c.yaml")
    assert cur.offerings and cur.offerings[0].consultations is not None
