"""iCalendar export: parsed back with the icalendar library and compared with the plan."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from schedules.academic.calendar import parse_calendar
from schedules.academic.ical import IcalEvent, event_from_session, render_calendar, uid_for
from schedules.academic.model import (
    Availability,
    ConsultationRule,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Offering,
    Person,
)
from schedules.academic.planner import plan as make_plan
from schedules.academic.planner import schedule_of

CALENDAR = """\
name: iCal test
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
windows:
  - {id: midterm, kind: control, start: 2026-10-19, end: 2026-10-23}
  - {id: defense, kind: defense, start: 2026-12-21, end: 2026-12-25}
"""
STAMP = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def planned():
    cal = parse_calendar(CALENDAR)
    groups = {"G1": Group("G1", "Group 1", ("s1", "s2"))}
    people = [Person("s1", tz="Europe/Berlin", available=Availability(time(8), time(20)))]
    o = Offering(
        "db", "Databases", "G1", "autumn", "t1",
        consultation=ConsultationRule(1, 90),
        controls=(ControlActivity("m", "Midterm test", 60, window_id="midterm"),),
        defense=DefenseRule("defense", 20, ("c1", "c2")),
    )  # fmt: skip
    results = [ControlResult("s1", "db", "m", True)]
    return make_plan(cal, [o], people, groups, results), groups


def test_feed_round_trips_through_icalendar(planned) -> None:
    result, groups = planned
    mine = schedule_of(result, "s1", groups)
    assert len(mine) > 10
    events = [event_from_session(s, sequence=2, join_url=f"https://uni.example/join/{s.key}") for s in mine]
    body = render_calendar(
        events, name="Schedule of s1", tz="Europe/Berlin", domain="uni.example", dtstamp=STAMP
    )
    assert body.endswith(b"END:VCALENDAR\r\n") and b"\r\n" in body and b"\n\n" not in body
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))

    cal = Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "Schedule of s1"
    assert str(cal["VERSION"]) == "2.0" and "aulacast" in str(cal["PRODID"])
    zones = cal.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in zones] == ["Europe/Berlin"]
    parsed = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(parsed) == len(mine)
    berlin = ZoneInfo("Europe/Berlin")
    for s in mine:
        ev = parsed[uid_for(s.key, "uni.example")]
        start, end = ev.decoded("DTSTART"), ev.decoded("DTEND")
        assert ev["DTSTART"].params["TZID"] == "Europe/Berlin"
        assert start == s.start and end == s.end  # same instants
        assert start.utcoffset() == s.start.astimezone(berlin).utcoffset()  # shown in the reader's zone
        assert str(ev["SUMMARY"]) == s.title
        assert int(ev["SEQUENCE"]) == 2
        assert str(ev["STATUS"]) == "CONFIRMED"
        assert str(ev["URL"]) == f"https://uni.example/join/{s.key}"
        assert f"https://uni.example/join/{s.key}" in str(ev["DESCRIPTION"])
        assert ev.decoded("DTSTAMP") == STAMP
    kinds = {str(e["CATEGORIES"].cats[0]) for e in parsed.values()}
    assert kinds == {"consultation", "control", "defense"}


def test_cancelled_and_updated_sessions_keep_their_uid(planned) -> None:
    result, groups = planned
    s = schedule_of(result, "s1", groups)[0]
    first = render_calendar([event_from_session(s)], name="x", tz="Asia/Almaty", domain="d", dtstamp=STAMP)
    gone = render_calendar(
        [event_from_session(s, sequence=1, cancelled=True)],
        name="x",
        tz="Asia/Almaty",
        domain="d",
        dtstamp=STAMP,
    )
    a = Calendar.from_ical(first).walk("VEVENT")[0]
    b = Calendar.from_ical(gone).walk("VEVENT")[0]
    assert str(a["UID"]) == str(b["UID"]) == f"{s.key}@d"
    assert (int(a["SEQUENCE"]), str(a["STATUS"])) == (0, "CONFIRMED")
    assert (int(b["SEQUENCE"]), str(b["STATUS"])) == (1, "CANCELLED")
    assert str(b["TRANSP"]) == "TRANSPARENT"


def test_text_is_escaped_and_long_lines_folded() -> None:
    start = datetime(2026, 9, 1, 4, 0, tzinfo=UTC)
    ev = IcalEvent(
        "o/consultation/w01/1", "Physics; optics, waves\\lab " + "x" * 120, start, start.replace(hour=5),
        description="line one\nline two\n" + "Консультация по базам данных; " * 6, location="Room 1, Almaty",
        categories=("consultation",),
    )  # fmt: skip
    body = render_calendar([ev], name="Группа 1: расписание", tz="Asia/Almaty", domain="d", dtstamp=STAMP)
    assert b"SUMMARY:Physics\\; optics\\, waves\\\\lab" in body
    parsed = Calendar.from_ical(body)
    e = parsed.walk("VEVENT")[0]
    assert str(e["SUMMARY"]) == ev.summary
    assert str(e["DESCRIPTION"]) == ev.description
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))  # folded by octets, not characters
    assert str(e["LOCATION"]) == "Room 1, Almaty"
    assert str(parsed["X-WR-CALNAME"]) == "Группа 1: расписание"
    assert e.decoded("DTSTART") == start


def test_bad_events_are_refused() -> None:
    naive = datetime(2026, 9, 1, 9)
    with pytest.raises(ValueError, match="aware"):
        render_calendar([IcalEvent("k", "s", naive, naive)], name="x", tz="UTC", domain="d")
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="status 'DONE'"):
        render_calendar([IcalEvent("k", "s", aware, aware, status="DONE")], name="x", tz="UTC", domain="d")


def test_empty_feed_is_valid() -> None:
    cal = Calendar.from_ical(
        render_calendar([], name="Nothing yet", tz="Asia/Almaty", domain="d", dtstamp=STAMP)
    )
    assert cal.walk("VEVENT") == [] and len(cal.walk("VTIMEZONE")) == 1
