"""The planner: calendar × offerings → conflict-free sessions, with §29 eligibility.

    result = plan(cal, offerings, people, groups, results)
    again = plan(cal2, offerings, people, groups, results, previous=result)
    changes = diff(result, again)        # added / moved / updated / cancelled

Time is cut into 5-minute units counted from the Unix epoch (UTC). Each
resource (a person, a group, "some member of a group") keeps one bit mask per
UTC day of the units it is busy, so testing a candidate time against a
resource is one dictionary lookup and one AND, whatever the session length,
and nothing is ever compared pairwise. A group session occupies the group; an
individual booking (a tutor, a committee member, a defending student) occupies
the person and marks "a member busy" on each of their groups, which is what a
later group session of those groups must test.

Re-planning is incremental by construction: sessions of ``previous`` whose
requirement still exists unchanged and whose time is still allowed and free
are reserved first and kept as they are; only the rest is searched again. So
moving one holiday re-places only the sessions on it, and planning twice with
the same inputs returns the same plan (reasons of unplaced requirements are
computed against the final occupancy, so they repeat too).
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedules.calendar import teaching_weeks, window_days
from schedules.errors import PlanError
from schedules.model import (
    AcademicCalendar,
    ControlResult,
    Group,
    Ineligible,
    Offering,
    Person,
    PlanDiff,
    PlannedSession,
    PlanResult,
    SessionKind,
    TeachingWeek,
    Unplaced,
)

UNIT_MINUTES = 5
UNITS_PER_DAY = 24 * 60 // UNIT_MINUTES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Busy = dict[int, int]  # UTC day number -> bit mask of busy 5-minute units


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
    engine = _Engine(calendar, _by_id(people), _by_id(groups))
    return engine.run(list(offerings), list(results), _sessions(previous))


def diff(
    previous: PlanResult | Iterable[PlannedSession], new: PlanResult | Iterable[PlannedSession]
) -> PlanDiff:
    """Compare two plans by session key."""
    old = {s.key: s for s in _sessions(previous)}
    cur = {s.key: s for s in _sessions(new)}
    added, moved, updated, unchanged = [], [], [], []
    for key in sorted(cur):
        s = cur[key]
        o = old.get(key)
        if o is None:
            added.append(s)
        elif (o.start, o.end) != (s.start, s.end):
            moved.append((o, s))
        elif o != s:
            updated.append((o, s))
        else:
            unchanged.append(s)
    cancelled = [old[k] for k in sorted(old) if k not in cur]
    return PlanDiff(tuple(added), tuple(moved), tuple(updated), tuple(cancelled), tuple(unchanged))


def eligibility(
    offering: Offering, students: Sequence[str], results: Iterable[ControlResult]
) -> tuple[list[str], list[Ineligible]]:
    """Split students into those admitted to the offering's defense (§29) and those not, with reasons.

    A student is admitted only when every control activity of the offering has
    a passed result (a later pass after a failed attempt counts).
    """
    passed: dict[tuple[str, str], bool] = {}
    for r in results:
        if r.offering_id == offering.id:
            k = (r.student_id, r.activity_id)
            passed[k] = passed.get(k, False) or r.passed
    eligible: list[str] = []
    ineligible: list[Ineligible] = []
    for sid in students:
        problems = []
        for act in offering.controls:
            state = passed.get((sid, act.id))
            if state is None:
                problems.append(f"no result for control '{act.name}' ({act.id})")
            elif not state:
                problems.append(f"control '{act.name}' ({act.id}) not passed")
        if problems:
            ineligible.append(Ineligible(sid, offering.id, "§29: " + "; ".join(problems)))
        else:
            eligible.append(sid)
    return eligible, ineligible


def schedule_of(
    result: PlanResult | Iterable[PlannedSession],
    person_id: str,
    groups: Iterable[Group] | Mapping[str, Group] = (),
) -> list[PlannedSession]:
    """One person's own sessions in time order: as tutor, committee member, student or group member (§13)."""
    member_of = {g.id for g in _by_id(groups).values() if person_id in g.student_ids}
    mine = [
        s
        for s in _sessions(result)
        if s.tutor_id == person_id
        or person_id in s.committee_ids
        or person_id in s.student_ids
        or (s.group_id is not None and s.group_id in member_of)
    ]
    return sorted(mine, key=lambda s: (s.start, s.key))


def group_schedule(result: PlanResult | Iterable[PlannedSession], group_id: str) -> list[PlannedSession]:
    """The sessions a whole group attends, in time order."""
    return sorted((s for s in _sessions(result) if s.group_id == group_id), key=lambda s: (s.start, s.key))


# ------------------------------------------------------------------ internals


def _by_id(items: Iterable | Mapping) -> dict:
    if isinstance(items, Mapping):
        return dict(items)
    return {item.id: item for item in items}


def _sessions(value: PlanResult | Iterable[PlannedSession] | None) -> list[PlannedSession]:
    if value is None:
        return []
    if isinstance(value, PlanResult):
        return list(value.sessions)
    return list(value)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class _Req:
    """One session to place and everything needed to test a candidate time for it."""

    __slots__ = (
        "key", "offering", "kind", "title", "minutes", "units", "tutor_id", "group_id", "student_ids",
        "committee_ids", "days", "starts", "checks", "reserve", "windows", "where", "spread", "cap",
    )  # fmt: skip

    def __init__(self, key: str, offering: Offering, kind: SessionKind, title: str, minutes: int) -> None:
        self.key = key
        self.offering = offering
        self.kind = kind
        self.title = title
        self.minutes = minutes
        self.units = -(-minutes // UNIT_MINUTES)
        self.tutor_id: str | None = None
        self.group_id: str | None = None
        self.student_ids: tuple[str, ...] = ()
        self.committee_ids: tuple[str, ...] = ()
        self.days: tuple[date, ...] = ()  # allowed days, in the order to try
        self.starts: tuple[int, ...] = ()  # allowed local start minutes, in the order to try
        self.checks: list[tuple[Busy, str]] = []
        self.reserve: list[Busy] = []
        self.windows: list[tuple[str, int, int, str]] = []  # (tz, from, to, label) availability to respect
        self.where = ""  # the days searched, for messages
        self.spread: tuple[str, int] | None = None  # consultations: (offering, week) to spread over days
        self.cap = 0  # defenses: max per day for the offering


class _Engine:
    def __init__(self, cal: AcademicCalendar, people: dict[str, Person], groups: dict[str, Group]) -> None:
        self.cal = cal
        self.tz = ZoneInfo(cal.timezone)
        self.people = people
        self.groups = groups
        self.day_start = _minutes(cal.day_start)
        self.day_end = _minutes(cal.day_end)
        self.grid = cal.slot_minutes
        self.pbusy: dict[str, Busy] = defaultdict(dict)
        self.gbusy: dict[str, Busy] = defaultdict(dict)
        self.mbusy: dict[str, Busy] = defaultdict(dict)
        self.person_groups: dict[str, list[str]] = defaultdict(list)
        for g in groups.values():
            for sid in g.student_ids:
                self.person_groups[sid].append(g.id)
        self.linked: dict[str, tuple[str, ...]] = {}
        self.group_windows: dict[str, list[tuple[str, int, int, str]]] = {}
        self._unit_cache: dict[tuple[date, int], int] = {}
        self._dt_cache: dict[int, datetime] = {}
        self._local_cache: dict[datetime, tuple[date, int]] = {}
        self._avail_cache: dict[tuple[str, int, int, int, int], bool] = {}
        self._starts_cache: dict[tuple, tuple[int, ...]] = {}
        self.used_days: dict[tuple[str, int], set[date]] = defaultdict(set)
        self.per_day: Counter[tuple[str, date]] = Counter()

    # -- time

    def unit(self, day: date, minute: int) -> int:
        """The 5-minute unit at which local ``minute`` of ``day`` starts."""
        k = (day, minute)
        u = self._unit_cache.get(k)
        if u is None:
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
            u = int(local.timestamp()) // (UNIT_MINUTES * 60)
            self._unit_cache[k] = u
        return u

    def dt(self, u: int) -> datetime:
        d = self._dt_cache.get(u)
        if d is None:
            d = self._dt_cache[u] = _EPOCH + timedelta(minutes=u * UNIT_MINUTES)
        return d

    def local(self, start: datetime) -> tuple[date, int]:
        v = self._local_cache.get(start)
        if v is None:
            loc = start.astimezone(self.tz)
            v = self._local_cache[start] = (loc.date(), loc.hour * 60 + loc.minute)
        return v

    @staticmethod
    def masks(u: int, n: int) -> list[tuple[int, int]]:
        day, off = divmod(u, UNITS_PER_DAY)
        out = []
        while n > 0:
            take = min(n, UNITS_PER_DAY - off)
            out.append((day, ((1 << take) - 1) << off))
            n -= take
            day, off = day + 1, 0
        return out

    def available(self, tz: str, lo: int, hi: int, u: int, n: int) -> bool:
        k = (tz, lo, hi, u, n)
        ok = self._avail_cache.get(k)
        if ok is None:
            loc = self.dt(u).astimezone(ZoneInfo(tz))
            m0 = loc.hour * 60 + loc.minute
            m1 = m0 + n * UNIT_MINUTES
            if lo < hi:
                ok = lo <= m0 and m1 <= hi
            else:  # the window wraps midnight
                ok = (m0 >= lo and m1 <= 1440 + hi) or m1 <= hi
            self._avail_cache[k] = ok
        return ok

    # -- resources

    def person_window(self, pid: str, role: str) -> tuple[str, int, int, str] | None:
        p = self.people.get(pid)
        if p is None or p.available is None:
            return None
        tz = p.tz or self.cal.timezone
        a = p.available
        label = f"outside the availability of {role} {pid} ({tz} {a.start:%H:%M}–{a.end:%H:%M})"
        return (tz, _minutes(a.start), _minutes(a.end), label)

    def add_person(self, req: _Req, pid: str, role: str) -> None:
        req.checks.append((self.pbusy[pid], f"{role} {pid} busy"))
        for g in self.person_groups.get(pid, ()):
            req.checks.append((self.gbusy[g], f"{role} {pid} busy with group {g}"))
            req.reserve.append(self.mbusy[g])
        req.reserve.append(self.pbusy[pid])
        w = self.person_window(pid, role)
        if w is not None:
            req.windows.append(w)

    def add_group(self, req: _Req, gid: str) -> None:
        linked = self.linked.get(gid)
        if linked is None:
            members = self.groups[gid].student_ids
            linked = tuple(dict.fromkeys([gid] + [g for s in members for g in self.person_groups[s]]))
            self.linked[gid] = linked
            windows = {}
            for s in members:
                w = self.person_window(s, "student")
                if w is not None:
                    windows.setdefault(w[:3], w)
            self.group_windows[gid] = list(windows.values())
        for g in linked:
            req.checks.append(
                (self.gbusy[g], f"group {gid} busy" if g == gid else f"group {g} (shares students) busy")
            )
        req.checks.append((self.mbusy[gid], f"a student of group {gid} busy"))
        req.reserve.append(self.gbusy[gid])
        req.windows.extend(self.group_windows[gid])

    def conflict(self, req: _Req, u: int) -> str | None:
        """Why ``req`` cannot start at unit ``u``, or None when it can."""
        for day, mask in self.masks(u, req.units):
            for busy, label in req.checks:
                if busy.get(day, 0) & mask:
                    return label
        for tz, lo, hi, label in req.windows:
            if not self.available(tz, lo, hi, u, req.units):
                return label
        return None

    def book(self, req: _Req, u: int, day: date) -> None:
        for d, mask in self.masks(u, req.units):
            for busy in req.reserve:
                busy[d] = busy.get(d, 0) | mask
        if req.spread is not None:
            self.used_days[req.spread].add(day)
        if req.cap:
            self.per_day[(req.offering.id, day)] += 1

    # -- requirements

    def starts(
        self, minutes: int, hours: tuple[time, time] | None, strict: bool, step: int | None = None
    ) -> tuple[int, ...]:
        k = (minutes, hours, strict, step)
        s = self._starts_cache.get(k)
        if s is None:
            all_starts = list(range(self.day_start, self.day_end - minutes + 1, step or self.grid))
            if hours is None:
                s = tuple(all_starts)
            else:
                lo, hi = _minutes(hours[0]), _minutes(hours[1])
                pref = [m for m in all_starts if m >= lo and m + minutes <= hi]
                s = tuple(pref if strict else pref + [m for m in all_starts if m not in pref])
            self._starts_cache[k] = s
        return s

    def requirements(
        self, offerings: list[Offering], results: list[ControlResult]
    ) -> tuple[list[_Req], list[Unplaced], list[Ineligible]]:
        problems: list[str] = []
        seen: set[str] = set()
        for o in offerings:
            if o.id in seen:
                problems.append(f"offering '{o.id}' is given twice")
            seen.add(o.id)
            if o.group_id not in self.groups:
                problems.append(f"offering '{o.id}': unknown group '{o.group_id}'")
            if self.cal.period(o.period_id) is None:
                problems.append(f"offering '{o.id}': period '{o.period_id}' is not in the calendar")
            c = o.consultation
            if c is not None and (
                c.per_week < 1 or c.minutes < 1 or any(not 0 <= d <= 6 for d in c.weekdays)
            ):
                problems.append(
                    f"offering '{o.id}': consultation needs per_week ≥ 1, minutes ≥ 1, weekdays 0–6"
                )
            for a in o.controls:
                if a.minutes and (a.week is None) == (a.window_id is None):
                    problems.append(
                        f"offering '{o.id}': control '{a.id}' needs exactly one of week or window"
                    )
                if a.window_id is not None and self.cal.window(a.window_id) is None:
                    problems.append(
                        f"offering '{o.id}': control '{a.id}': window '{a.window_id}' is not in the calendar"
                    )
            d = o.defense
            if d is not None:
                if self.cal.window(d.window_id) is None:
                    problems.append(
                        f"offering '{o.id}': defense window '{d.window_id}' is not in the calendar"
                    )
                if d.slot_minutes < 1 or not d.committee_ids:
                    problems.append(f"offering '{o.id}': defense needs slot_minutes ≥ 1 and a committee")
        if problems:
            raise PlanError(problems)

        results_by_off: dict[str, list[ControlResult]] = defaultdict(list)
        for r in results:
            results_by_off[r.offering_id].append(r)
        weeks_cache: dict[str, list[TeachingWeek]] = {}
        wdays_cache: dict[str, tuple[date, ...]] = {}
        ndays = len(self.cal.teaching_weekdays)
        reqs_control: list[_Req] = []
        reqs_defense: list[_Req] = []
        reqs_consult: list[_Req] = []
        unplaced: list[Unplaced] = []
        ineligible: list[Ineligible] = []

        def group_req(req: _Req, o: Offering) -> _Req:
            req.tutor_id, req.group_id = o.tutor_id, o.group_id
            self.add_person(req, o.tutor_id, "tutor")
            self.add_group(req, o.group_id)
            return req

        for o in sorted(offerings, key=lambda o: o.id):
            period = self.cal.period(o.period_id)
            assert period is not None
            weeks = weeks_cache.get(period.id)
            if weeks is None:
                weeks = weeks_cache[period.id] = teaching_weeks(self.cal, period)
            rule = o.consultation
            if rule is not None:
                starts = self.starts(rule.minutes, rule.hours, rule.strict)
                rot = zlib.crc32(o.id.encode()) % max(ndays, 1)  # spreads offerings without preferences
                for week in weeks:
                    days = list(week.days)
                    if rule.weekdays:
                        pref = [d for d in days if d.weekday() in rule.weekdays]
                        days = pref if rule.strict else pref + [d for d in days if d not in pref]
                    else:
                        days = days[rot % len(days) :] + days[: rot % len(days)]
                    where = f"week {week.number} ({week.days[0]} – {week.days[-1]})"
                    for i in range(1, rule.per_week + 1):
                        req = _Req(
                            f"{o.id}/consultation/w{week.number:02d}/{i}",
                            o,
                            SessionKind.CONSULTATION,
                            f"{o.discipline}: consultation, week {week.number}",
                            rule.minutes,
                        )
                        req.days, req.starts, req.where = tuple(days), starts, where
                        req.spread = (o.id, week.number)
                        reqs_consult.append(group_req(req, o))
            for act in o.controls:
                if not act.minutes:
                    continue  # off-line work: counts for §29, needs no session
                req = _Req(
                    f"{o.id}/control/{act.id}",
                    o,
                    SessionKind.CONTROL,
                    f"{o.discipline}: {act.name}",
                    act.minutes,
                )
                hours = rule.hours if rule is not None else None
                req.starts = self.starts(act.minutes, hours, False)
                if act.window_id is not None:
                    days = wdays_cache.get(act.window_id)
                    if days is None:
                        window = self.cal.window(act.window_id)
                        assert window is not None
                        days = wdays_cache[act.window_id] = tuple(window_days(self.cal, window))
                    req.days, req.where = days, f"window '{act.window_id}'"
                else:
                    week = next((w for w in weeks if w.number == act.week), None)
                    if week is None:
                        unplaced.append(
                            Unplaced(
                                req.key,
                                o.id,
                                req.kind,
                                f"week {act.week} is not a teaching week of period '{period.id}'",
                            )
                        )
                        continue
                    req.days, req.where = week.days, f"week {week.number} ({week.days[0]} – {week.days[-1]})"
                reqs_control.append(group_req(req, o))
            d = o.defense
            if d is not None:
                eligible, inel = eligibility(
                    o, self.groups[o.group_id].student_ids, results_by_off.get(o.id, ())
                )
                ineligible.extend(inel)
                days = wdays_cache.get(d.window_id)
                if days is None:
                    window = self.cal.window(d.window_id)
                    assert window is not None
                    days = wdays_cache[d.window_id] = tuple(window_days(self.cal, window))
                starts = self.starts(d.slot_minutes, None, False, step=d.slot_minutes)
                for sid in eligible:
                    req = _Req(
                        f"{o.id}/defense/{sid}",
                        o,
                        SessionKind.DEFENSE,
                        f"{o.discipline}: course-work defense",
                        d.slot_minutes,
                    )
                    req.student_ids, req.committee_ids = (sid,), tuple(d.committee_ids)
                    for cid in d.committee_ids:
                        self.add_person(req, cid, "committee member")
                    self.add_person(req, sid, "student")
                    req.days, req.starts, req.where = days, starts, f"window '{d.window_id}'"
                    req.cap = d.max_per_day
                    reqs_defense.append(req)
        return reqs_control + reqs_defense + reqs_consult, unplaced, ineligible

    # -- placing

    def keep(self, req: _Req, prev: PlannedSession) -> int | None:
        """The unit at which the previous placement can be kept, or None."""
        if (
            prev.kind != req.kind
            or prev.tutor_id != req.tutor_id
            or prev.group_id != req.group_id
            or prev.student_ids != req.student_ids
            or prev.committee_ids != req.committee_ids
            or prev.end - prev.start != timedelta(minutes=req.minutes)
        ):
            return None
        day, minute = self.local(prev.start)
        if day not in req.days or minute not in req.starts:
            return None
        u = self.unit(day, minute)
        if self.dt(u) != prev.start or self.conflict(req, u) is not None:
            return None
        if req.cap and self.per_day[(req.offering.id, day)] >= req.cap:
            return None
        return u

    def order_days(self, req: _Req) -> tuple[date, ...] | list[date]:
        if req.spread is None:
            return req.days
        used = self.used_days.get(req.spread)
        if not used:
            return req.days
        return [d for d in req.days if d not in used] + [d for d in req.days if d in used]

    def search(self, req: _Req, cursor: dict[str, tuple[int, int]] | None = None) -> tuple[int, date] | None:
        days = self.order_days(req)
        d0, s0 = (0, 0)
        if cursor is not None:
            d0, s0 = cursor.get(req.offering.id, (0, 0))
        for di in range(d0, len(days)):
            day = days[di]
            if req.cap and self.per_day[(req.offering.id, day)] >= req.cap:
                continue
            for si in range(s0 if di == d0 else 0, len(req.starts)):
                u = self.unit(day, req.starts[si])
                if self.conflict(req, u) is None:
                    if cursor is not None:
                        cursor[req.offering.id] = (di, si + 1)
                    return u, day
        if (d0, s0) != (0, 0):  # the cursor skips gaps left behind; before giving up, try them
            return self.search(req, None)
        return None

    def diagnose(self, req: _Req) -> str:
        if not req.days:
            return f"{req.where} has no usable day (holidays, blocked periods or no teaching weekday)"
        if not req.starts:
            return (
                f"a {req.minutes}-minute session does not fit in the allowed hours "
                f"({self.cal.day_start:%H:%M}–{self.cal.day_end:%H:%M} local, preferences if strict)"
            )
        causes: Counter[str] = Counter()
        n = 0
        for day in req.days:
            if req.cap and self.per_day[(req.offering.id, day)] >= req.cap:
                causes[f"the offering's cap of {req.cap} defenses a day reached"] += len(req.starts)
                n += len(req.starts)
                continue
            for m in req.starts:
                n += 1
                causes[self.conflict(req, self.unit(day, m)) or "free"] += 1
        shown = ", ".join(f"{label} ×{count}" for label, count in causes.most_common(4))
        more = f", {len(causes) - 4} other causes" if len(causes) > 4 else ""
        return f"no free time in {req.where}: {n} candidate starts, {shown}{more}"

    def run(
        self, offerings: list[Offering], results: list[ControlResult], previous: list[PlannedSession]
    ) -> PlanResult:
        reqs, unplaced, ineligible = self.requirements(offerings, results)
        placed: dict[str, tuple[_Req, int]] = {}
        if previous:
            prev_by_key = {s.key: s for s in previous}
            for req in reqs:
                prev = prev_by_key.get(req.key)
                if prev is None:
                    continue
                u = self.keep(req, prev)
                if u is not None:
                    self.book(req, u, self.local(prev.start)[0])
                    placed[req.key] = (req, u)
        cursor: dict[str, tuple[int, int]] | None = {} if not placed else None
        failed: list[_Req] = []
        for req in reqs:
            if req.key in placed:
                continue
            found = self.search(req, cursor if req.kind is SessionKind.DEFENSE else None)
            if found is None:
                failed.append(req)
                continue
            u, day = found
            self.book(req, u, day)
            placed[req.key] = (req, u)
        for req in failed:
            unplaced.append(Unplaced(req.key, req.offering.id, req.kind, self.diagnose(req)))
        sessions = self.sessions(placed.values())
        unplaced.sort(key=lambda x: x.key)
        ineligible.sort(key=lambda x: (x.offering_id, x.student_id))
        return PlanResult(tuple(sessions), tuple(unplaced), tuple(ineligible))

    def sessions(self, placed: Iterable[tuple[_Req, int]]) -> list[PlannedSession]:
        out: list[PlannedSession] = []
        defenses: dict[tuple[tuple[str, ...], date], list[tuple[int, _Req]]] = defaultdict(list)
        for req, u in placed:
            if req.kind is SessionKind.DEFENSE:
                defenses[(req.committee_ids, self.local(self.dt(u))[0])].append((u, req))
                continue
            start = self.dt(u)
            out.append(
                PlannedSession(
                    req.key,
                    req.offering.id,
                    req.kind,
                    start,
                    start + timedelta(minutes=req.minutes),
                    req.title,
                    req.tutor_id,
                    req.group_id,
                )  # fmt: skip
            )
        # A sitting is one committee's unbroken run of defenses on one day.
        for (committee, day), items in defenses.items():
            items.sort(key=lambda x: (x[0], x[1].key))
            tag = f"{zlib.crc32('|'.join(committee).encode()):08x}"
            sitting, end = "", -1
            for u, req in items:
                if u > end:
                    _, minute = self.local(self.dt(u))
                    sitting = f"sitting/{tag}/{day.isoformat()}/{minute // 60:02d}{minute % 60:02d}"
                end = max(end, u + req.units)
                start = self.dt(u)
                out.append(
                    PlannedSession(
                        req.key,
                        req.offering.id,
                        req.kind,
                        start,
                        start + timedelta(minutes=req.minutes),
                        req.title,
                        None,
                        None,
                        req.student_ids,
                        req.committee_ids,
                        sitting,
                    )  # fmt: skip
                )
        out.sort(key=lambda s: s.key)
        return out
