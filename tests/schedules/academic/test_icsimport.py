"""Holidays and blocked periods from .ics files, and their errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from schedules.academic.calendar import parse_calendar, teaching_weeks
from schedules.academic.icsimport import merge_ics, parse_ics, read_ics
from schedules.academic.model import BlockKind, Holiday
from schedules.errors import CalendarError

CALENDAR = parse_calendar(
    """\
name: ICS test
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
  - {id: spring, start: 2027-02-01, end: 2027-06-12}
"""
)


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


NAURYZ = "UID:1\r\nSUMMARY:Nauryz\r\nDTSTART;VALUE=DATE:20270321\r\nDTEND;VALUE=DATE:20270324"


def event(summary: str, start: str, end: str | None = None, extra: str = "") -> str:
    lines = [f"UID:{summary}", f"SUMMARY:{summary}", f"DTSTART;VALUE=DATE:{start}"]
    if end:
        lines.append(f"DTEND;VALUE=DATE:{end}")
    if extra:
        lines.append(extra)
    return "\r\n".join(lines)


def test_holidays_blocks_recurrences_and_timed_events() -> None:
    text = ics(
        NAURYZ,
        event("New Year", "20200101", "20200103", "RRULE:FREQ=YEARLY"),
        event("Exams", "20270517", "20270613", "CATEGORIES:EXAM-SESSION"),
        event("Practice", "20270614", "20270725", "CATEGORIES:PRACTICE"),
        event("Open day", "20261110", None, "CATEGORIES:BLOCKED,EVENT"),
        event("Old holiday", "20250101"),
        "UID:t\r\nSUMMARY:Outage\r\nDTSTART;TZID=Asia/Almaty:20261105T220000\r\nDTEND;TZID=Asia/Almaty:20261106T020000",
        "UID:u\r\nSUMMARY:UTC evening\r\nDTSTART:20261201T200000Z\r\nDURATION:PT2H",
    )
    entries = parse_ics(text, calendar=CALENDAR, file="kz.ics")
    holidays = {(h.name, h.start, h.end) for h in entries.holidays}
    assert ("Nauryz", date(2027, 3, 21), date(2027, 3, 23)) in holidays  # DTEND is exclusive
    assert ("New Year", date(2027, 1, 1), date(2027, 1, 2)) in holidays  # expanded inside the year only
    assert ("Outage", date(2026, 11, 5), date(2026, 11, 6)) in holidays  # timed: every day it touches
    assert ("UTC evening", date(2026, 12, 2), date(2026, 12, 2)) in holidays  # 20:00Z is 01:00 next day in Almaty
    blocked = {(b.kind, b.name, b.start, b.end) for b in entries.blocked}
    assert blocked == {
        (BlockKind.EXAM_SESSION, "Exams", date(2027, 5, 17), date(2027, 6, 12)),
        (BlockKind.PRACTICE, "Practice", date(2027, 6, 14), date(2027, 7, 24)),
        (BlockKind.OTHER, "Open day", date(2026, 11, 10), date(2026, 11, 10)),
    }
    assert entries.skipped == ("Old holiday (2025-01-01)",)


def test_merge_adds_entries_to_the_calendar(tmp_path: Path) -> None:
    path = tmp_path / "h.ics"
    path.write_text(ics(NAURYZ))
    cal = merge_ics(CALENDAR, path)
    assert cal.holidays == (Holiday("Nauryz", date(2027, 3, 21), date(2027, 3, 23), f"{path}:4 VEVENT[0]"),)
    taught = {d for w in teaching_weeks(cal, cal.periods[1]) for d in w.days}
    assert date(2027, 3, 22) not in taught and date(2027, 3, 24) in taught


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello\r\n", "h.ics:1: not an iCalendar file (no BEGIN:VCALENDAR line)"),
        (ics(NAURYZ.replace("20270321", "20271321")),
         "h.ics:7: VEVENT[0].DTSTART: cannot read the value: Wrong date format 20271321"),  # fmt: skip
        (ics(NAURYZ.replace("DTEND;VALUE=DATE:20270324", "DTEND;VALUE=DATE:20270301")),
         "h.ics:8: VEVENT[0].DTEND: ends (2027-03-01) before it starts (2027-03-21)"),  # fmt: skip
        (ics("UID:x\r\nSUMMARY:No start"), "h.ics:4: VEVENT[0].DTSTART: missing: every event needs a start"),
        (ics(NAURYZ.replace("UID:1", "this is not a content line")),
         "h.ics:5: VEVENT[0]: cannot parse the line 'this is not a content line'"),  # fmt: skip
        (ics(event("X", "20270101", None, "RRULE:FREQ=SOMETIMES")),
         "h.ics:8: VEVENT[0].RRULE: cannot read the value: Expected frequency, got: SOMETIMES"),  # fmt: skip
    ],
)
def test_bad_ics_names_file_line_and_property(text: str, expected: str) -> None:
    with pytest.raises(CalendarError) as info:
        parse_ics(text, calendar=CALENDAR, file="h.ics")
    assert str(info.value) == expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match=r"none\.ics: no such file"):
        read_ics(tmp_path / "none.ics", calendar=CALENDAR)
