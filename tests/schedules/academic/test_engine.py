"""The planning engine keeps its own caches: the incremental update changes it only through its methods."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import date, time

import pytest

from schedules.academic.calendar import parse_calendar, teaching_weeks, window_days
from schedules.academic.engine import Engine
from schedules.academic.model import Availability, ConsultationRule, Group, Holiday, Offering, Person
from tests.helpers.support import REPO

CALENDAR = """\
name: Engine test year
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
day_hours: {start: "09:00", end: "18:00"}
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
windows:
  - {id: midterm, kind: control, start: 2026-10-19, end: 2026-10-23, period: autumn}
"""


def test_no_module_but_the_engine_names_its_private_parts() -> None:
    """``Planner.update`` once cleared ``e._weeks`` and popped ``e._group_who`` from outside."""
    for name in ("planner.py", "update.py", "eligibility.py"):
        tree = ast.parse((REPO / "schedules" / "academic" / name).read_text(encoding="utf-8"))
        reached = [
            f"{name}:{node.lineno}: .{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_") and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")
        ]  # fmt: skip
        assert reached == []


def test_set_calendar_derives_weeks_and_windows_again() -> None:
    cal = parse_calendar(CALENDAR)
    engine = Engine(cal, {}, {})
    before = engine.weeks("autumn")
    moved = replace(cal, holidays=(Holiday("A day off", date(2026, 10, 20), date(2026, 10, 20)),))
    engine.set_calendar(moved)
    assert engine.weeks("autumn") == teaching_weeks(moved, moved.periods[0]) != before
    assert list(engine.window_days("midterm")) == window_days(moved, moved.windows[0])
    with pytest.raises(AssertionError):
        engine.set_calendar(replace(moved, timezone="Europe/Berlin"))  # another shape: a new engine


def test_forget_offering_rebuilds_participants_from_current_people() -> None:
    cal = parse_calendar(CALENDAR)
    groups = {"G": Group("G", "G", ("s1",))}
    o = Offering("o1", "Maths", "G", "autumn", "t1", consultation=ConsultationRule(1, 60))
    engine = Engine(cal, {}, groups)
    who = engine.group_who(o.tutor_id, o.group_id)
    assert who.windows == [] and engine.group_who("t1", "G") is who  # cached
    engine.set_people({"t1": Person("t1", available=Availability(time(13), time(17)))})
    assert engine.group_who("t1", "G") is who  # still the cached one...
    engine.forget_offering(o)
    fresh = engine.group_who("t1", "G")
    assert fresh is not who and [w[1:3] for w in fresh.windows] == [(13 * 60, 17 * 60)]  # ...until forgotten
