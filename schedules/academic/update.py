"""The incremental re-plan: a plan kept in memory, and what a change of the inputs touches.

    planner = Planner(cal, offerings, people, groups, results)
    new = planner.update(calendar=cal2)       # == plan(cal2, ..., previous=planner.result)

``Dependents`` remembers which offerings each person, group and period
concerns and which requirements each calendar week or window holds; ``update``
uses it to find the requirements a change touches, has the engine withdraw and
rebuild only those, and places them in the order a full plan would, so the
result equals the stateless ``plan(previous=...)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date

from schedules.academic.engine import Engine, Req, Spec, by_id, check_inputs, paused_gc, sessions_of
from schedules.academic.model import (
    AcademicCalendar,
    ControlResult,
    Group,
    Offering,
    Person,
    PlannedSession,
    PlanResult,
    SessionKind,
)

Run = tuple[tuple[str, ...], date]  # a committee's day of defenses


class Dependents:
    """Which offerings each person, group and period concerns; which requirement keys each week or window holds."""

    def __init__(self) -> None:
        self.of_person: dict[str, set[str]] = defaultdict(set)
        self.of_group: dict[str, set[str]] = defaultdict(set)
        self.of_period: dict[str, set[str]] = defaultdict(set)
        self.in_scope: dict[tuple, set[str]] = defaultdict(set)

    def add(self, engine: Engine, o: Offering) -> None:
        """Index offering ``o`` and its requirements as the engine holds them."""
        self._mark(engine, o, set.add)

    def remove(self, engine: Engine, o: Offering) -> None:
        self._mark(engine, o, set.discard)

    def _mark(self, engine: Engine, o: Offering, op: Callable[[set[str], str], None]) -> None:
        for pid in self._people(o):
            op(self.of_person[pid], o.id)
        op(self.of_group[o.group_id], o.id)
        op(self.of_period[o.period_id], o.id)
        for r in engine.reqs_by_off.get(o.id, ()):
            op(self.in_scope[r.spec.scope], r.key)

    @staticmethod
    def _people(o: Offering) -> list[str]:
        return [o.tutor_id] + (list(o.defense.committee_ids) if o.defense else [])


class Planner:
    """A plan kept in memory, so that a change re-places only the sessions it touches.

        planner = Planner(cal, offerings, people, groups, results)
        planner.result                                  # == plan(cal, offerings, people, groups, results)
        new = planner.update(calendar=cal2)             # == plan(cal2, ..., previous=planner's last result)

    ``update`` works out what a change touches: changed offerings (and their
    control results), people whose time zone or availability changed (the
    offerings they teach, sit on or study in), and calendar weeks or windows
    whose usable days changed. Only those requirements are unbooked and placed
    again (keeping their time when it is still valid); everything else stays
    as it is. A change of time zone, day hours, start grid, teaching weekdays,
    periods or group membership re-plans everything (still keeping valid
    times). The result equals what ``plan(..., previous=...)`` returns.
    """

    def __init__(
        self,
        calendar: AcademicCalendar,
        offerings: Iterable[Offering],
        people: Iterable[Person] | Mapping[str, Person],
        groups: Iterable[Group] | Mapping[str, Group],
        results: Iterable[ControlResult] = (),
        previous: PlanResult | Iterable[PlannedSession] | None = None,
    ) -> None:
        with paused_gc():
            self._start(calendar, list(offerings), by_id(people), by_id(groups), list(results), sessions_of(previous))

    def _start(
        self,
        calendar: AcademicCalendar,
        offerings: list[Offering],
        people: dict[str, Person],
        groups: dict[str, Group],
        results: list[ControlResult],
        previous: list[PlannedSession],
    ) -> None:
        engine = Engine(calendar, people, groups)
        self.result = engine.run(offerings, results, previous)
        self._engine = engine
        self._results = results_by_offering(results)
        self._dependents = Dependents()
        for o in offerings:
            self._dependents.add(engine, o)

    def update(
        self,
        *,
        calendar: AcademicCalendar | None = None,
        offerings: Iterable[Offering] | None = None,
        people: Iterable[Person] | Mapping[str, Person] | None = None,
        groups: Iterable[Group] | Mapping[str, Group] | None = None,
        results: Iterable[ControlResult] | None = None,
    ) -> PlanResult:
        """Apply new inputs (None keeps the current ones) and return the new plan."""
        with paused_gc():
            return self._update(calendar, offerings, people, groups, results)

    def _update(
        self,
        calendar: AcademicCalendar | None,
        offerings: Iterable[Offering] | None,
        people: Iterable[Person] | Mapping[str, Person] | None,
        groups: Iterable[Group] | Mapping[str, Group] | None,
        results: Iterable[ControlResult] | None,
    ) -> PlanResult:
        e, deps = self._engine, self._dependents
        cal = calendar if calendar is not None else e.cal
        new_people = by_id(people) if people is not None else e.people
        new_groups = by_id(groups) if groups is not None else e.groups
        offering_list = list(offerings) if offerings is not None else list(e.offerings.values())
        new_offs = {o.id: o for o in offering_list} if offerings is not None else e.offerings
        new_results = results_by_offering(results) if results is not None else self._results
        if not e.same_shape(cal) or new_groups != e.groups:
            flat = [r for rs in new_results.values() for r in rs]
            self._start(cal, offering_list, new_people, new_groups, flat, list(self.result.sessions))
            return self.result
        check_inputs(cal, new_groups, offering_list)  # raises before anything changes

        dirty = self._changed_offerings(new_offs, new_results)
        if new_people is not e.people:
            dirty |= self._offerings_of_people(new_people)
            e.set_people(new_people)
        scopes: set[tuple] = set()
        if cal != e.cal:
            dirty_periods, scopes = self._calendar_change(cal)
            for pid in dirty_periods:
                dirty |= deps.of_period.get(pid, set())  # weeks appeared or vanished: new keys

        # Unbook what is touched, regenerate changed offerings, re-derive the days of touched weeks and windows.
        prev_by_key: dict[str, PlannedSession] = {}
        old_runs: set[Run] = set()

        def note(released: Iterable[tuple[PlannedSession | None, Run | None]]) -> None:
            for s, run in released:
                if s is not None:
                    prev_by_key[s.key] = s
                if run is not None:
                    old_runs.add(run)

        for oid in dirty:
            for o in (e.offerings.get(oid), new_offs.get(oid)):
                if o is not None:
                    e.forget_offering(o)
        for oid in sorted(dirty):
            if oid in e.offerings:
                deps.remove(e, e.offerings[oid])
                note(e.withdraw(oid))
        scoped: list[Req] = []
        for scope in scopes:
            for key in deps.in_scope.get(scope, ()):
                req = e.by_key[key]
                if req.spec.offering.id not in dirty:
                    note([e.release(req)])
                    scoped.append(req)
        rebuilt: dict[int, Spec] = {}
        for req in scoped:
            spec = rebuilt.get(id(req.spec))
            if spec is None:
                spec = rebuilt[id(req.spec)] = e.respec(req.spec)
            req.spec = spec
        fresh: list[Req] = []
        for oid in sorted(dirty):
            if oid in new_offs:
                fresh += e.install(new_offs[oid], new_results.get(oid, ()))
            else:
                e.drop(oid)
        e.set_offerings(new_offs)
        self._results = new_results
        for oid in dirty:
            if oid in new_offs:
                deps.add(e, new_offs[oid])

        # Place them in the order a full plan would use, so that the outcome is the same.
        retry = e.take_failed(dirty)
        pending = {id(r): r for r in fresh + scoped + retry}
        todo = sorted(pending.values(), key=lambda r: (r.spec.offering.id, r.pos))
        e.place(todo, prev_by_key, allow_cursor=False)
        changed = e.refresh_sittings([r for r in todo if r.spec.kind is SessionKind.DEFENSE], old_runs)
        e.emit(todo + [e.by_key[k] for k in changed if k in e.by_key])
        self.result = e.result()
        return self.result

    def _changed_offerings(
        self, new_offs: Mapping[str, Offering], new_results: Mapping[str, tuple[ControlResult, ...]]
    ) -> set[str]:
        """Offerings added, removed or changed, and defenses whose control results changed (§29)."""
        e = self._engine
        dirty = {oid for oid in e.offerings.keys() | new_offs.keys() if e.offerings.get(oid) != new_offs.get(oid)}
        for oid, o in new_offs.items():
            if o.defense is not None and new_results.get(oid, ()) != self._results.get(oid, ()):
                dirty.add(oid)
        return dirty

    def _offerings_of_people(self, new_people: Mapping[str, Person]) -> set[str]:
        """Offerings whose tutor, committee or students changed zone or availability."""
        e, deps = self._engine, self._dependents
        dirty: set[str] = set()
        for pid in e.people.keys() | new_people.keys():
            if e.people.get(pid) != new_people.get(pid):
                dirty |= deps.of_person.get(pid, set())
                for g in e.person_groups.get(pid, ()):
                    dirty |= deps.of_group.get(g, set())
        return dirty

    def _calendar_change(self, cal: AcademicCalendar) -> tuple[set[str], set[tuple]]:
        """Switch the engine to ``cal``: periods whose weeks appeared or vanished, and weeks and windows whose days changed."""
        e = self._engine
        old = e.cal
        old_weeks = {p.id: e.weeks(p.id) for p in old.periods}
        old_wdays = {w.id: e.window_days(w.id) for w in old.windows}
        e.set_calendar(cal)
        periods: set[str] = set()
        scopes: set[tuple] = set()
        for p in cal.periods:
            before, after = old_weeks[p.id], e.weeks(p.id)
            if [w.number for w in before] != [w.number for w in after]:
                periods.add(p.id)
                continue
            for wb, wa in zip(before, after, strict=True):
                if wb.days != wa.days:
                    scopes.add(("week", p.id, wa.number))
        for wid in old_wdays.keys() | {w.id for w in cal.windows}:
            if cal.window(wid) is None or old_wdays.get(wid) != e.window_days(wid):
                scopes.add(("window", wid))
        return periods, scopes


def results_by_offering(results: Iterable[ControlResult]) -> dict[str, tuple[ControlResult, ...]]:
    """Control results grouped by offering, in their order."""
    by_off: dict[str, list[ControlResult]] = defaultdict(list)
    for r in results:
        by_off[r.offering_id].append(r)
    return {k: tuple(v) for k, v in by_off.items()}
