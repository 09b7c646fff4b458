"""The planning engine: 5-minute units, one bit mask per resource and day, first-fit placement.

    engine = Engine(calendar, people, groups)
    result = engine.run(offerings, results, previous_sessions)

Time is cut into 5-minute units counted from the Unix epoch (UTC). Each
resource (a person, a group, "some member of a group") keeps one bit mask per
UTC day of the units it is busy, so testing a candidate time against a
resource is one dictionary lookup and one AND, whatever the session length,
and nothing is ever compared pairwise. A group session occupies the group; an
individual booking (a tutor, a committee member, a defending student) occupies
the person and marks "a member busy" on each of their groups, which is what a
later group session of those groups must test.

A person's availability window (their own hours in their own zone) becomes a
mask of allowed local start minutes, shared by every day without a DST change
and every person with the same window.
"""

from __future__ import annotations

import gc
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import chain
from zoneinfo import ZoneInfo

from schedules.academic.calendar import teaching_weeks, window_days
from schedules.academic.eligibility import eligibility
from schedules.academic.model import (
    AcademicCalendar,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Ineligible,
    Offering,
    Person,
    PlannedSession,
    PlanResult,
    SessionKind,
    TeachingWeek,
    Unplaced,
)
from schedules.academic.said import Said
from schedules.errors import PlanError

UNIT_MINUTES = 5
UNITS_PER_DAY = 24 * 60 // UNIT_MINUTES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT = timedelta(minutes=UNIT_MINUTES)
# The sessions' names; orchestrator/session_titles.py recognises them to say them in kk and ru too.
CONSULTATION_TITLE = "{discipline}: consultation, week {week}"
DEFENSE_TITLE = "{discipline}: course-work defense"

Busy = dict[int, int]  # UTC day number -> bit mask of busy 5-minute units


def by_id(items: Iterable | Mapping) -> dict:
    """Items keyed by their ``id`` (a mapping is copied as it is)."""
    if isinstance(items, Mapping):
        return dict(items)
    return {item.id: item for item in items}


def sessions_of(value: PlanResult | Iterable[PlannedSession] | None) -> list[PlannedSession]:
    """The sessions of a plan, of stored sessions, or none."""
    if value is None:
        return []
    if isinstance(value, PlanResult):
        return list(value.sessions)
    return list(value)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is built.

    A plan allocates hundreds of thousands of small objects and no cycles;
    the collector's passes over that growing heap cost about a third of the run.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_inputs(cal: AcademicCalendar, groups: Mapping[str, Group], offerings: Iterable[Offering]) -> None:
    """Raise PlanError listing every contradiction of the inputs (unknown group, period, window; duplicates)."""
    problems: list[Said] = []
    seen: set[str] = set()

    def bad(code: str, text: str, **params: object) -> None:
        problems.append(Said.of(code, text, **params))

    for o in offerings:
        if o.id in seen:
            bad("plan.input.offering_twice", f"offering '{o.id}' is given twice", offering=o.id)
        seen.add(o.id)
        if o.group_id not in groups:
            bad("plan.input.unknown_group", f"offering '{o.id}': unknown group '{o.group_id}'", offering=o.id, group=o.group_id)
        if cal.period(o.period_id) is None:
            bad("plan.input.unknown_period", f"offering '{o.id}': period '{o.period_id}' is not in the calendar",
                offering=o.id, period=o.period_id)
        c = o.consultation
        if c is not None and (
            c.per_week < 1 or c.minutes < 1 or any(not 0 <= d <= 6 for d in c.weekdays)
        ):
            bad("plan.input.consultation", f"offering '{o.id}': consultation needs per_week ≥ 1, minutes ≥ 1, weekdays 0–6",
                offering=o.id)
        for a in o.controls:
            if a.minutes and (a.week is None) == (a.window_id is None):
                bad("plan.input.control_week_or_window", f"offering '{o.id}': control '{a.id}' needs exactly one of week or window",
                    offering=o.id, control=a.id)
            if a.window_id is not None and cal.window(a.window_id) is None:
                bad("plan.input.control_window",
                    f"offering '{o.id}': control '{a.id}': window '{a.window_id}' is not in the calendar",
                    offering=o.id, control=a.id, window=a.window_id)
        d = o.defense
        if d is not None:
            if cal.window(d.window_id) is None:
                bad("plan.input.defense_window", f"offering '{o.id}': defense window '{d.window_id}' is not in the calendar",
                    offering=o.id, window=d.window_id)
            if d.slot_minutes < 1 or not d.committee_ids:
                bad("plan.input.defense", f"offering '{o.id}': defense needs slot_minutes ≥ 1 and a committee", offering=o.id)
    if problems:
        raise PlanError(problems)


def _fits(m0: int, minutes: int, lo: int, hi: int) -> bool:
    """Whether [m0, m0 + minutes) of a local day lies in the window [lo, hi); hi < lo wraps midnight."""
    m1 = m0 + minutes
    if lo < hi:
        return lo <= m0 and m1 <= hi
    return (m0 >= lo and m1 <= 1440 + hi) or m1 <= hi


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class Who:
    """The participants of a session as resources: what a candidate time is tested against and what it occupies.

    Built once per offering (and per defending student), shared by all its sessions.
    """

    __slots__ = (
        "checks",
        "reserve",
        "mgroups",
        "windows",
        "wmasks",
        "tutor_id",
        "group_id",
        "student_ids",
        "committee_ids",
    )

    def __init__(self) -> None:
        self.checks: list[tuple[Busy, Said]] = []
        self.reserve: list[Busy] = []
        self.mgroups: list[str] = []  # groups whose "some member busy" this marks
        self.windows: list[tuple[str, int, int, Said]] = []  # (tz, from, to, label): availability to respect
        self.wmasks: dict[tuple[int, date], int] = {}  # cache of Engine.who_mask
        self.tutor_id: str | None = None
        self.group_id: str | None = None
        self.student_ids: tuple[str, ...] = ()
        self.committee_ids: tuple[str, ...] = ()

    def joined(self, other: Who) -> Who:
        who = Who()
        who.checks = self.checks + other.checks
        who.reserve = self.reserve + other.reserve
        who.mgroups = self.mgroups + other.mgroups
        who.windows = self.windows + other.windows
        return who


class Spec:
    """What the sessions of one offering-week, one control or one defense share: times allowed, length, title."""

    __slots__ = (
        "offering", "kind", "title", "minutes", "units", "duration", "days", "starts", "allowed", "where",
        "spread", "cap", "scope", "ref",
    )  # fmt: skip

    def __init__(
        self,
        offering: Offering,
        kind: SessionKind,
        title: str,
        minutes: int,
        days: tuple[date, ...],
        starts: tuple[int, ...],
        allowed: dict[int, tuple[date, int]],
        where: Said,
    ) -> None:
        self.offering = offering
        self.kind = kind
        self.title = title
        self.minutes = minutes
        self.units = -(-minutes // UNIT_MINUTES)
        self.duration = _duration(minutes)
        self.days = days  # allowed days, in the order to try
        self.starts = starts  # allowed local start minutes, in the order to try
        self.allowed = allowed  # every allowed start unit -> (local day, local minute)
        self.where = where  # the days searched, for messages
        self.spread: tuple[str, int] | None = None  # consultations: (offering, week) to spread over days
        self.cap = 0  # defenses: max per day for the offering
        self.scope: tuple = ()  # ("week", period, number) or ("window", id): the calendar days it depends on
        self.ref: ControlActivity | None = None  # controls: the activity


class Req:
    """One session to place: its stable key, what it shares with its siblings, and who takes part."""

    __slots__ = ("key", "spec", "who", "pos")

    def __init__(self, key: str, spec: Spec, who: Who, pos: int) -> None:
        self.key = key
        self.spec = spec
        self.who = who
        self.pos = pos  # place among its offering's requirements: the order of a full plan


class Engine:
    """Occupancy of every resource and the placement of every requirement; one plan, kept so it can change.

        engine = Engine(cal, people, groups)
        result = engine.run(offerings, results, previous_sessions)

    ``Planner.update`` changes it through ``set_calendar``, ``set_people``,
    ``forget_offering``, ``withdraw``, ``install``, ``place``...; nothing
    outside touches its caches.
    """

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
        self._group_who: dict[tuple[str, str], Who] = {}
        self._base: dict[date, int | None] = {}
        self._unit_cache: dict[tuple[date, int], int] = {}
        self._avail_cache: dict[tuple, bool] = {}
        self._shifts: dict[tuple[str, date], int | None] = {}
        self._spans: dict[tuple[int, int], tuple[datetime, datetime]] = {}  # shared start/end objects
        self._wmask: dict[tuple[int, int, int, int], int] = {}
        self._starts_cache: dict[tuple, tuple[int, ...]] = {}
        self._allowed_cache: dict[tuple, dict[int, tuple[date, int]]] = {}
        self._weeks: dict[str, list[TeachingWeek]] = {}
        self._week_days: dict[
            tuple, tuple[tuple[date, ...], str]
        ] = {}  # ordered days of a week, by preference
        self._rot: dict[str, int] = {}
        self._wdays: dict[str, tuple[date, ...]] = {}
        self.used_days: dict[tuple[str, int], Counter[date]] = defaultdict(Counter)
        self.per_day: Counter[tuple[str, date]] = Counter()
        # The plan as it stands, kept so that Planner.update can change it in place.
        self.offerings: dict[str, Offering] = {}
        self.oids: list[str] = []
        self.reqs_by_off: dict[str, list[Req]] = {}
        self.pre_unplaced: dict[str, list[Unplaced]] = {}
        self.inel_by_off: dict[str, list[Ineligible]] = {}
        self.by_key: dict[str, Req] = {}
        self.placed: dict[str, int] = {}
        self.kept: dict[str, PlannedSession] = {}
        self.failed: dict[str, Req] = {}
        self.out: dict[str, PlannedSession] = {}
        self.out_by_off: dict[str, tuple[PlannedSession, ...]] = {}  # per offering, in requirement order
        self.stale: set[str] = set()  # offerings whose out_by_off must be rebuilt
        self.runs: dict[tuple[tuple[str, ...], date], set[str]] = defaultdict(set)
        self.sitting_of: dict[str, str] = {}

    # -- time

    def unit(self, day: date, minute: int) -> int:
        """The 5-minute unit at which local ``minute`` of ``day`` starts."""
        base = self._base.get(day, -1)
        if base == -1:
            base = self._day_base(day)
        if base is not None:
            return base + minute // UNIT_MINUTES
        k = (day, minute)  # a day with a UTC offset change: convert exactly
        u = self._unit_cache.get(k)
        if u is None:
            local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
            u = self._unit_cache[k] = int(local.timestamp()) // (UNIT_MINUTES * 60)
        return u

    def _day_base(self, day: date) -> int | None:
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        last = datetime(day.year, day.month, day.day, 23, 59, tzinfo=self.tz)
        base = None
        offset = midnight.utcoffset()
        if offset == last.utcoffset() and offset is not None and offset.total_seconds() % 300 == 0:
            base = int(midnight.timestamp()) // (UNIT_MINUTES * 60)
        self._base[day] = base
        return base

    @staticmethod
    def dt(u: int) -> datetime:
        return _EPOCH + timedelta(minutes=u * UNIT_MINUTES)

    def allowed(
        self, days: tuple[date, ...], starts: tuple[int, ...], scope: tuple
    ) -> dict[int, tuple[date, int]]:
        """Every allowed start unit of these days and local start minutes, with its (day, minute).

        Cached by the scope the days come from (a week with a strict weekday
        choice, or a window) and the identity of the cached ``starts`` tuple.
        """
        k = (scope, id(starts))
        m = self._allowed_cache.get(k)
        if m is None:
            m = self._allowed_cache[k] = {self.unit(d, s): (d, s) for d in sorted(days) for s in starts}
        return m

    def available(self, tz: str, lo: int, hi: int, u: int, n: int) -> bool:
        k = (tz, lo, hi, u, n)
        ok = self._avail_cache.get(k)
        if ok is None:
            loc = self.dt(u).astimezone(ZoneInfo(tz))
            ok = self._avail_cache[k] = _fits(loc.hour * 60 + loc.minute, n * UNIT_MINUTES, lo, hi)
        return ok

    def window_mask(self, window: tuple[str, int, int, str], n: int, day: date) -> int:
        """Bit m//5 set when a session of ``n`` units starting at local minute m of ``day`` fits ``window``.

        On days when neither zone changes its UTC offset the mask depends only on
        the offset difference, so it is computed once per (difference, window,
        length) and shared by every day and person with that window.
        """
        tz, lo, hi, _ = window
        shift = self._shifts.get((tz, day), -1)
        if shift == -1:
            shift = self._shifts[(tz, day)] = self._shift(tz, day)
        if shift is not None:
            k = (shift, lo, hi, n)
            mask = self._wmask.get(k)
            if mask is None:
                mask = 0
                for m in range(self.day_start - self.day_start % UNIT_MINUTES, self.day_end, UNIT_MINUTES):
                    if _fits((m + shift) % 1440, n * UNIT_MINUTES, lo, hi):
                        mask |= 1 << (m // UNIT_MINUTES)
                self._wmask[k] = mask
            return mask
        mask = 0  # an offset changes during this day: convert each start exactly
        for m in range(self.day_start - self.day_start % UNIT_MINUTES, self.day_end, UNIT_MINUTES):
            if self.available(tz, lo, hi, self.unit(day, m), n):
                mask |= 1 << (m // UNIT_MINUTES)
        return mask

    def _shift(self, tz: str, day: date) -> int | None:
        """Minutes the person's zone is ahead of the institution's all through ``day``, or None."""
        zone = ZoneInfo(tz)
        first = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        last = datetime(day.year, day.month, day.day, 23, 59, tzinfo=self.tz)
        offsets = {
            (a.utcoffset(), a.astimezone(zone).utcoffset())
            for a in (first, last, first + timedelta(hours=12))
        }
        if len(offsets) != 1:
            return None
        ((own, theirs),) = offsets
        assert own is not None and theirs is not None
        return int((theirs - own).total_seconds()) // 60

    def who_mask(self, who: Who, n: int, day: date) -> int:
        """Starts (as in ``window_mask``) that fit the availability of everyone in ``who``."""
        k = (n, day)
        mask = who.wmasks.get(k)
        if mask is None:
            mask = -1
            for w in who.windows:
                mask &= self.window_mask(w, n, day)
            who.wmasks[k] = mask
        return mask

    # -- resources

    def person_window(self, pid: str, role: str) -> tuple[str, int, int, Said] | None:
        p = self.people.get(pid)
        if p is None or p.available is None:
            return None
        tz = p.tz or self.cal.timezone
        a = p.available
        frm, to = f"{a.start:%H:%M}", f"{a.end:%H:%M}"
        label = Said.of("plan.cause.unavailable", f"outside the availability of {role} {pid} ({tz} {frm}–{to})",
                        role=_role(role), person=pid, tz=tz, start=frm, end=to)
        return (tz, _minutes(a.start), _minutes(a.end), label)

    def add_person(self, who: Who, pid: str, role: str) -> None:
        who.checks.append((self.pbusy[pid], Said.of("plan.cause.person_busy", f"{role} {pid} busy", role=_role(role), person=pid)))
        for g in self.person_groups.get(pid, ()):
            who.checks.append((self.gbusy[g], Said.of("plan.cause.person_busy_group", f"{role} {pid} busy with group {g}",
                                                      role=_role(role), person=pid, group=g)))
            who.reserve.append(self.mbusy[g])
            who.mgroups.append(g)
        who.reserve.append(self.pbusy[pid])
        w = self.person_window(pid, role)
        if w is not None:
            who.windows.append(w)

    def add_group(self, who: Who, gid: str) -> None:
        members = self.groups[gid].student_ids
        linked = dict.fromkeys([gid] + [g for s in members for g in self.person_groups[s]])
        for g in linked:
            who.checks.append(
                (self.gbusy[g], Said.of("plan.cause.group_busy", f"group {gid} busy", group=gid) if g == gid
                 else Said.of("plan.cause.linked_group_busy", f"group {g} (shares students) busy", group=g))
            )
        who.checks.append((self.mbusy[gid], Said.of("plan.cause.member_busy", f"a student of group {gid} busy", group=gid)))
        who.reserve.append(self.gbusy[gid])
        windows = {}
        for s in members:
            w = self.person_window(s, "student")
            if w is not None:
                windows.setdefault(w[:3], w)
        who.windows.extend(windows.values())

    def group_who(self, tutor_id: str, group_id: str) -> Who:
        k = (tutor_id, group_id)
        who = self._group_who.get(k)
        if who is None:
            who = self._group_who[k] = Who()
            who.tutor_id, who.group_id = tutor_id, group_id
            self.add_person(who, tutor_id, "tutor")
            self.add_group(who, group_id)
        return who

    def conflict(self, req: Req, u: int) -> Said | None:
        """Why ``req`` cannot start at unit ``u``, or None when it can."""
        n = req.spec.units
        day, off = divmod(u, UNITS_PER_DAY)
        checks = req.who.checks
        if off + n <= UNITS_PER_DAY:
            mask = ((1 << n) - 1) << off
            for busy, label in checks:
                if busy.get(day, 0) & mask:
                    return label
        else:
            for d, m in _masks(u, n):
                for busy, label in checks:
                    if busy.get(d, 0) & m:
                        return label
        for tz, lo, hi, label in req.who.windows:
            if not self.available(tz, lo, hi, u, n):
                return label
        return None

    def book(self, req: Req, u: int, day: date) -> None:
        spec = req.spec
        d, off = divmod(u, UNITS_PER_DAY)
        if off + spec.units <= UNITS_PER_DAY:
            mask = ((1 << spec.units) - 1) << off
            for busy in req.who.reserve:
                busy[d] = busy.get(d, 0) | mask
        else:
            for d, mask in _masks(u, spec.units):
                for busy in req.who.reserve:
                    busy[d] = busy.get(d, 0) | mask
        if spec.spread is not None:
            self.used_days[spec.spread][day] += 1
        if spec.cap:
            self.per_day[(spec.offering.id, day)] += 1

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

    def spec(
        self,
        o: Offering,
        kind: SessionKind,
        title: str,
        minutes: int,
        days: tuple[date, ...],
        starts: tuple[int, ...],
        where: Said,
        scope: tuple,
    ) -> Spec:
        spec = Spec(o, kind, title, minutes, days, starts, self.allowed(days, starts, scope), where)
        spec.scope = scope[:3]
        return spec

    def check_inputs(self, offerings: list[Offering]) -> None:
        check_inputs(self.cal, self.groups, offerings)

    def weeks(self, period_id: str) -> list[TeachingWeek]:
        weeks = self._weeks.get(period_id)
        if weeks is None:
            period = self.cal.period(period_id)
            assert period is not None
            weeks = self._weeks[period_id] = teaching_weeks(self.cal, period)
        return weeks

    def window_days(self, window_id: str) -> tuple[date, ...]:
        days = self._wdays.get(window_id)
        if days is None:
            window = self.cal.window(window_id)
            assert window is not None
            days = self._wdays[window_id] = tuple(window_days(self.cal, window))
        return days

    def consultation_spec(self, o: Offering, week: TeachingWeek) -> Spec:
        rule = o.consultation
        assert rule is not None
        if rule.weekdays:
            dkey: tuple = (o.period_id, week.number, rule.weekdays, rule.strict)
        else:
            rot = self._rot.get(o.id)
            if rot is None:
                rot = self._rot[o.id] = zlib.crc32(o.id.encode())  # spreads offerings without preferences
            dkey = (o.period_id, week.number, rot % len(week.days))
        cached = self._week_days.get(dkey)
        if cached is None:
            days = list(week.days)
            if rule.weekdays:
                pref = [d for d in days if d.weekday() in rule.weekdays]
                days = pref if rule.strict else pref + [d for d in days if d not in pref]
            else:
                days = days[dkey[2] :] + days[: dkey[2]]
            where = _week_where(week.number, week.days)
            cached = self._week_days[dkey] = (tuple(days), where)
        days_t, where = cached
        starts = self.starts(rule.minutes, rule.hours, rule.strict)
        title = CONSULTATION_TITLE.format(discipline=o.discipline, week=week.number)
        scope = ("week", o.period_id, week.number, rule.weekdays if rule.strict else None)
        spec = self.spec(o, SessionKind.CONSULTATION, title, rule.minutes, days_t, starts, where, scope)
        spec.spread = (o.id, week.number)
        return spec

    def control_spec(self, o: Offering, act: ControlActivity) -> Spec | Said:
        """The spec of an on-line control, or why it has no days."""
        rule = o.consultation
        starts = self.starts(act.minutes, rule.hours if rule is not None else None, False)
        if act.window_id is not None:
            days, where = self.window_days(act.window_id), _window_where(act.window_id)
            scope: tuple = ("window", act.window_id)
        else:
            week = next((w for w in self.weeks(o.period_id) if w.number == act.week), None)
            if week is None:
                return Said.of("plan.not_teaching_week", f"week {act.week} is not a teaching week of period '{o.period_id}'",
                               week=act.week, period=o.period_id)
            days, where = week.days, _week_where(week.number, week.days)
            scope = ("week", o.period_id, week.number)
        title = f"{o.discipline}: {act.name}"
        spec = self.spec(o, SessionKind.CONTROL, title, act.minutes, days, starts, where, scope)
        spec.ref = act
        return spec

    def defense_spec(self, o: Offering, d: DefenseRule) -> Spec:
        starts = self.starts(d.slot_minutes, None, False, step=d.slot_minutes)
        title = DEFENSE_TITLE.format(discipline=o.discipline)
        days = self.window_days(d.window_id)
        where, scope = _window_where(d.window_id), ("window", d.window_id)
        spec = self.spec(o, SessionKind.DEFENSE, title, d.slot_minutes, days, starts, where, scope)
        spec.cap = d.max_per_day
        spec.scope = ("window", d.window_id)
        return spec

    def offering_reqs(
        self, o: Offering, results: Iterable[ControlResult]
    ) -> tuple[list[Req], list[Unplaced], list[Ineligible]]:
        """The sessions one offering needs: weekly consultations, on-line controls, defenses (§29)."""
        reqs: list[Req] = []
        unplaced: list[Unplaced] = []
        who = self.group_who(o.tutor_id, o.group_id)
        if o.consultation is not None:
            for week in self.weeks(o.period_id):
                spec = self.consultation_spec(o, week)
                prefix = f"{o.id}/consultation/w{week.number:02d}/"
                for i in range(1, o.consultation.per_week + 1):
                    reqs.append(Req(prefix + str(i), spec, who, len(reqs)))
        for act in o.controls:
            if not act.minutes:
                continue  # off-line work: counts for §29, needs no session
            key = f"{o.id}/control/{act.id}"
            spec = self.control_spec(o, act)
            if isinstance(spec, Said):
                unplaced.append(Unplaced(key, o.id, SessionKind.CONTROL, spec.text, spec))
                continue
            reqs.append(Req(key, spec, who, len(reqs)))
        ineligible: list[Ineligible] = []
        d = o.defense
        if d is not None:
            eligible, ineligible = eligibility(o, self.groups[o.group_id].student_ids, results)
            committee = Who()
            for cid in d.committee_ids:
                self.add_person(committee, cid, "committee member")
            spec = self.defense_spec(o, d)
            committee_ids = tuple(d.committee_ids)
            for sid in eligible:
                student = Who()
                self.add_person(student, sid, "student")
                both = committee.joined(student)
                both.student_ids, both.committee_ids = (sid,), committee_ids
                reqs.append(Req(f"{o.id}/defense/{sid}", spec, both, len(reqs)))
        return reqs, unplaced, ineligible

    # -- placing

    def keep(self, req: Req, prev: PlannedSession) -> tuple[int, date] | None:
        """Where the previous placement can be kept (unit, local day), or None."""
        spec, who = req.spec, req.who
        if (
            prev.kind is not spec.kind
            or prev.tutor_id != who.tutor_id
            or prev.group_id != who.group_id
            or prev.student_ids != who.student_ids
            or prev.committee_ids != who.committee_ids
            or prev.end - prev.start != spec.duration
        ):
            return None
        if prev.start.tzinfo is None:
            raise PlanError(
                [f"previous session '{prev.key}' has a naive start time; pass aware UTC datetimes"]
            )
        delta = prev.start - _EPOCH
        u = delta // _UNIT
        at = spec.allowed.get(u)
        if at is None or delta % _UNIT:
            return None
        day, minute = at
        if spec.cap and self.per_day[(spec.offering.id, day)] >= spec.cap:
            return None
        n = spec.units
        d, off = divmod(u, UNITS_PER_DAY)
        if off + n > UNITS_PER_DAY:  # crosses UTC midnight: the general test
            return (u, day) if self.conflict(req, u) is None else None
        mask = ((1 << n) - 1) << off
        for busy, _ in who.checks:
            if busy.get(d, 0) & mask:
                return None
        if who.windows and not (self.who_mask(who, n, day) >> (minute // UNIT_MINUTES)) & 1:
            return None
        return u, day

    def order_days(self, spec: Spec) -> tuple[date, ...] | list[date]:
        if spec.spread is None:
            return spec.days
        used = self.used_days.get(spec.spread)
        if not used:
            return spec.days
        return [d for d in spec.days if d not in used] + [d for d in spec.days if d in used]

    def search(self, req: Req, cursor: dict[str, tuple[int, int]] | None = None) -> tuple[int, date] | None:
        """The first free (unit, day) in preference order; the hot loop of a full plan, hence inlined."""
        spec = req.spec
        days = self.order_days(spec)
        d0, s0 = (0, 0)
        if cursor is not None:
            d0, s0 = cursor.get(spec.offering.id, (0, 0))
        starts = spec.starts
        n = spec.units
        full = (1 << n) - 1
        checks = req.who.checks
        windows = req.who.windows
        for di in range(d0, len(days)):
            day = days[di]
            if spec.cap and self.per_day[(spec.offering.id, day)] >= spec.cap:
                continue
            base = self._base.get(day, -1)
            if base == -1:
                base = self._day_base(day)
            wm = self.who_mask(req.who, n, day) if windows else -1
            for si in range(s0 if di == d0 else 0, len(starts)):
                m = starts[si]
                if not (wm >> (m // UNIT_MINUTES)) & 1:
                    continue
                u = base + m // UNIT_MINUTES if base is not None else self.unit(day, m)
                udays, off = divmod(u, UNITS_PER_DAY)
                if off + n <= UNITS_PER_DAY:
                    mask = full << off
                    for busy, _ in checks:
                        if busy.get(udays, 0) & mask:
                            break
                    else:  # availability windows were settled by the mask
                        if cursor is not None:
                            cursor[spec.offering.id] = (di, si + 1)
                        return u, day
                elif self.conflict(req, u) is None:
                    if cursor is not None:
                        cursor[spec.offering.id] = (di, si + 1)
                    return u, day
        if (d0, s0) != (0, 0):  # the cursor skips gaps left behind; before giving up, try them
            return self.search(req, None)
        return None

    def diagnose(self, req: Req) -> Said:
        spec = req.spec
        if not spec.days:
            return Said.of("plan.no_usable_day",
                           f"{spec.where} has no usable day (holidays, blocked periods or no teaching weekday)", where=spec.where)
        if not spec.starts:
            frm, to = f"{self.cal.day_start:%H:%M}", f"{self.cal.day_end:%H:%M}"
            return Said.of("plan.does_not_fit", f"a {spec.minutes}-minute session does not fit in the allowed hours "
                           f"({frm}–{to} local, preferences if strict)", minutes=spec.minutes, start=frm, end=to)
        causes: Counter[Said] = Counter()
        n = 0
        for day in spec.days:
            if spec.cap and self.per_day[(spec.offering.id, day)] >= spec.cap:
                causes[Said.of("plan.cause.cap", f"the offering's cap of {spec.cap} defenses a day reached", cap=spec.cap)] += len(spec.starts)
                n += len(spec.starts)
                continue
            for m in spec.starts:
                n += 1
                causes[self.conflict(req, self.unit(day, m)) or _FREE] += 1
        counted = tuple(Said.of("plan.cause.count", f"{label} ×{count}", cause=label, count=count)
                        for label, count in causes.most_common(4))
        shown = ", ".join(c.text for c in counted)
        if len(causes) > 4:
            more = len(causes) - 4
            return Said.of("plan.no_free_time.more", f"no free time in {spec.where}: {n} candidate starts, {shown}, {more} other causes",
                           where=spec.where, n=n, causes=counted, more=more)
        return Said.of("plan.no_free_time", f"no free time in {spec.where}: {n} candidate starts, {shown}",
                       where=spec.where, n=n, causes=counted)

    def run(
        self, offerings: list[Offering], results: list[ControlResult], previous: list[PlannedSession]
    ) -> PlanResult:
        self.check_inputs(offerings)
        self.offerings = {o.id: o for o in offerings}
        self.oids = sorted(self.offerings)
        results_by_off: dict[str, list[ControlResult]] = defaultdict(list)
        for r in results:
            results_by_off[r.offering_id].append(r)
        reqs: list[Req] = []
        for oid in self.oids:
            r, u, i = self.offering_reqs(self.offerings[oid], results_by_off.get(oid, ()))
            self.reqs_by_off[oid], self.pre_unplaced[oid], self.inel_by_off[oid] = r, u, i
            reqs += r
        self.by_key = {r.key: r for r in reqs}
        prev_by_key = {s.key: s for s in previous}
        self.place(reqs, prev_by_key, allow_cursor=not previous)
        self.refresh_sittings([r for r in reqs if r.spec.kind is SessionKind.DEFENSE], ())
        self.emit(reqs)
        return self.result()

    def place(self, reqs: list[Req], prev_by_key: Mapping[str, PlannedSession], allow_cursor: bool) -> None:
        """Place ``reqs`` (none of them booked): keep valid previous times first, then search the rest."""
        # Fixed-date work first (controls, then defenses), weekly consultations fit around them.
        order = (
            [r for r in reqs if r.spec.kind is SessionKind.CONTROL]
            + [r for r in reqs if r.spec.kind is SessionKind.DEFENSE]
            + [r for r in reqs if r.spec.kind is SessionKind.CONSULTATION]
        )
        placed, kept = self.placed, self.kept
        kept_any = False
        if prev_by_key:
            for req in order:
                prev = prev_by_key.get(req.key)
                if prev is not None:
                    at = self.keep(req, prev)
                    if at is not None:
                        self.book(req, *at)
                        placed[req.key] = at[0]
                        kept[req.key] = prev
                        kept_any = True
        cursor: dict[str, tuple[int, int]] | None = {} if allow_cursor and not kept_any else None
        for req in order:
            if req.key in placed:
                continue
            found = self.search(req, cursor if req.spec.kind is SessionKind.DEFENSE else None)
            if found is None:
                self.failed[req.key] = req
                continue
            self.failed.pop(req.key, None)
            self.book(req, *found)
            placed[req.key] = found[0]

    def refresh_sittings(
        self, defenses: Iterable[Req], old_runs: Iterable[tuple[tuple[str, ...], date]]
    ) -> set[str]:
        """Recompute the sittings of the committee-days these defenses (and ``old_runs``) touch.

        A sitting is one committee's unbroken run of defenses on one day. Returns
        the keys whose sitting id changed.
        """
        touched = set(old_runs)
        for req in defenses:
            u = self.placed.get(req.key)
            if u is not None:
                run = (req.who.committee_ids, req.spec.allowed[u][0])
                self.runs[run].add(req.key)
                touched.add(run)
        changed: set[str] = set()
        for run in touched:
            committee, day = run
            items = []
            for key in list(self.runs.get(run, ())):
                req = self.by_key.get(key)
                u = self.placed.get(key)
                if req is None or u is None or req.spec.allowed.get(u, (None,))[0] != day:
                    self.runs[run].discard(key)
                    continue
                items.append((u, key, req))
            items.sort(key=lambda x: (x[0], x[1]))
            tag = f"{zlib.crc32('|'.join(committee).encode()):08x}"
            sitting, end = "", -1
            for u, key, req in items:
                if u > end:
                    minute = req.spec.allowed[u][1]
                    sitting = f"sitting/{tag}/{day.isoformat()}/{minute // 60:02d}{minute % 60:02d}"
                end = max(end, u + req.spec.units)
                if self.sitting_of.get(key) != sitting:
                    self.sitting_of[key] = sitting
                    changed.add(key)
        return changed

    def emit(self, reqs: Iterable[Req]) -> None:
        """Make the PlannedSession of each placed req; a kept one that did not change is the previous object."""
        stale, out = self.stale, self.out
        for req in reqs:
            key = req.key
            spec = req.spec
            u = self.placed.get(key)
            if u is None:
                if out.pop(key, None) is not None:
                    stale.add(spec.offering.id)
                continue
            sitting = self.sitting_of.get(key) if spec.kind is SessionKind.DEFENSE else None
            prev = self.kept.get(key)  # same time, participants and length: checked in keep()
            if prev is not None and prev.title == spec.title and prev.sitting_id == sitting:
                if out.get(key) is not prev:
                    out[key] = prev
                    stale.add(spec.offering.id)
                continue
            stale.add(spec.offering.id)
            who = req.who
            span = self._spans.get((u, spec.minutes))
            if span is None:
                start = self.dt(u)
                span = self._spans[(u, spec.minutes)] = (start, start + spec.duration)
            self.out[key] = PlannedSession(
                key, spec.offering.id, spec.kind, span[0], span[1], spec.title,
                who.tutor_id, who.group_id, who.student_ids, who.committee_ids, sitting,
            )  # fmt: skip

    def result(self) -> PlanResult:
        out, by_off = self.out, self.out_by_off
        for oid in self.stale:
            if oid in self.reqs_by_off:
                by_off[oid] = tuple(out[r.key] for r in self.reqs_by_off[oid] if r.key in out)
            else:
                by_off.pop(oid, None)
        self.stale.clear()
        sessions = tuple(chain.from_iterable(by_off.get(oid, ()) for oid in self.oids))
        unplaced = [u for oid in self.oids for u in self.pre_unplaced[oid]]
        unplaced += [
            Unplaced(r.key, r.spec.offering.id, r.spec.kind, (why := self.diagnose(r)).text, why) for r in self.failed.values()
        ]
        unplaced.sort(key=lambda x: x.key)
        ineligible = sorted(
            (i for oid in self.oids for i in self.inel_by_off[oid]),
            key=lambda x: (x.offering_id, x.student_id),
        )
        return PlanResult(sessions, tuple(unplaced), tuple(ineligible))

    # -- changes (used by Planner.update: the engine keeps its caches consistent itself)

    def same_shape(self, cal: AcademicCalendar) -> bool:
        """Whether ``cal`` keeps what every cached time grid depends on (zone, hours, grid, weekdays, periods)."""
        old = self.cal
        return (cal.timezone, cal.day_start, cal.day_end, cal.slot_minutes, cal.teaching_weekdays, cal.periods) == (
            old.timezone, old.day_start, old.day_end, old.slot_minutes, old.teaching_weekdays, old.periods
        )  # fmt: skip

    def set_calendar(self, cal: AcademicCalendar) -> None:
        """Use ``cal`` (of the same shape) from now on: the days of weeks and windows are derived again."""
        assert self.same_shape(cal)
        self.cal = cal
        self._weeks.clear()
        self._wdays.clear()
        self._allowed_cache.clear()
        self._week_days.clear()

    def set_people(self, people: dict[str, Person]) -> None:
        """Use these people's zones and availability for requirements built from now on."""
        self.people = people

    def forget_offering(self, o: Offering) -> None:
        """Drop the resources cached for the offering's tutor and group, so they are built again."""
        self._group_who.pop((o.tutor_id, o.group_id), None)

    def release(self, req: Req) -> tuple[PlannedSession | None, tuple[tuple[str, ...], date] | None]:
        """Unbook ``req``: its session as it stood, and the committee-day it leaves (defenses)."""
        s = self.out.get(req.key)
        run = None
        if s is not None and req.spec.kind is SessionKind.DEFENSE:
            run = (req.who.committee_ids, req.spec.allowed[self.placed[req.key]][0])
        self.unbook(req)
        return s, run

    def withdraw(self, oid: str) -> list[tuple[PlannedSession | None, tuple[tuple[str, ...], date] | None]]:
        """Remove every requirement of offering ``oid`` (booked or not); what ``release`` says of each."""
        released = []
        self.stale.add(oid)
        for req in self.reqs_by_off[oid]:
            released.append(self.release(req))
            self.failed.pop(req.key, None)
            self.by_key.pop(req.key, None)
            self.out.pop(req.key, None)
            self.sitting_of.pop(req.key, None)
        return released

    def install(self, o: Offering, results: Iterable[ControlResult]) -> list[Req]:
        """The requirements of offering ``o``, registered (not placed yet)."""
        r, u, i = self.offering_reqs(o, results)
        self.reqs_by_off[o.id], self.pre_unplaced[o.id], self.inel_by_off[o.id] = r, u, i
        for req in r:
            self.by_key[req.key] = req
        return r

    def drop(self, oid: str) -> None:
        """Forget a removed offering's tables."""
        for table in (self.reqs_by_off, self.pre_unplaced, self.inel_by_off):
            table.pop(oid, None)
        self.stale.add(oid)

    def set_offerings(self, offerings: Mapping[str, Offering]) -> None:
        self.offerings = dict(offerings)
        self.oids = sorted(offerings)

    def take_failed(self, besides: set[str]) -> list[Req]:
        """The unplaced requirements of offerings not in ``besides``, to be tried again."""
        retry = [r for r in self.failed.values() if r.spec.offering.id not in besides]
        for req in retry:
            del self.failed[req.key]
        return retry

    def respec(self, spec: Spec) -> Spec:
        """``spec`` built again for the current calendar (its week or window may have other days now)."""
        o = spec.offering
        if spec.kind is SessionKind.CONSULTATION:
            week = next(w for w in self.weeks(o.period_id) if w.number == spec.scope[2])
            return self.consultation_spec(o, week)
        if spec.kind is SessionKind.DEFENSE:
            assert o.defense is not None
            return self.defense_spec(o, o.defense)
        assert spec.ref is not None
        new = self.control_spec(o, spec.ref)
        assert not isinstance(new, Said)  # its week was checked unchanged
        return new

    def unbook(self, req: Req) -> None:
        """Free what ``req`` occupies (the inverse of ``book``)."""
        u = self.placed.pop(req.key, None)
        self.kept.pop(req.key, None)
        if u is None:
            return
        spec, who = req.spec, req.who
        day = spec.allowed[u][0]
        masks = _masks(u, spec.units)
        for d, mask in masks:
            for busy in who.reserve:
                busy[d] = busy.get(d, 0) & ~mask
        # "Some member busy" is a union over members: rebuild it from the members' own bookings.
        for g in who.mgroups:
            members = self.groups[g].student_ids
            for d, _ in masks:
                bits = 0
                for m in members:
                    own = self.pbusy.get(m)
                    if own:
                        bits |= own.get(d, 0)
                self.mbusy[g][d] = bits
        if spec.spread is not None:
            used = self.used_days[spec.spread]
            used[day] -= 1
            if used[day] <= 0:
                del used[day]
        if spec.cap:
            self.per_day[(spec.offering.id, day)] -= 1


_FREE = Said.of("plan.cause.free", "free")
_ROLES = {"tutor": "plan.role.tutor", "student": "plan.role.student", "committee member": "plan.role.committee"}


def _role(role: str) -> Said:
    return Said.of(_ROLES[role], role)


def _week_where(number: int, days: tuple[date, ...] | list[date]) -> Said:
    return Said.of("plan.where.week", f"week {number} ({days[0]} – {days[-1]})",
                   week=number, start=days[0].isoformat(), end=days[-1].isoformat())


def _window_where(window_id: str) -> Said:
    return Said.of("plan.where.window", f"window '{window_id}'", window=window_id)


@cache
def _duration(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def _masks(u: int, n: int) -> list[tuple[int, int]]:
    """(UTC day, bit mask) pairs covering ``n`` units from unit ``u``."""
    day, off = divmod(u, UNITS_PER_DAY)
    out = []
    while n > 0:
        take = min(n, UNITS_PER_DAY - off)
        out.append((day, ((1 << take) - 1) << off))
        n -= take
        day, off = day + 1, 0
    return out
