"""Plan from the store and write the plan back: calendar + offerings → sessions.

    inputs = load_inputs(s)                       # planner dataclasses from SQL
    result, changes = compute(inputs, cache)      # planning (incremental with a PlanCache) + diff
    apply(s, inputs, result, changes)             # atomic: added / moved / updated / cancelled

Session ids never change for a key; a moved or changed session gets its
iCalendar SEQUENCE increased; a session the plan no longer needs is kept
with status ``cancelled`` so feeds can tell calendar clients to remove it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.admission import standings
from orchestrator.curriculum import to_planner_offering
from orchestrator.errors import UserError
from orchestrator.store.models import (
    CalendarRecord,
    ControlResult,
    Discipline,
    Group,
    GroupMember,
    Offering,
    Person,
    PlanRun,
    SessionParticipant,
    SessionRecord,
)
from schedules.academic import planner
from schedules.academic.calendar import parse_calendar, with_entries
from schedules.academic.icsimport import parse_ics
from schedules.academic.model import (
    AcademicCalendar,
    Availability,
    PlanDiff,
    PlannedSession,
    PlanResult,
    SessionKind,
)
from schedules.academic.model import ControlResult as PlanControlResult
from schedules.academic.model import Group as PlanGroup
from schedules.academic.model import Offering as PlanOffering
from schedules.academic.model import Person as PlanPerson
from schedules.errors import ScheduleError

LIVE_STATES = ("planned", "open", "live")


@dataclass
class PlanInputs:
    calendar: AcademicCalendar
    offerings: list[PlanOffering]
    people: dict[str, PlanPerson]
    groups: dict[str, PlanGroup]
    results: list[PlanControlResult]
    previous: list[PlannedSession]
    ids: dict[str, dict[str, int]] = field(default_factory=dict)  # "person"/"group"/"offering" -> code -> id
    session_ids: dict[str, int] = field(default_factory=dict)  # key -> stored id
    session_state: dict[str, str] = field(default_factory=dict)  # key -> status


def active_calendar(s: Session) -> AcademicCalendar:
    row = s.scalar(select(CalendarRecord).where(CalendarRecord.active.is_(True)).order_by(CalendarRecord.id.desc()))
    if row is None:
        raise UserError("no academic calendar imported yet; run `aulacast calendar import FILE`", code="no_calendar")
    return build_calendar(row.source, row.source_name, row.ics_sources or [])


def build_calendar(source: str, name: str, ics: list[dict[str, str]]) -> AcademicCalendar:
    """The YAML calendar with every imported .ics merged in; raises the schedules package's errors."""
    cal = parse_calendar(source, file=name)
    for item in ics:
        entries = parse_ics(item["text"], calendar=cal, file=item["name"])
        cal = with_entries(cal, entries.holidays, entries.blocked)
    return cal


def _availability(value: dict[str, Any] | None) -> Availability | None:
    if not value:
        return None
    h1, m1 = (int(x) for x in value["start"].split(":"))
    h2, m2 = (int(x) for x in value["end"].split(":"))
    return Availability(time(h1, m1), time(h2, m2))


def stored_session(row: SessionRecord, usernames: dict[int, str], group_codes: dict[int, str]) -> PlannedSession:
    d = row.detail or {}
    return PlannedSession(
        key=row.key,
        offering_id=d.get("offering", ""),
        kind=SessionKind(row.kind),
        start=row.start_at,
        end=row.end_at,
        title=row.title,
        tutor_id=usernames.get(row.tutor_id) if row.tutor_id else None,
        group_id=group_codes.get(row.group_id) if row.group_id else None,
        student_ids=tuple(d.get("students", ())),
        committee_ids=tuple(d.get("committee", ())),
        sitting_id=row.sitting,
    )


def _control_results(s: Session, offering_rows: list[Offering], usernames: dict[int, str],
                     codes: dict[int, str]) -> list[PlanControlResult]:
    """The stored results; a control with an attendance rule passes only when attendance is met too (§29)."""
    counted = {o.id: o for o in offering_rows if any(a.get("attendance") for a in (o.rules or {}).get("controls", []))}
    out = [PlanControlResult(usernames[r.student_id], codes[r.offering_id], r.activity, r.passed)
           for r in s.scalars(select(ControlResult))
           if not (r.offering_id in counted and _has_attendance(counted[r.offering_id], r.activity))]
    for off in counted.values():
        for sid, row in standings(s, off).items():
            for st in row.values():
                if st.attendance is None or st.passed is None:
                    continue  # no result yet: the planner says so itself
                reason = st.attendance.said if not st.attendance.met else ""
                out.append(PlanControlResult(usernames[sid], off.code, st.id, bool(st.passed), reason))
    return out


def _has_attendance(off: Offering, activity: str) -> bool:
    return any(a["id"] == activity and a.get("attendance") for a in (off.rules or {}).get("controls", []))


def load_inputs(s: Session) -> PlanInputs:
    cal = active_calendar(s)
    persons = list(s.scalars(select(Person)))
    usernames = {p.id: p.username for p in persons}
    people = {
        p.username: PlanPerson(p.username, p.display_name, p.timezone, _availability(p.availability)) for p in persons
    }
    group_rows = list(s.scalars(select(Group)))
    group_codes = {g.id: g.code for g in group_rows}
    members: dict[int, list[str]] = {}
    for m in s.scalars(select(GroupMember)):
        members.setdefault(m.group_id, []).append(usernames[m.person_id])
    groups = {g.code: PlanGroup(g.code, g.name, tuple(sorted(members.get(g.id, [])))) for g in group_rows}
    disciplines = {d.id: d for d in s.scalars(select(Discipline))}
    offering_rows = list(s.scalars(select(Offering).order_by(Offering.code)))
    offerings = [
        to_planner_offering(
            o,
            discipline=disciplines[o.discipline_id].title,
            group_code=group_codes[o.group_id],
            tutor=usernames[o.tutor_id],
            usernames=usernames,
        )
        for o in offering_rows
    ]
    codes = {o.id: o.code for o in offering_rows}
    results = _control_results(s, offering_rows, usernames, codes)
    rows = list(s.scalars(select(SessionRecord).where(SessionRecord.offering_id.is_not(None))))
    previous = [stored_session(r, usernames, group_codes) for r in rows if r.status != "cancelled"]
    return PlanInputs(
        cal,
        offerings,
        people,
        groups,
        results,
        previous,
        ids={
            "person": {v: k for k, v in usernames.items()},
            "group": {v: k for k, v in group_codes.items()},
            "offering": {o.code: o.id for o in offering_rows},
        },
        session_ids={r.key: r.id for r in rows},
        session_state={r.key: r.status for r in rows},
    )


class PlanCache:
    """The service's last ``Planner``, so a re-plan after a small change re-places only what it touches.

    It is used only while the stored sessions are exactly the planner's last
    result (the plan it made was applied and nothing else wrote sessions since:
    a dry run, a CLI run or another node make it start afresh from the store),
    so the answer always equals the stateless ``plan(previous=stored)``.
    """

    def __init__(self) -> None:
        self._planner: planner.Planner | None = None
        self._lock = threading.Lock()
        self.reused = 0  # how many plans were incremental (for tests and logs)

    def plan(self, inputs: PlanInputs) -> PlanResult:
        with self._lock:
            kept = self._planner
            self._planner = None  # a failure below leaves no half-updated planner behind
            if kept is not None and _same_sessions(kept.result.sessions, inputs.previous):
                result = kept.update(calendar=inputs.calendar, offerings=inputs.offerings, people=inputs.people,
                                     groups=inputs.groups, results=inputs.results)
                self.reused += 1
            else:
                kept = planner.Planner(inputs.calendar, inputs.offerings, inputs.people, inputs.groups,
                                       inputs.results, previous=inputs.previous)
                result = kept.result
            self._planner = kept
            return result


def _same_sessions(planned: Iterable[PlannedSession], stored: list[PlannedSession]) -> bool:
    mine = {p.key: p for p in planned}
    return len(mine) == len(stored) and all(mine.get(p.key) == p for p in stored)


class PlanRefused(UserError):
    """The planner's inputs contradict each other; ``problems``: each with its code and values, for pages."""

    code = "plan_error"

    def __init__(self, exc: ScheduleError) -> None:
        super().__init__(str(exc))
        self.problems = [{"where": "", **s.as_json()} for s in getattr(exc, "coded", [])]


def compute(inputs: PlanInputs, cache: PlanCache | None = None) -> tuple[PlanResult, PlanDiff]:
    try:
        if cache is not None:
            result = cache.plan(inputs)
        else:
            result = planner.plan(inputs.calendar, inputs.offerings, inputs.people, inputs.groups, inputs.results,
                                  previous=inputs.previous)
    except ScheduleError as exc:
        raise PlanRefused(exc) from None
    changes = planner.diff(inputs.previous, result)
    # Sessions already open, live or closed are history: the plan does not move or cancel them.
    frozen = {k for k, st in inputs.session_state.items() if st not in ("planned", "cancelled")}
    if frozen:
        changes = PlanDiff(
            added=changes.added,
            moved=tuple(p for p in changes.moved if p[0].key not in frozen),
            updated=tuple(p for p in changes.updated if p[0].key not in frozen),
            cancelled=tuple(c for c in changes.cancelled if c.key not in frozen),
            unchanged=changes.unchanged,
        )
    return result, changes


def describe_diff(changes: PlanDiff, result: PlanResult, *, tz: str, limit: int = 50) -> list[str]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)

    def when(p: PlannedSession) -> str:
        return p.start.astimezone(zone).strftime("%Y-%m-%d %a %H:%M")

    lines = [
        f"{len(changes.added)} added, {len(changes.moved)} moved, {len(changes.updated)} updated, "
        f"{len(changes.cancelled)} cancelled, {len(changes.unchanged)} unchanged; "
        f"{len(result.unplaced)} could not be placed, {len(result.ineligible)} student(s) not admitted to a defense"
    ]
    items = (
        [f"+ {when(p)}  {p.key}  {p.title}" for p in changes.added]
        + [f"~ {when(a)} -> {when(b)}  {b.key}" for a, b in changes.moved]
        + [f"* {when(b)}  {b.key}  (participants or title changed)" for _a, b in changes.updated]
        + [f"- {when(p)}  {p.key}  cancelled" for p in changes.cancelled]
        + [f"! {u.key}: {u.reason}" for u in result.unplaced]
        # the reason already starts with "§29: " (schedules.academic.eligibility); said once
        + [f"§29 {i.student_id} / {i.offering_id}: {i.reason.removeprefix('§29: ')}" for i in result.ineligible]
    )
    lines += items[:limit]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more")
    return lines


def _participants(p: PlannedSession, ids: dict[str, dict[str, int]]) -> list[SessionParticipant]:
    out: dict[int, str] = {}
    if p.tutor_id:
        out[ids["person"][p.tutor_id]] = "host"
    for i, c in enumerate(p.committee_ids):
        out.setdefault(ids["person"][c], "committee" if i else "chair")
    for st in p.student_ids:
        out.setdefault(ids["person"][st], "presenter" if p.kind == SessionKind.DEFENSE else "participant")
    return [SessionParticipant(person_id=pid, role=role) for pid, role in out.items()]


def _fill(row: SessionRecord, p: PlannedSession, ids: dict[str, dict[str, int]]) -> None:
    row.kind = p.kind.value
    row.title = p.title
    row.start_at, row.end_at = p.start, p.end
    row.offering_id = ids["offering"].get(p.offering_id)
    row.tutor_id = ids["person"].get(p.tutor_id) if p.tutor_id else None
    row.group_id = ids["group"].get(p.group_id) if p.group_id else None
    row.sitting = p.sitting_id
    row.detail = {"offering": p.offering_id, "students": list(p.student_ids), "committee": list(p.committee_ids)}
    row.participants = _participants(p, ids)


def apply(s: Session, inputs: PlanInputs, result: PlanResult, changes: PlanDiff, *, actor: str) -> list[int]:
    """Write the diff in the caller's transaction; returns the ids of sessions whose times/state changed."""
    touched: list[int] = []
    for p in changes.added:
        sid = inputs.session_ids.get(p.key)
        row = s.get(SessionRecord, sid) if sid else None
        if row is None:
            row = SessionRecord(key=p.key, status="planned", sequence=0)
            s.add(row)
        else:  # a cancelled session comes back
            row.status, row.sequence = "planned", row.sequence + 1
        _fill(row, p, inputs.ids)
        s.flush()
        touched.append(row.id)
    for _old, new in (*changes.moved, *changes.updated):
        row = s.get(SessionRecord, inputs.session_ids[new.key])
        assert row is not None
        _fill(row, new, inputs.ids)
        row.sequence += 1
        touched.append(row.id)
    for p in changes.cancelled:
        row = s.get(SessionRecord, inputs.session_ids[p.key])
        assert row is not None
        row.status = "cancelled"
        row.sequence += 1
        touched.append(row.id)
    s.add(
        PlanRun(
            actor=actor,
            summary={
                "added": len(changes.added),
                "moved": len(changes.moved),
                "updated": len(changes.updated),
                "cancelled": len(changes.cancelled),
                "unplaced": [{"key": u.key, "reason": u.reason} for u in result.unplaced],
                "ineligible": [
                    {"student": i.student_id, "offering": i.offering_id, "reason": i.reason} for i in result.ineligible
                ],
            },
        )
    )
    s.flush()
    return touched
