"""The YAML academic calendar: the worked example, every error kind, and `aulacast calendar check`."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest

from schedules.academic.calendar import describe, load_calendar, parse_calendar, teaching_weeks, window_days
from schedules.academic.model import BlockKind, WindowKind
from schedules.errors import CalendarError
from tests.helpers.support import REPO

ROOT = REPO
EXAMPLE = ROOT / "examples" / "calendar-kz-2026-2027.yaml"
AULACAST = Path(sys.executable).parent / "aulacast"

HEAD = """\
name: Test year
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
"""
PERIODS = """\
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
  - {id: spring, start: 2027-02-01, end: 2027-05-31}
"""


def error_of(text: str, name: str = "calendar.yaml") -> str:
    with pytest.raises(CalendarError) as info:
        parse_calendar(text, file=name)
    return str(info.value)


def test_example_calendar_is_understood() -> None:
    cal = load_calendar(EXAMPLE)
    assert cal.timezone == "Asia/Almaty"
    assert (cal.year_start, cal.year_end) == (date(2026, 9, 1), date(2027, 8, 31))
    assert [p.id for p in cal.periods] == ["autumn", "spring"]
    assert cal.teaching_weekdays == frozenset(range(6))
    assert (cal.day_start, cal.day_end, cal.slot_minutes) == (time(9), time(20), 15)
    assert cal.languages == ("kk", "ru", "en")
    holidays = {d for h in cal.holidays for d in h.days()}
    for day in ["2027-01-01", "2027-01-02", "2027-01-07", "2027-03-08", "2027-03-15", "2027-03-21", "2027-03-22",
                "2027-03-23", "2027-03-24", "2027-05-01", "2027-05-07", "2027-05-09", "2027-05-10", "2027-07-06",
                "2026-10-25", "2026-10-26", "2026-12-16"]:  # fmt: skip
        assert date.fromisoformat(day) in holidays, day
    # Constitution Day is 15 March from 2027, no longer 30 August; a six-day week teaches on Monday 3 May
    # (Saturday 1 May is a working day here, so the holiday is not moved) and on Monday 4 January.
    for day in ["2027-08-30", "2027-05-03", "2027-01-04"]:
        assert date.fromisoformat(day) not in {d for h in cal.holidays if h.source.startswith("public") for d in h.days()}
    kinds = {b.kind for b in cal.blocked}
    assert kinds == {BlockKind.EXAM_SESSION, BlockKind.PRACTICE}
    assert {w.kind for w in cal.windows} == {WindowKind.DEFENSE, WindowKind.CONTROL, WindowKind.EXAM}

    autumn = teaching_weeks(cal, cal.periods[0])
    assert len(autumn) == 15 and autumn[0].number == 1 and autumn[0].days[0] == date(2026, 9, 1)
    taught = {d for w in autumn for d in w.days}
    assert date(2026, 12, 16) not in taught and date(2026, 12, 14) not in taught  # holiday, exam session
    assert date(2026, 10, 26) not in taught  # the moved day off
    # Window days skip holidays but may lie in the exam session.
    defense = window_days(cal, cal.window("autumn-coursework"))
    assert date(2026, 12, 14) in defense and date(2026, 12, 16) not in defense
    assert date(2027, 3, 15) not in window_days(cal, cal.window("spring-midterm"))  # Constitution Day

    text = describe(cal)
    assert "Asia/Almaty (UTC+05:00" in text
    assert "autumn: Autumn semester, 2026-09-01 – 2027-01-09: 15 teaching weeks" in text
    assert "Public holidays: KZ from holidays 0.108, names in kk, en (none in ru)" in text
    assert "2027-03-15 Mon  Қазақстан Республикасының Конституциясы күні / Constitution Day  ← public holidays KZ" in text
    assert "2027-01-10 – 2027-01-31  Winter holidays  ← " in text and ":39 holidays[0]" in text
    assert "Estimated, not yet confirmed (1)" in text and "2027-05-16 Sun  Құрбан айт / Eid al-Adha\n" in text
    assert "practice: Professional practice" in text
    assert "autumn-coursework: 2026-12-14 – 2026-12-26  defense" in text


def test_week_numbers_count_untaught_weeks() -> None:
    cal = parse_calendar(
        HEAD + PERIODS + "blocked:\n  - {kind: practice, name: P, start: 2026-09-14, end: 2026-09-19}\n"
    )
    numbers = [w.number for w in teaching_weeks(cal, cal.periods[0])]
    assert numbers[:3] == [1, 2, 4]  # week 3 is all practice; week 4 keeps its number


def test_times_are_read_from_their_text() -> None:
    cal = parse_calendar(HEAD + PERIODS + "day_hours: {start: 8:30, end: '21:00'}\n")
    assert (cal.day_start, cal.day_end) == (time(8, 30), time(21))  # not YAML 1.1's sexagesimal 510


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + "periods: [\n",
            "calendar.yaml:5: malformed YAML: expected the node content, but found '<stream end>'",
        ),
        ("name: a\n  b: c\n", "calendar.yaml:2: malformed YAML: mapping values are not allowed here"),
        ("", "calendar.yaml:1: the file is empty (expected a calendar mapping)"),
        (
            HEAD + PERIODS + "colour: red\n",
            "calendar.yaml:7: colour: unknown key (expected one of: name, timezone, year, "
            "periods, teaching_days, day_hours, slot_minutes, holidays, blocked, windows, "
            "languages, public_holidays, transfers, extra_working_days)",
        ),  # fmt: skip
        (
            HEAD + "periods:\n  - {id: a, start: 2026-09-01, end: 2026-12-31, weeks: 15}\n",
            "calendar.yaml:5: periods[0].weeks: unknown key (expected one of: id, start, end, name)",
        ),  # fmt: skip
        (
            HEAD + "periods:\n  - {id: a, start: 2026-09-01, end: 2026-13-01}\n",
            "calendar.yaml:5: periods[0].end: 2026-13-01 is not a date (expected YYYY-MM-DD)",
        ),  # fmt: skip
        (
            HEAD + "periods:\n  - id: a\n    start: 2026-12-01\n    end: 2026-09-01\n",
            "calendar.yaml:7: periods[0].end: 2026-09-01 is before start 2026-12-01",
        ),  # fmt: skip
        (
            HEAD
            + "periods:\n  - {id: a, start: 2026-09-01, end: 2026-12-31}\n  - {id: b, start: 2026-12-01, end: 2027-05-31}\n",
            "calendar.yaml:6: periods[1]: period 'b' 2026-12-01 – 2027-05-31 overlaps periods[0] 'a' 2026-09-01 – 2026-12-31",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "holidays:\n  - {date: 2027-09-05, name: Late}\n",
            "calendar.yaml:8: holidays[0].date: holiday 2027-09-05 is outside the academic year 2026-09-01 – 2027-08-31",
        ),  # fmt: skip
        (
            "name: x\ntimezone: Asia/Almaty2\nyear: {start: 2026-09-01, end: 2027-08-31}\n" + PERIODS,
            "calendar.yaml:2: timezone: Asia/Almaty2 is not a known IANA time zone (e.g. Asia/Almaty)",
        ),  # fmt: skip
        ("name: x\nname: y\n", "calendar.yaml:2: name: duplicate key (first given on line 1)"),
        (
            "name: x\ntimezone: UTC\nyear: {start: 2026-09-01, end: 2027-08-31}\n",
            "calendar.yaml:1: periods: missing key",
        ),  # fmt: skip
        (
            HEAD + "periods:\n  - {id: a, start: 2026-09-01}\n",
            "calendar.yaml:5: periods[0]: missing key 'end'",
        ),
        (
            HEAD + PERIODS + "teaching_days: [mon, fun]\n",
            "calendar.yaml:7: teaching_days[1]: fun is not a weekday (mon, tue, ..., sun)",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "day_hours: {start: '9', end: '18:00'}\n",
            "calendar.yaml:7: day_hours.start: 9 is not a time of day (expected HH:MM)",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "day_hours: {start: '09:07', end: '18:00'}\n",
            "calendar.yaml:7: day_hours.start: 09:07 is not on a 5-minute boundary",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "day_hours: {start: '18:00', end: '09:00'}\n",
            "calendar.yaml:7: day_hours.end: 09:00 is not after start 18:00",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "slot_minutes: 7\n",
            "calendar.yaml:7: slot_minutes: 7 must be a multiple of 5 that divides 60 (5, 10, 15, 20, 30, 60)",
        ),  # fmt: skip
        (
            HEAD + PERIODS + "blocked:\n  - {kind: party, name: P, start: 2026-10-01, end: 2026-10-02}\n",
            "calendar.yaml:8: blocked[0].kind: party is not one of: exam_session, practice, other",
        ),  # fmt: skip
        (
            HEAD
            + PERIODS
            + "windows:\n  - {id: w, kind: defense, start: 2026-12-01, end: 2026-12-05, period: winter}\n",
            "calendar.yaml:8: windows[0].period: unknown period 'winter' (known: autumn, spring)",
        ),  # fmt: skip
        (
            HEAD
            + PERIODS
            + "windows:\n  - {id: w, kind: defense, start: 2027-01-10, end: 2027-01-15, period: autumn}\n",
            "calendar.yaml:8: windows[0].period: 2027-01-10 – 2027-01-15 is not inside period 'autumn' 2026-09-01 – 2026-12-31",
        ),  # fmt: skip
        (HEAD + "periods: {id: a}\n", "calendar.yaml:4: periods: expected a list, found a mapping"),
        (HEAD + "periods: []\n", "calendar.yaml:4: periods: at least one academic period is needed"),
        (
            HEAD
            + PERIODS
            + "holidays:\n  - {date: 2026-10-25, start: 2026-10-25, end: 2026-10-26, name: X}\n",
            "calendar.yaml:8: holidays[0]: give either 'date' or 'start' and 'end', not both",
        ),  # fmt: skip
    ],
)
def test_bad_calendar_names_file_line_and_key(text: str, expected: str) -> None:
    assert error_of(text) == expected


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match=r"nope\.yaml: no such file"):
        load_calendar(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(CalendarError, match=r"latin1\.yaml: not UTF-8 text"):
        load_calendar(bad)


def test_cli_check_reports_one_line_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "calendar.yaml"
    bad.write_text(
        HEAD
        + "periods:\n  - {id: a, start: 2026-09-01, end: 2026-12-31}\n  - {id: b, start: 2027-02-01, end: 2027-13-01}\n"
    )
    run = subprocess.run(
        [str(AULACAST), "calendar", "check", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert run.stdout == ""
    assert (
        run.stderr
        == f"aulacast: error: {bad}:6: periods[1].end: 2027-13-01 is not a date (expected YYYY-MM-DD)\n"
    )


def test_cli_check_prints_what_it_understood_with_an_ics_file(tmp_path: Path) -> None:
    ics = tmp_path / "extra.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Rector's day off\r\nDTSTART;VALUE=DATE:20261106\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:2\r\nSUMMARY:Long ago\r\nDTSTART;VALUE=DATE:20200101\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    run = subprocess.run(
        [str(AULACAST), "calendar", "check", str(EXAMPLE), "--ics", str(ics)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "15 teaching weeks" in run.stdout and "Наурыз мейрамы / Nowruz Holiday" in run.stdout
    assert "spring-coursework" in run.stdout
    assert "Holidays (21), each with where it came from:" in run.stdout
    assert f"2026-11-06 Fri  Rector's day off  ← {ics}:4 VEVENT[0]" in run.stdout
    assert f"{ics}: Long ago (2020-01-01)" in run.stdout
    ics.write_text(ics.read_text().replace("20261106", "20261306"))
    run = subprocess.run(
        [str(AULACAST), "calendar", "check", str(EXAMPLE), "--ics", str(ics)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert run.stderr.startswith(f"aulacast: error: {ics}:7: VEVENT[0].DTSTART: cannot read the value")
