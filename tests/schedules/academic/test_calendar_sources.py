"""Where a calendar's days come from: the country's public holidays, the file's own holidays, decree
transfers and extra working days; bad input of each; and the planner following them (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from schedules.academic.calendar import (
    describe,
    holiday_dates,
    parse_calendar,
    teaching_weeks,
    window_days,
    working_dates,
)
from schedules.academic.model import (
    AcademicCalendar,
    ConsultationRule,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Offering,
    SessionKind,
)
from schedules.academic.planner import Planner, plan
from schedules.errors import CalendarError
from tests.helpers.support import REPO

ROOT = REPO
EXAMPLE = ROOT / "examples" / "calendar-kz-2026-2027.yaml"
AULACAST = Path(sys.executable).parent / "aulacast"
ALMATY = ZoneInfo("Asia/Almaty")

HEAD = """\
name: Test year
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
  - {id: spring, start: 2027-02-01, end: 2027-05-31}
"""
KZ = "public_holidays: {country: KZ}\n"

# A decree of the kind Kazakhstan's Government issues (made up for the test; none is known for 2026/27):
# Thursday 25 March, between the Nauryz days off and the weekend, is off and Saturday 27 March is worked.
TRANSFER = "transfers:\n  - {work: 2027-03-27, off: 2027-03-25, name: Decree (test) - Nauryz bridge}\n"


def five_day(text: str) -> str:
    return text.replace(
        "teaching_days: [mon, tue, wed, thu, fri, sat]", "teaching_days: [mon, tue, wed, thu, fri]"
    )


def error_of(text: str) -> str:
    with pytest.raises(CalendarError) as info:
        parse_calendar(text, file="calendar.yaml")
    return str(info.value)


# ------------------------------------------------------------- the sources


def test_country_holidays_file_holidays_and_ics_each_name_their_source(tmp_path: Path) -> None:
    cal = parse_calendar(
        HEAD
        + "languages: [en]\n"
        + KZ
        + "holidays:\n  - {start: 2027-01-03, end: 2027-01-09, name: Winter break}\n",
        file="calendar.yaml",
    )
    by_day = {h.start: h for h in cal.holidays}
    assert by_day[date(2027, 3, 15)].name == "Constitution Day"
    assert by_day[date(2027, 3, 15)].source == "public holidays KZ"
    assert by_day[date(2027, 5, 3)].source == "public holidays KZ: day off moved from a rest day"
    assert by_day[date(2027, 1, 3)].source == "calendar.yaml:10 holidays[0]"
    text = describe(cal)
    assert "Public holidays: KZ from holidays 0.108, names in en\n" in text
    assert (
        "  days off moved: a holiday on Sat → next working day, Sun → next working day (since 2002)\n" in text
    )
    assert "  2027-05-01 Sat  Kazakhstan's People Solidarity Holiday  ← public holidays KZ\n" in text
    assert (
        "  2027-05-03 Mon  Kazakhstan's People Solidarity Holiday (observed)  "
        "← public holidays KZ: day off moved from a rest day\n"
    ) in text
    assert "  2027-01-03 – 2027-01-09  Winter break  ← calendar.yaml:10 holidays[0]\n" in text
    assert "  2027-05-16 Sun  Eid al-Adha  ← public holidays KZ, lunar date ESTIMATED\n" in text
    assert "Estimated, not yet confirmed (1): " in text

    path = tmp_path / "cal.yaml"
    path.write_text(HEAD + KZ)
    ics = tmp_path / "own.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Rector's day off\r\nDTSTART;VALUE=DATE:20261106\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    run = subprocess.run(
        [str(AULACAST), "calendar", "check", str(path), "--ics", str(ics)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"  2026-11-06 Fri  Rector's day off  ← {ics}:4 VEVENT[0]\n" in run.stdout
    assert (
        "  2027-03-15 Mon  Қазақстан Республикасының Конституциясы күні  ← public holidays KZ\n" in run.stdout
    )


def test_estimated_day_is_confirmed_or_redated_in_the_file() -> None:
    confirm = "public_holidays:\n  country: KZ\n  confirm:\n    - {estimated: 2027-05-16}\n"
    cal = parse_calendar(HEAD + "languages: [en]\n" + confirm, file="calendar.yaml")
    eid = next(h for h in cal.holidays if h.start == date(2027, 5, 16))
    assert not eid.estimated and eid.name == "Eid al-Adha"
    assert (
        eid.source
        == "public holidays KZ, lunar date ESTIMATED, date confirmed by calendar.yaml:11 public_holidays.confirm[0]"
    )
    assert "Estimated, not yet confirmed" not in describe(cal)

    redate = confirm.replace("{estimated: 2027-05-16}", "{estimated: 2027-05-16, date: 2027-05-17}")
    cal = parse_calendar(HEAD + redate, file="calendar.yaml")
    days = holiday_dates(cal)
    assert date(2027, 5, 17) in days and date(2027, 5, 16) not in days
    assert "Estimated, not yet confirmed" not in describe(cal)


def test_a_wrong_day_of_the_source_can_be_dropped() -> None:
    drop = "public_holidays:\n  country: KZ\n  drop:\n    - {date: 2027-03-15, reason: not in this year's decree}\n"
    cal = parse_calendar(HEAD + drop, file="calendar.yaml")
    assert date(2027, 3, 15) not in holiday_dates(cal)
    assert (
        "  not applied: Mon 2027-03-15 Қазақстан Республикасының Конституциясы күні: dropped by "
        "calendar.yaml:10 public_holidays.drop[0] (not in this year's decree)"
    ) in describe(cal)


def test_transfer_and_extra_working_day_make_teaching_days() -> None:
    text = (
        HEAD
        + KZ
        + TRANSFER
        + "extra_working_days:\n  - {date: 2026-11-14, name: Open Saturday (order No. 7)}\n"
    )
    cal = parse_calendar(text, file="calendar.yaml")
    assert set(working_dates(cal)) == {date(2027, 3, 27), date(2026, 11, 14)}
    off = {h.start: h for h in cal.holidays}[date(2027, 3, 25)]
    assert off.source == "calendar.yaml:9 transfers[0]: transfer, Sat 2027-03-27 worked instead"
    spring = {w.monday: w for w in teaching_weeks(cal, cal.period("spring"))}
    # Nauryz week: Mon 22, Tue 23 holidays, Wed 24 moved day off, Thu 25 transferred off; Fri 26 and Sat 27 taught.
    assert spring[date(2027, 3, 22)].days == (date(2027, 3, 26), date(2027, 3, 27))
    autumn = {w.monday: w for w in teaching_weeks(cal, cal.period("autumn"))}
    assert len(autumn[date(2026, 11, 9)].days) == 6
    text = describe(cal)
    assert "Working days added (2):\n" in text
    assert "  2026-11-14 Sat  Open Saturday (order No. 7)  ← calendar.yaml:11 extra_working_days[0]\n" in text
    assert (
        "  2027-03-27 Sat  Decree (test) - Nauryz bridge  ← calendar.yaml:9 transfers[0]: transfer, "
        "Thu 2027-03-25 off instead\n"
    ) in text
    assert "w08(2)" in text


# ------------------------------------------------------------- bad input

BAD = [
    (
        HEAD + "public_holidays: {country: Kazakstan}\n",
        "calendar.yaml:7: public_holidays.country: Kazakstan is not a country known to holidays 0.108; "
        "did you mean KZ (Kazakhstan)? (codes are ISO 3166-1, e.g. KZ; `aulacast calendar countries` lists them all)",
    ),
    (
        HEAD + "public_holidays:\n  country: KZ\n  subdivision: ALA\n",
        "calendar.yaml:9: public_holidays.subdivision: ALA is not a subdivision of KZ (KZ has none in holidays 0.108; "
        "`aulacast calendar countries KZ` lists them)",
    ),
    (
        HEAD + "public_holidays: {country: KZ, region: ALA}\n",
        "calendar.yaml:7: public_holidays.region: unknown key (expected one of: country, subdivision, confirm, drop)",
    ),
    (  # a weekday is already a working day
        HEAD + KZ + "transfers:\n  - {work: 2027-03-26, off: 2027-03-25, name: D}\n",
        "calendar.yaml:9: transfers[0].work: Fri 2027-03-26 is already a working day (teaching_days: mon, tue, "
        "wed, thu, fri)",
    ),
    (  # a six-day week already works on Saturday
        HEAD + "teaching_days: [mon, tue, wed, thu, fri, sat]\n" + KZ + TRANSFER,
        "calendar.yaml:10: transfers[0].work: Sat 2027-03-27 is already a working day (teaching_days: mon, tue, "
        "wed, thu, fri, sat); a decree's working weekend day concerns institutions that do not teach on it",
    ),
    (  # the work day is a public holiday
        HEAD + KZ + "transfers:\n  - {work: 2027-05-01, off: 2027-05-04, name: D}\n",
        "calendar.yaml:9: transfers[0].work: Sat 2027-05-01 is a holiday here (Қазақстан халқының бірлігі мерекесі, "
        "public holidays KZ); it cannot become a working day",
    ),
    (  # the day off is a weekend day
        HEAD + KZ + "transfers:\n  - {work: 2027-03-27, off: 2027-03-28, name: D}\n",
        "calendar.yaml:9: transfers[0].off: Sun 2027-03-28 is already off (no teaching on sun: teaching_days are "
        "mon, tue, wed, thu, fri)",
    ),
    (  # the day off is a moved public day off
        HEAD + KZ + "transfers:\n  - {work: 2027-03-27, off: 2027-03-24, name: D}\n",
        "calendar.yaml:9: transfers[0].off: Wed 2027-03-24 is already off (Наурыз мейрамы (қайта белгіленген "
        "демалыс), public holidays KZ: day off moved from a rest day)",
    ),
    (  # the day off is one of the file's own holidays
        HEAD + "holidays:\n  - {start: 2027-01-03, end: 2027-01-09, name: Winter break}\n"
        "transfers:\n  - {work: 2027-01-10, off: 2027-01-05, name: D}\n",
        "calendar.yaml:10: transfers[0].off: Tue 2027-01-05 is already off (Winter break, calendar.yaml:8 holidays[0])",
    ),
    (  # two transfers give the same day off
        HEAD + KZ + TRANSFER + "  - {work: 2027-03-28, off: 2027-03-25, name: E}\n",
        "calendar.yaml:10: transfers[1].off: Thu 2027-03-25 is already off (Decree (test) - Nauryz bridge, "
        "calendar.yaml:9 transfers[0]: transfer, Sat 2027-03-27 worked instead)",
    ),
    (  # outside the academic year
        HEAD + KZ + "transfers:\n  - {work: 2027-09-04, off: 2027-09-06, name: D}\n",
        "calendar.yaml:9: transfers[0].work: transfer working day 2027-09-04 is outside the academic year "
        "2026-09-01 – 2027-08-31",
    ),
    (
        HEAD + KZ + "transfers:\n  - {work: 2027-08-28, off: 2027-09-06, name: D}\n",
        "calendar.yaml:9: transfers[0].off: transfer day off 2027-09-06 is outside the academic year "
        "2026-09-01 – 2027-08-31",
    ),
    (
        HEAD + KZ + "transfers:\n  - {work: 2027-03-27, off: 2027-03-25}\n",
        "calendar.yaml:9: transfers[0]: missing key 'name'",
    ),
    (
        HEAD + KZ + "transfers:\n  - {work: 2027-03-27, off: 2027-02-30, name: D}\n",
        "calendar.yaml:9: transfers[0].off: 2027-02-30 is not a date (expected YYYY-MM-DD)",
    ),
    (
        HEAD + KZ + "extra_working_days:\n  - {date: 2027-03-25, name: D}\n",
        "calendar.yaml:9: extra_working_days[0].date: Thu 2027-03-25 is already a working day (teaching_days: mon, "
        "tue, wed, thu, fri)",
    ),
    (
        HEAD + KZ + TRANSFER + "extra_working_days:\n  - {date: 2027-03-27, name: D}\n",
        "calendar.yaml:11: extra_working_days[0].date: Sat 2027-03-27 is already a working day (Decree (test) - "
        "Nauryz bridge, calendar.yaml:9 transfers[0]: transfer, Thu 2027-03-25 off instead)",
    ),
    (
        HEAD + "public_holidays:\n  country: KZ\n  confirm:\n    - {estimated: 2027-03-15}\n",
        "calendar.yaml:10: public_holidays.confirm[0].estimated: 2027-03-15 is not an estimated day of the KZ "
        "public holidays in this academic year (estimated: 2027-05-16 Құрбан айт)",
    ),
    (
        HEAD
        + "public_holidays:\n  country: KZ\n  confirm:\n    - {estimated: 2027-05-16, date: 2027-09-16}\n",
        "calendar.yaml:10: public_holidays.confirm[0].date: confirmed date 2027-09-16 is outside the academic year "
        "2026-09-01 – 2027-08-31",
    ),
    (
        HEAD + "public_holidays:\n  country: KZ\n  drop:\n    - {date: 2027-03-16, reason: x}\n",
        "calendar.yaml:10: public_holidays.drop[0].date: 2027-03-16 is not a day of the KZ public holidays in this "
        "academic year",
    ),
    (
        HEAD + "languages: [kk, Russian]\n",
        "calendar.yaml:7: languages[1]: Russian is not a language code (ISO 639-1, e.g. kk, ru, en)",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_sources_name_file_line_and_key(text: str, expected: str) -> None:
    assert error_of(text) == expected


# ------------------------------------------------------------- done when: both weeks plan around every day off


def offerings_for(cal: AcademicCalendar) -> list[Offering]:
    out = []
    for period, midterm, defense in (("autumn", "autumn-midterm", "autumn-coursework"),
                                     ("spring", "spring-midterm", "spring-coursework")):  # fmt: skip
        for n, weekdays in enumerate([(5,), (0,), (0, 2), ()]):  # Saturday first, Monday first, ...
            oid = f"{period}-{n}"
            out.append(
                Offering(
                    oid,
                    f"Discipline {oid}",
                    f"G{n}",
                    period,
                    f"t{n}",
                    consultation=ConsultationRule(per_week=2, minutes=90, weekdays=weekdays),
                    controls=(ControlActivity("mid", "Midterm", minutes=60, window_id=midterm),),
                    defense=DefenseRule(defense, 20, (f"t{n}", "chair")) if n == 0 else None,
                )  # fmt: skip
            )
    return out


def plan_institution(text: str):  # type: ignore[no-untyped-def]
    cal = parse_calendar(text, file="institution.yaml")
    offerings = offerings_for(cal)
    groups = {f"G{n}": Group(f"G{n}", f"G{n}", tuple(f"s{n}{i}" for i in range(3))) for n in range(4)}
    results = [ControlResult(s, o.id, "mid", True) for o in offerings for s in groups[o.group_id].student_ids]
    return cal, plan(cal, offerings, [], groups, results)


def assert_no_session_on_a_day_off(cal: AcademicCalendar, result) -> set[date]:  # type: ignore[no-untyped-def]
    off = holiday_dates(cal)
    working = working_dates(cal)
    used = set()
    for s in result.sessions:
        day = s.start.astimezone(ALMATY).date()
        assert day not in off, (s.key, day, off.get(day))
        assert day.weekday() in cal.teaching_weekdays or day in working, (s.key, day)
        used.add(day)
    return used


def test_five_and_six_day_kazakh_institutions_plan_2026_27_around_every_day_off() -> None:
    six_text = EXAMPLE.read_text()
    five_text = five_day(six_text) + TRANSFER
    six, six_plan = plan_institution(six_text)
    five, five_plan = plan_institution(five_text)
    assert six_plan.unplaced == () and five_plan.unplaced == ()

    six_used = assert_no_session_on_a_day_off(six, six_plan)
    five_used = assert_no_session_on_a_day_off(five, five_plan)
    public = {
        date.fromisoformat(d)
        for d in [
            "2026-10-25",
            "2026-10-26",
            "2026-12-16",
            "2027-01-01",
            "2027-01-02",
            "2027-01-07",
            "2027-03-08",
            "2027-03-15",
            "2027-03-21",
            "2027-03-22",
            "2027-03-23",
            "2027-03-24",
            "2027-05-01",
            "2027-05-07",
            "2027-05-09",
            "2027-05-10",
            "2027-05-16",
            "2027-07-06",
        ]  # fmt: skip
    }
    assert public <= set(holiday_dates(six)) and public <= set(holiday_dates(five))
    assert not (public & (six_used | five_used))
    # The five-day week gets the Saturday holidays' days off and the decree's Thursday; it teaches on the
    # decree's working Saturday. The six-day week teaches on the Mondays after its Saturday holidays.
    five_only = {date(2027, 1, 4), date(2027, 5, 3), date(2027, 3, 25)}
    assert five_only <= set(holiday_dates(five)) and not (five_only & five_used)
    assert date(2027, 3, 27) in five_used
    assert [s.key for s in five_plan.sessions if s.start.astimezone(ALMATY).date() == date(2027, 3, 27)]
    assert not ({date(2027, 1, 4), date(2027, 5, 3)} & set(holiday_dates(six)))
    assert date(2027, 5, 3) in six_used
    saturdays = {d for d in five_used if d.weekday() == 5}
    assert saturdays == {date(2027, 3, 27)}
    # Midterm controls skip Constitution Day, the first day of the spring midterm window.
    for result in (six_plan, five_plan):
        mids = [
            s for s in result.sessions if s.kind is SessionKind.CONTROL and s.offering_id.startswith("spring")
        ]
        assert mids and all(s.start.astimezone(ALMATY).date() != date(2027, 3, 15) for s in mids)
    # Teaching weeks follow: the Nauryz week of the five-day institution keeps Friday and the working Saturday.
    nauryz = next(w for w in teaching_weeks(five, five.period("spring")) if w.monday == date(2027, 3, 22))
    assert nauryz.days == (date(2027, 3, 26), date(2027, 3, 27))
    assert date(2027, 3, 15) not in window_days(five, five.window("spring-midterm"))


def test_planner_update_follows_a_new_transfer() -> None:
    text = five_day(EXAMPLE.read_text())
    cal = parse_calendar(text, file="a.yaml")
    offerings = offerings_for(cal)
    groups = {f"G{n}": Group(f"G{n}", f"G{n}", (f"s{n}",)) for n in range(4)}
    planner = Planner(cal, offerings, [], groups)
    first = planner.result
    moved = parse_calendar(text + TRANSFER, file="a.yaml")
    after = planner.update(calendar=moved)
    assert after == plan(moved, offerings, [], groups, previous=first)  # incremental = full re-plan
    days = {s.start.astimezone(ALMATY).date() for s in after.sessions}
    assert date(2027, 3, 25) in {s.start.astimezone(ALMATY).date() for s in first.sessions}
    assert date(2027, 3, 25) not in days and date(2027, 3, 27) in days
    kept = set(first.sessions) & set(after.sessions)
    assert len(kept) > len(after.sessions) - 10  # only the sessions of the touched week move
