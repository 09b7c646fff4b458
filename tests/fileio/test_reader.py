"""The one typed reader: each refusal names file, line and key path, for YAML, TOML and plain data."""

from __future__ import annotations

from datetime import date, time

import pytest

from fileio import Document, FileFormatError, Reader, load_toml, load_yaml

YAML = """\
name: 2026
slots: ["09:00", 10:30]
year:
  start: 2026-09-01
  end: 2026-13-01
count: '15'
bad: fifteen
ratio: 1.50
list: {a: 1}
blank: "  "
"""


def yaml_reader() -> Reader:
    return Reader(load_yaml(YAML, file="c.yaml"))


def message(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(FileFormatError) as caught:
        fn(*args, **kwargs)
    return str(caught.value)


def test_yaml_values_are_read_as_written_where_text_is_expected() -> None:
    r = yaml_reader()
    assert r.text(("name",)) == "2026" and r.text(("ratio",)) == "1.50"
    assert r.clock(("slots", 0)) == time(9) and r.clock(("slots", 1)) == time(10, 30)
    assert r.day(("year", "start")) == date(2026, 9, 1)
    assert r.integer(("count",)) == 15  # YAML types by look: a quoted number is still a number here
    assert r.number(("ratio",), 0, 2) == 1.5


def test_refusals_name_file_line_and_key() -> None:
    r = yaml_reader()
    assert message(r.day, ("year", "end")) == "c.yaml:5: year.end: 2026-13-01 is not a date (expected YYYY-MM-DD)"
    assert message(r.integer, ("bad",)) == "c.yaml:7: bad: must be an integer, not str 'fifteen'"
    assert message(r.integer, ("count",), 20, 30) == "c.yaml:6: count: 15 is outside 20..30"
    assert message(r.seq, ("list",)) == "c.yaml:9: list: expected a list, found a mapping"
    assert message(r.text, ("blank",)) == "c.yaml:10: blank: must not be empty"
    assert message(r.text, ("list",)) == "c.yaml:9: list: expected a value, found a mapping"
    assert message(r.text, ("year", "middle")) == "c.yaml:4: year.middle: missing"
    assert message(r.clock, ("name",)) == "c.yaml:1: name: 2026 is not a time of day (expected HH:MM)"
    assert message(r.choice, ("bad",), ("one", "two")) == "c.yaml:7: bad: unknown value 'fifteen' (expected one or two)"


def test_mapping_checks_its_keys() -> None:
    r = yaml_reader()
    assert message(r.mapping, ("year",), ("start", "end", "weeks"), ()) == "c.yaml:4: year: missing key 'weeks'"
    assert message(r.mapping, ("year",), ("start",), ()) == "c.yaml:5: year.end: unknown key (expected one of: start)"
    assert message(r.mapping, (), ("title",)) == "c.yaml:1: title: missing key"
    assert r.mapping(("nothing",), default={}) == {}


def test_toml_types_are_taken_as_written() -> None:
    r = Reader(load_toml('[t]\nn = "15"\ns = 5\nd = 2026-09-01\nc = 10:30:00\nf = 1.5\n', file="p.toml"))
    assert message(r.integer, ("t", "n")) == "p.toml:2: t.n: must be an integer, not str '15'"
    assert message(r.text, ("t", "s")) == "p.toml:3: t.s: must be a string, not int 5"
    assert r.day(("t", "d")) == date(2026, 9, 1) and r.clock(("t", "c")) == time(10, 30)
    assert r.number(("t", "f")) == 1.5 and r.number(("t", "s")) == 5.0
    assert message(r.number, ("t", "n")) == "p.toml:2: t.n: must be a number, not str '15'"


def test_plain_data_has_no_lines_but_keys() -> None:
    r = Reader(Document.of({"a": {"b": "x"}}, file="given.yaml"))
    assert message(r.integer, ("a", "b")) == "given.yaml: a.b: must be an integer, not str 'x'"


def test_the_callers_error_class_is_raised() -> None:
    class OwnError(FileFormatError):
        pass

    r = Reader(load_yaml("a: x\n", file="f.yaml"), error=OwnError)
    with pytest.raises(OwnError, match=r"^f\.yaml:1: a: must be an integer"):
        r.integer(("a",))
