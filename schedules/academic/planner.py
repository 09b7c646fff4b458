"""The planner: calendar × offerings → conflict-free sessions, with §29 eligibility.

    result = plan(cal, offerings, people, groups, results)
    again = plan(cal2, offerings, people, groups, results, previous=result)
    changes = diff(result, again)        # added / moved / updated / cancelled

This module is the planner's public face; the work is done by the engine
(``engine.py``: 5-minute units and one bit mask per resource and UTC day, so
a candidate time costs one lookup and one AND and nothing is compared
pairwise), the incremental update (``update.py``: ``Planner``) and the §29
rule (``eligibility.py``).

Re-planning keeps what it can: sessions of ``previous`` whose requirement
still exists unchanged and whose time is still allowed and free are reserved
first and kept as they are; only the rest is searched again. So moving one
holiday re-places only the sessions on it, and planning twice with the same
inputs returns the same plan (reasons of unplaced requirements are computed
against the final occupancy, so they repeat too). ``plan(previous=...)``
still rebuilds every requirement; ``Planner`` keeps the plan in memory and its
``update()`` touches only what a change touches, with the same result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schedules.academic.eligibility import eligibility
from schedules.academic.engine import Engine, by_id, paused_gc, sessions_of
from schedules.academic.model import (
    AcademicCalendar,
    ControlResult,
    Group,
    Offering,
    Person,
    PlanDiff,
    PlannedSession,
    PlanResult,
)
from schedules.academic.update import Planner

__all__ = ["Planner", "diff", "eligibility", "group_schedule", "plan", "schedule_of"]


def plan(
    calendar: AcademicCalendar,
    offerings: Iterable[Offering],
    people: Iterable[Person] | Mapping[str, Person],
    groups: Iterable[Group] | Mapping[str, Group],
    results: Iterable[ControlResult] = (),
    previous: PlanResult | Iterable[PlannedSession] | None = None,
) -> PlanResult:
    """Place every session the offerings require; report what cannot be placed and who is ineligible.

    ``previous`` (a PlanResult or the stored sessions) makes this a re-plan:
    each previous session that is still required with the same participants and
    length, and whose time is still allowed and free, keeps its time and key.
    Raises PlanError when the inputs contradict each other (unknown group,
    period or window, duplicate offering ids, impossible rules).
    """
    with paused_gc():
        engine = Engine(calendar, by_id(people), by_id(groups))
        return engine.run(list(offerings), list(results), sessions_of(previous))


def diff(
    previous: PlanResult | Iterable[PlannedSession], new: PlanResult | Iterable[PlannedSession]
) -> PlanDiff:
    """Compare two plans by session key (each part in the order of its plan)."""
    old_list = sessions_of(previous)
    old = {s.key: s for s in old_list}
    cur: set[str] = set()
    added, moved, updated, unchanged = [], [], [], []
    for s in sessions_of(new):
        cur.add(s.key)
        o = old.get(s.key)
        if o is None:
            added.append(s)
        elif o is s or o == s:
            unchanged.append(s)
        elif (o.start, o.end) != (s.start, s.end):
            moved.append((o, s))
        else:
            updated.append((o, s))
    cancelled = [o for o in old_list if o.key not in cur]
    return PlanDiff(tuple(added), tuple(moved), tuple(updated), tuple(cancelled), tuple(unchanged))


def schedule_of(
    result: PlanResult | Iterable[PlannedSession],
    person_id: str,
    groups: Iterable[Group] | Mapping[str, Group] = (),
) -> list[PlannedSession]:
    """One person's own sessions in time order: as tutor, committee member, student or group member (§13)."""
    member_of = {g.id for g in by_id(groups).values() if person_id in g.student_ids}
    mine = [
        s
        for s in sessions_of(result)
        if s.tutor_id == person_id
        or person_id in s.committee_ids
        or person_id in s.student_ids
        or (s.group_id is not None and s.group_id in member_of)
    ]
    return sorted(mine, key=lambda s: (s.start, s.key))


def group_schedule(result: PlanResult | Iterable[PlannedSession], group_id: str) -> list[PlannedSession]:
    """The sessions a whole group attends, in time order."""
    return sorted((s for s in sessions_of(result) if s.group_id == group_id), key=lambda s: (s.start, s.key))
