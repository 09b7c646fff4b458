"""Safe YAML: aliases refused, sizes capped, YAML 1.2 scalars, the line of every key."""

from __future__ import annotations

import math

import pytest
import yaml

from fileio import FileFormatError, load_yaml, read_yaml
from fileio.yamldoc import MAX_DEPTH

# "Billion laughs": 350 bytes whose aliases expand to 10^9 strings in anything that walks them.
ALIAS_BOMB = "a: &a [" + ",".join(["lol"] * 9) + "]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def refusal(text: str, **limits: int) -> str:
    with pytest.raises(FileFormatError) as caught:
        load_yaml(text, file="in.yaml", **limits)
    return str(caught.value)


def test_the_alias_bomb_is_refused_before_anything_is_built() -> None:
    assert len(ALIAS_BOMB) < 400
    assert refusal(ALIAS_BOMB) == "in.yaml:1: aliases and anchors (&, *) are not accepted; write the values out"


@pytest.mark.parametrize("text", ["a: &x 1\nb: 2\n", "a: 1\nb: *x\n", "base: &b {k: 1}\nc:\n  <<: *b\n"])
def test_any_anchor_or_alias_is_refused(text: str) -> None:
    assert "aliases and anchors" in refusal(text)


def test_values_and_depth_are_capped() -> None:
    assert refusal("[" + "1," * 20 + "1]", max_nodes=10) == "in.yaml:1: more than 10 values in one document"
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert refusal(deep) == f"in.yaml:1: nested deeper than {MAX_DEPTH} levels"
    assert load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH).data is not None


def test_scalars_follow_the_yaml_1_2_core_schema() -> None:
    doc = load_yaml(
        "no: no\non: on\nclock: 10:30\nday: 2026-13-01\nint: 015\nhex: 0x1F\noct: 0o17\nfloat: 1.50\n"
        "inf: -.inf\nnull1: ~\nnull2:\nyes: true\nquoted: '15'\nliteral: |\n  x\nunder: 1_000\n"
    )
    d = doc.data
    assert d["no"] == "no" and d["on"] == "on" and d["yes"] is True  # keys too stay text
    assert d["clock"] == "10:30" and d["day"] == "2026-13-01"  # not 630, not a crash
    assert (d["int"], d["hex"], d["oct"], d["float"]) == (15, 31, 15, 1.5)
    assert d["inf"] == -math.inf and d["null1"] is None and d["null2"] is None
    assert d["quoted"] == "15" and d["literal"] == "x\n" and d["under"] == "1_000"
    assert doc.texts[("float",)] == "1.50" and doc.texts[("int",)] == "015"  # as written, for readers of text
    assert ("quoted",) not in doc.texts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "in.yaml:3: a: duplicate key (first given on line 1)"),
        ("a: 1\n  b: 2\n", "in.yaml:2: malformed YAML: mapping values are not allowed here"),
        ("a: [1\n", "in.yaml:2: malformed YAML: expected ',' or ']', but got '<stream end>'"),
        ("--- 1\n--- 2\n", "in.yaml:2: malformed YAML: expected a single document, found another"),
        ("? [a, b]\n: 1\n", "in.yaml:1: a key must be a plain name, not a mapping or a list"),
        ("x: !!python/object:os.system ls\n", "in.yaml:1: x: the YAML tag !!python/object:os.system is not accepted here"),
        ("x: !!binary aGk=\n", "in.yaml:1: x: the YAML tag !!binary is not accepted here"),
        ("x: !!set {a}\n", "in.yaml:1: x: the YAML tag !!set is not accepted here"),
        ("x: !!int ten\n", "in.yaml:1: x: 'ten' is not a YAML int"),
        ("x: " + "9" * 5000 + "\n", "in.yaml:1: x: a number of 5000 characters is too long"),
        ("a: 1\nb: \x07\n", "in.yaml:2: malformed YAML: character U+0007 is not allowed"),
    ],
)
def test_refusals_name_the_line(text: str, message: str) -> None:
    assert refusal(text) == message


def test_explicit_tags_of_plain_types_are_read() -> None:
    assert load_yaml("a: !!str 10\nb: !!float 1\nc: !!int 0x10\nd: ! 5\n").data == {"a": "10", "b": 1.0, "c": 16, "d": "5"}


def test_lines_of_values_and_keys() -> None:
    doc = load_yaml("top:\n  list:\n    - a: 1\n      b:\n        c: 2\n    - x\n")
    assert doc.line(("top",), key=True) == 1 and doc.line(("top",)) == 2  # a block value starts below its key
    assert doc.line(("top", "list", 0)) == 3 and doc.line(("top", "list", 1)) == 6
    assert doc.line(("top", "list", 0, "b", "c")) == 5
    assert doc.line(("top", "list", 0, "missing")) == 3  # the nearest thing written
    assert doc.line(("top", "list", 0, "b"), key=True) == 4 and doc.line(("top", "list", 0, "b")) == 5


def test_same_data_as_safe_load_for_plain_documents() -> None:
    text = "a: [1, 2.5, x, 'y']\nb: {c: null, d: true}\ne: |\n  text\n"
    assert load_yaml(text).data == yaml.safe_load(text)


def test_empty_document_is_none() -> None:
    assert load_yaml("").data is None and load_yaml("# only a comment\n").data is None


def test_a_document_only_the_pure_python_parser_describes_still_gets_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import fileio.yamldoc as yd

    monkeypatch.setattr(yd, "_FAST", yaml.SafeLoader)  # a PyYAML without libyaml
    assert refusal("a: 1\n  b: 2\n") == "in.yaml:2: malformed YAML: mapping values are not allowed here"
    assert load_yaml("a: [1, 2]\n").data == {"a": [1, 2]}


def test_read_yaml_refuses_unreadable_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileFormatError, match=r"nope\.yaml: no such file"):
        read_yaml(tmp_path / "nope.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match=r"latin\.yaml: not UTF-8 text \(byte 9\)"):
        read_yaml(latin)
    with pytest.raises(FileFormatError, match="is a directory"):
        read_yaml(tmp_path)


def test_every_yaml_read_goes_through_fileio() -> None:
    """No package reads YAML by itself: calendars, channel files, curricula and lecture lists all come here."""
    import re

    from tests.helpers.support import REPO

    reader = re.compile(r"\byaml\.(safe_load|load|full_load|unsafe_load|compose|parse|scan)\b|\bCSafeLoader\b|\bSafeLoader\b")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for package in ("orchestrator", "schedules", "media", "signaling")
        for path in (REPO / package).rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reader.search(line)
    ]
    assert found == []
