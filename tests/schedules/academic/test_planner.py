"""The planner, one test per constraint, checked by an independent (pairwise) verifier."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

import pytest

from schedules.academic.calendar import (
    blocked_dates,
    holiday_dates,
    parse_calendar,
    teaching_weeks,
    window_days,
)
from schedules.academic.model import (
    AcademicCalendar,
    Availability,
    ConsultationRule,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Holiday,
    Offering,
    Person,
    PlanResult,
    SessionKind,
)
from schedules.academic.planner import Planner, diff, group_schedule, plan, schedule_of
from schedules.errors import PlanError

ALMATY = ZoneInfo("Asia/Almaty")

CALENDAR = """\
name: Planner test year
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
teaching_days: [mon, tue, wed, thu, fri]
day_hours: {start: "09:00", end: "18:00"}
slot_minutes: 30
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
holidays:
  - {date: 2026-09-07, name: Holiday on a Monday}
  - {start: 2026-10-26, end: 2026-10-30, name: Autumn break}
blocked:
  - {kind: practice, name: Practice, start: 2026-11-09, end: 2026-11-13, period: autumn}
  - {kind: exam_session, name: Exams, start: 2026-12-14, end: 2026-12-31, period: autumn}
windows:
  - {id: midterm, kind: control, start: 2026-10-19, end: 2026-10-23, period: autumn}
  - {id: defense, kind: defense, start: 2026-12-14, end: 2026-12-18, period: autumn}
"""


@pytest.fixture(scope="module")
def cal() -> AcademicCalendar:
    return parse_calendar(CALENDAR, file="test.yaml")


def local(dt: datetime, tz: ZoneInfo = ALMATY) -> datetime:
    return dt.astimezone(tz)


def participants(s, groups: dict[str, Group]) -> set[tuple[str, str]]:
    """Everyone a session occupies, expanded independently of the planner's resource model."""
    who = {("person", p) for p in s.person_ids()}
    if s.group_id:
        who |= {("person", sid) for sid in groups[s.group_id].student_ids}
    return who


def assert_no_double_booking(result: PlanResult, groups: dict[str, Group]) -> None:
    by_person: dict[str, list] = defaultdict(list)
    for s in result.sessions:
        for _, pid in participants(s, groups):
            by_person[pid].append(s)
    for pid, items in by_person.items():
        for a, b in combinations(items, 2):
            assert not (a.start < b.end and b.start < a.end), f"{pid} double-booked: {a.key} and {b.key}"


def assert_calendar_respected(cal: AcademicCalendar, result: PlanResult) -> None:
    holidays = holiday_dates(cal)
    blocked = blocked_dates(cal)
    for s in result.sessions:
        start, end = local(s.start), local(s.end)
        assert s.start.utcoffset() == timedelta(0)
        assert start.date() not in holidays, s.key
        assert start.weekday() in cal.teaching_weekdays, s.key
        assert cal.day_start <= start.time() and end.time() <= cal.day_end and start.date() == end.date(), (
            s.key
        )
        if s.kind is SessionKind.CONSULTATION:
            assert start.date() not in blocked, s.key


def offering(oid: str, group: str, tutor: str, **kw) -> Offering:
    kw.setdefault("consultation", ConsultationRule(per_week=1, minutes=90))
    return Offering(oid, f"Discipline {oid}", group, "autumn", tutor, **kw)


def test_consultations_fill_teaching_weeks_and_avoid_holidays_and_blocks(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "G1", ("s1", "s2"))}
    # Prefers Monday: the Monday holiday and the break must push sessions elsewhere in those weeks.
    o = offering("o1", "G1", "t1", consultation=ConsultationRule(2, 90, weekdays=(0,)))
    result = plan(cal, [o], [], groups)
    assert result.unplaced == ()
    weeks = teaching_weeks(cal, cal.periods[0])
    assert len(result.sessions) == 2 * len(weeks)
    assert {s.key for s in result.sessions} == {
        f"o1/consultation/w{w.number:02d}/{i}" for w in weeks for i in (1, 2)
    }
    assert_calendar_respected(cal, result)
    by_key = result.by_key()
    assert local(by_key["o1/consultation/w02/1"].start).date() != date(2026, 9, 7)
    assert local(by_key["o1/consultation/w03/1"].start).date() == date(2026, 9, 14)  # an ordinary Monday
    # Two sessions of one week go to different days when they can.
    assert (
        local(by_key["o1/consultation/w03/1"].start).date()
        != local(by_key["o1/consultation/w03/2"].start).date()
    )
    # No session in the break week (9) or the practice week (11).
    assert not any("/w09/" in k or "/w11/" in k for k in by_key)


def test_no_double_booking_of_tutor_group_student_or_committee(cal: AcademicCalendar) -> None:
    # s3 is in two groups; t1 teaches three offerings and sits on a committee; preferences all collide.
    groups = {
        "G1": Group("G1", "", ("s1", "s2", "s3")),
        "G2": Group("G2", "", ("s3", "s4")),
        "G3": Group("G3", "", ("s5",)),
    }
    same = ConsultationRule(2, 90, weekdays=(1,), hours=(time(10), time(12)))
    offs = [
        offering("a", "G1", "t1", consultation=same),
        offering("b", "G2", "t2", consultation=same),
        offering("c", "G3", "t1", consultation=same),
        offering(
            "d",
            "G1",
            "t3",
            consultation=same,
            controls=(ControlActivity("m", "Midterm", 60, window_id="midterm"),),
            defense=DefenseRule("defense", 30, ("t1", "t2")),
        ),  # fmt: skip
        offering("e", "G2", "t4", consultation=same, defense=DefenseRule("defense", 30, ("t2", "t1"))),
    ]
    results = [ControlResult(s, "d", "m", True) for s in ("s1", "s2", "s3")]
    result = plan(cal, offs, [], groups, results)
    assert result.unplaced == ()
    assert_no_double_booking(result, groups)
    assert_calendar_respected(cal, result)
    defenses = [s for s in result.sessions if s.kind is SessionKind.DEFENSE]
    assert {s.key for s in defenses} == {
        "d/defense/s1",
        "d/defense/s2",
        "d/defense/s3",
        "e/defense/s3",
        "e/defense/s4",
    }


def test_preferred_hours_and_days_are_used_when_free(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "", ("s1",)), "G2": Group("G2", "", ("s2",))}
    pref = ConsultationRule(1, 60, weekdays=(3,), hours=(time(14), time(16)))
    offs = [offering("a", "G1", "t1", consultation=pref), offering("b", "G2", "t1", consultation=pref)]
    result = plan(cal, offs, [], groups)
    assert result.unplaced == ()
    for s in result.sessions:
        start = local(s.start)
        assert start.weekday() == 3 and time(14) <= start.time() and local(s.end).time() <= time(16), s.key
    # Same tutor, same preference: the two offerings share Thursday 14–16 without overlapping.
    assert_no_double_booking(result, groups)


def test_strict_preferences_are_never_broken(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "", ("s1",)), "G2": Group("G2", "", ("s2",))}
    strict = ConsultationRule(1, 120, weekdays=(3,), hours=(time(14), time(16)), strict=True)
    offs = [offering("a", "G1", "t1", consultation=strict), offering("b", "G2", "t1", consultation=strict)]
    result = plan(cal, offs, [], groups)
    placed_weeks = {s.key.split("/")[2] for s in result.sessions}
    # One 2-hour Thursday window a week, one tutor: only one offering fits each week; the other is reported.
    assert len(result.sessions) == len(result.unplaced) == len(placed_weeks)
    for u in result.unplaced:
        assert u.kind is SessionKind.CONSULTATION
        assert u.reason.startswith("no free time in week ")
        assert "tutor t1 busy ×1" in u.reason
    for s in result.sessions:
        assert local(s.start).weekday() == 3 and local(s.start).time() == time(14)


def test_time_zone_windows_of_students_abroad_are_respected(cal: AcademicCalendar) -> None:
    # Berlin leaves summer time on 2026-10-25: 08:00–12:00 Berlin is 11:00–15:00 Almaty before, 12:00–16:00 after.
    people = [Person("s2", tz="Europe/Berlin", available=Availability(time(8), time(12))),
              Person("t1", tz="Asia/Almaty", available=Availability(time(11), time(18)))]  # fmt: skip
    groups = {"G1": Group("G1", "", ("s1", "s2"))}
    result = plan(cal, [offering("a", "G1", "t1", consultation=ConsultationRule(2, 90))], people, groups)
    assert result.unplaced == ()
    berlin = ZoneInfo("Europe/Berlin")
    for s in result.sessions:
        b0, b1 = local(s.start, berlin), local(s.end, berlin)
        assert time(8) <= b0.time() and b1.time() <= time(12) and b0.date() == b1.date(), (s.key, b0)
        assert local(s.start).time() >= time(11)
    winter = [s for s in result.sessions if s.start.date() > date(2026, 10, 26)]
    assert winter and all(local(s.start).time() >= time(12) for s in winter)


def test_window_wrapping_midnight(cal: AcademicCalendar) -> None:
    # A student in Los Angeles free 18:00–02:00 local: that is 07:00–15:00 in Almaty (PDT, UTC-7) in September.
    people = [Person("s1", tz="America/Los_Angeles", available=Availability(time(18), time(2)))]
    groups = {"G1": Group("G1", "", ("s1",))}
    result = plan(cal, [offering("a", "G1", "t1")], people, groups)
    la = ZoneInfo("America/Los_Angeles")
    for s in result.sessions:
        t0 = local(s.start, la).time()
        assert t0 >= time(18) or local(s.end, la).time() <= time(2), s.key


def test_defense_admits_only_students_who_passed_all_controls(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "", ("s1", "s2", "s3", "s4", "s5"))}
    controls = (ControlActivity("m", "Midterm test", 60, window_id="midterm"), ControlActivity("e", "Essay"))
    o = offering("o", "G1", "t1", controls=controls, defense=DefenseRule("defense", 20, ("c1", "c2", "c3")))
    results = [
        ControlResult("s1", "o", "m", True), ControlResult("s1", "o", "e", True),
        ControlResult("s2", "o", "m", True), ControlResult("s2", "o", "e", False),
        ControlResult("s3", "o", "m", True),
        ControlResult("s4", "o", "m", False), ControlResult("s4", "o", "m", True), ControlResult("s4", "o", "e", True),
    ]  # fmt: skip
    result = plan(cal, [o], [], groups, results)
    defended = sorted(s.student_ids[0] for s in result.sessions if s.kind is SessionKind.DEFENSE)
    assert defended == ["s1", "s4"]  # s4 failed once, then passed: admitted
    reasons = {i.student_id: i.reason for i in result.ineligible}
    assert reasons == {
        "s2": "§29: control 'Essay' (e) not passed",
        "s3": "§29: no result for control 'Essay' (e)",
        "s5": "§29: no result for control 'Midterm test' (m); no result for control 'Essay' (e)",
    }
    window = set(window_days(cal, cal.window("defense")))
    for s in result.sessions:
        if s.kind is SessionKind.DEFENSE:
            assert local(s.start).date() in window and s.committee_ids == ("c1", "c2", "c3")
            assert s.end - s.start == timedelta(minutes=20)
    # The midterm control is one group session inside its window, hosted by the tutor.
    control = result.by_key()["o/control/m"]
    assert control.group_id == "G1" and control.tutor_id == "t1"
    assert local(control.start).date() in set(window_days(cal, cal.window("midterm")))


def test_defenses_form_sittings_per_committee(cal: AcademicCalendar) -> None:
    students = tuple(f"s{i:02d}" for i in range(12))
    groups = {"G1": Group("G1", "", students), "G2": Group("G2", "", ("x1", "x2"))}
    offs = [
        offering(
            "o",
            "G1",
            "t1",
            consultation=None,
            defense=DefenseRule("defense", 30, ("c1", "c2"), max_per_day=8),
        ),
        offering("p", "G2", "t2", consultation=None, defense=DefenseRule("defense", 30, ("c3",))),
    ]
    result = plan(cal, offs, [], groups)
    assert result.unplaced == () and result.ineligible == ()
    sittings: dict[str, list] = defaultdict(list)
    for s in result.sessions:
        sittings[s.sitting_id].append(s)
    o_sittings = [v for v in sittings.values() if v[0].offering_id == "o"]
    assert sorted(len(v) for v in o_sittings) == [4, 8]  # the daily cap of 8 splits them over two days
    for items in sittings.values():
        items.sort(key=lambda s: s.start)
        assert len({s.committee_ids for s in items}) == 1
        assert len({local(s.start).date() for s in items}) == 1
        assert all(a.end == b.start for a, b in zip(items, items[1:], strict=False))  # back to back
    assert_no_double_booking(result, groups)


def test_what_cannot_be_placed_is_reported_never_dropped(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "", ("s1",))}
    offs = [
        offering("long", "G1", "t1", consultation=ConsultationRule(1, 600)),  # 10 h > the 9 h day
        offering(
            "late",
            "G1",
            "t2",
            consultation=None,
            controls=(
                ControlActivity("x", "Test in week 30", 60, week=30),
                ControlActivity("y", "Test in week 9", 60, week=9),
            ),
        ),  # fmt: skip
    ]
    result = plan(cal, offs, [], groups)
    reasons = {u.key: u.reason for u in result.unplaced}
    weeks = teaching_weeks(cal, cal.periods[0])
    assert len([k for k in reasons if k.startswith("long/")]) == len(weeks)
    assert reasons["long/consultation/w01/1"].startswith(
        "a 600-minute session does not fit in the allowed hours"
    )
    assert reasons["late/control/x"] == "week 30 is not a teaching week of period 'autumn'"
    assert reasons["late/control/y"] == "week 9 is not a teaching week of period 'autumn'"  # the autumn break
    assert result.sessions == ()


def test_conflicting_inputs_raise_plan_error(cal: AcademicCalendar) -> None:
    groups = {"G1": Group("G1", "", ("s1",))}
    bad = [
        offering("a", "G9", "t1"),
        Offering("b", "X", "G1", "winter", "t1"),
        offering("c", "G1", "t1", defense=DefenseRule("nowhere", 20, ("c1",))),
        offering("c", "G1", "t1"),
    ]
    with pytest.raises(PlanError) as info:
        plan(cal, bad, [], groups)
    text = str(info.value)
    assert "offering 'a': unknown group 'G9'" in text
    assert "offering 'b': period 'winter' is not in the calendar" in text
    assert "offering 'c': defense window 'nowhere' is not in the calendar" in text
    assert "offering 'c' is given twice" in text


def scenario() -> tuple[list[Offering], dict[str, Group], list[Person], list[ControlResult]]:
    groups = {f"G{g}": Group(f"G{g}", "", tuple(f"s{g}-{i}" for i in range(6))) for g in range(4)}
    offs = []
    for g in range(4):
        for k in range(3):
            offs.append(
                offering(
                    f"o{g}{k}", f"G{g}", f"t{(g + k) % 3}",
                    consultation=ConsultationRule(1 + k % 2, 90, weekdays=(k,)),
                    controls=(ControlActivity("m", "Midterm", 60, window_id="midterm"),),
                    defense=DefenseRule("defense", 20, (f"t{(g + k + 1) % 3}", "t9")) if k == 0 else None,
                )
            )  # fmt: skip
    results = [ControlResult(s, o.id, "m", True) for o in offs for s in groups[o.group_id].student_ids]
    people = [Person("s1-1", tz="Europe/Berlin", available=Availability(time(7), time(15)))]
    return offs, groups, people, results


def test_replanning_is_idempotent(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    first = plan(cal, offs, people, groups, results)
    assert first.unplaced == ()
    assert_no_double_booking(first, groups)
    again = plan(cal, list(reversed(offs)), people, groups, results, previous=first)
    assert again == first
    assert diff(first, again).empty
    assert plan(cal, offs, people, groups, results) == first  # deterministic without previous, too


def test_replan_after_moving_a_holiday_moves_only_what_it_must(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    first = plan(cal, offs, people, groups, results)
    # Declare a new holiday on a day that has sessions.
    victim = next(s for s in first.sessions if s.kind is SessionKind.CONSULTATION)
    day = local(victim.start).date()
    moved_cal = replace(cal, holidays=cal.holidays + (Holiday("Extra day off", day, day),))
    second = plan(moved_cal, offs, people, groups, results, previous=first)
    changes = diff(first, second)
    on_day = {s.key for s in first.sessions if local(s.start).date() == day}
    assert {old.key for old, _ in changes.moved} == on_day
    assert not changes.added and not changes.cancelled
    assert len(changes.unchanged) == len(first.sessions) - len(on_day)
    for old, new in changes.moved:
        assert local(new.start).date() != day
        assert new.key.split("/")[2] == old.key.split("/")[2]  # still in its own week
    assert_no_double_booking(second, groups)
    assert_calendar_respected(moved_cal, second)


def test_diff_reports_added_and_cancelled(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    first = plan(cal, offs, people, groups, results)
    changed = [o for o in offs if o.id != "o00"]  # one offering dropped
    i = next(n for n, o in enumerate(changed) if o.id == "o02")
    changed[i] = replace(
        changed[i], consultation=replace(changed[i].consultation, per_week=2)
    )  # one more a week
    # A student loses §29 admission: their defense is cancelled.
    fewer = [r for r in results if not (r.student_id == "s1-0" and r.offering_id == "o10")]
    second = plan(cal, changed, people, groups, fewer, previous=first)
    changes = diff(first, second)
    cancelled = {s.key for s in changes.cancelled}
    assert {k for k in cancelled if k.startswith("o00/")} == {
        s.key for s in first.sessions if s.offering_id == "o00"
    }
    assert "o10/defense/s1-0" in cancelled
    assert changes.added and all(s.offering_id == "o02" and s.key.endswith("/2") for s in changes.added)
    assert any(i.student_id == "s1-0" and i.offering_id == "o10" for i in second.ineligible)


def test_a_moved_tutor_availability_re_places_their_sessions_only(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    first = plan(cal, offs, people, groups, results)
    later = people + [Person("t1", tz="Asia/Almaty", available=Availability(time(15), time(18)))]
    second = plan(cal, offs, later, groups, results, previous=first)
    changes = diff(first, second)
    assert changes.moved
    for old, _ in changes.moved:
        assert "t1" in old.person_ids()
    for s in second.sessions:
        if "t1" in s.person_ids():
            assert local(s.start).time() >= time(15)
    assert_no_double_booking(second, groups)


def test_individual_and_group_schedules(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    result = plan(cal, offs, people, groups, results)
    mine = schedule_of(result, "s0-0", groups)
    assert mine == sorted(mine, key=lambda s: s.start)
    assert {s.group_id for s in mine if s.group_id} == {"G0"}
    assert any(s.kind is SessionKind.DEFENSE and s.student_ids == ("s0-0",) for s in mine)
    assert all(s.group_id == "G1" for s in group_schedule(result, "G1"))
    tutor = schedule_of(result, "t9", groups)
    assert tutor and all("t9" in s.committee_ids for s in tutor)


def test_incremental_planner_matches_a_full_replan(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    planner = Planner(cal, offs, people, groups, results)
    assert planner.result == plan(cal, offs, people, groups, results)
    steps = []
    # 1. a holiday on a busy day; 2. a tutor's hours narrowed; 3. an offering changed, one dropped, one added;
    # 4. a student loses §29 admission; 5. the defense window shrinks; 6. nothing at all.
    day = local(next(s for s in planner.result.sessions if s.kind is SessionKind.CONSULTATION).start).date()
    cal2 = replace(cal, holidays=cal.holidays + (Holiday("Extra", day, day),))
    steps.append({"calendar": cal2})
    people2 = people + [Person("t1", tz="Asia/Almaty", available=Availability(time(14), time(18)))]
    steps.append({"people": people2})
    offs2 = [o for o in offs if o.id != "o11"] + [offering("o99", "G3", "t2")]
    offs2 = [
        replace(o, consultation=ConsultationRule(2, 60, weekdays=(4,))) if o.id == "o20" else o for o in offs2
    ]
    steps.append({"offerings": offs2})
    results2 = [r for r in results if not (r.student_id == "s2-3" and r.offering_id == "o20")]
    steps.append({"results": results2})
    window = cal.window("defense")
    cal3 = replace(
        cal2,
        windows=tuple(
            replace(w, end=w.start + timedelta(days=1)) if w is window else w for w in cal2.windows
        ),
    )
    steps.append({"calendar": cal3})
    steps.append({})
    current = {"calendar": cal, "offerings": offs, "people": people, "results": results}
    for change in steps:
        before = planner.result
        current.update(change)
        got = planner.update(**change)
        want = plan(
            current["calendar"],
            current["offerings"],
            current["people"],
            groups,
            current["results"],
            previous=before,
        )
        assert got == want, change.keys()
        assert_no_double_booking(got, groups)
        assert_calendar_respected(current["calendar"], got)
    short = set(window_days(cal3, cal3.window("defense")))
    defenses = [s for s in planner.result.sessions if s.kind is SessionKind.DEFENSE]
    assert defenses and all(local(s.start).date() in short for s in defenses)


def test_incremental_planner_replans_fully_on_roster_change(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    planner = Planner(cal, offs, people, groups, results)
    groups2 = dict(groups)
    groups2["G0"] = Group("G0", "", groups["G0"].student_ids + ("s1-1",))  # s1-1 now also in G0
    before = planner.result
    got = planner.update(groups=groups2)
    assert got == plan(cal, offs, people, groups2, results, previous=before)
    assert_no_double_booking(got, groups2)


def test_incremental_planner_refuses_bad_input_and_keeps_its_plan(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    planner = Planner(cal, offs, people, groups, results)
    before = planner.result
    with pytest.raises(PlanError, match="offering 'o00' is given twice"):
        planner.update(offerings=offs + [offs[0]])
    with pytest.raises(PlanError, match="unknown group 'G7'"):
        planner.update(offerings=offs + [offering("new", "G7", "t1")])
    assert planner.result is before
    assert planner.update() == before


def test_previous_sessions_must_carry_aware_times(cal: AcademicCalendar) -> None:
    offs, groups, people, results = scenario()
    first = plan(cal, offs, people, groups, results)
    naive = [replace(s, start=s.start.replace(tzinfo=None), end=s.end.replace(tzinfo=None)) for s in first.sessions]
    with pytest.raises(PlanError, match="naive start time"):
        plan(cal, offs, people, groups, results, previous=naive)
