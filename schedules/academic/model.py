"""The planning vocabulary: calendar, people, offerings and the sessions a plan yields.

Everything here is an immutable dataclass with plain fields (str ids, dates,
aware UTC datetimes), so the store can map each one to a table row and the
planner can hash and compare them. Weekdays are numbered as in ``date.weekday()``
(0 = Monday).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from schedules.academic.said import Said


class BlockKind(StrEnum):
    """Why teaching is suspended for a stretch of days."""

    EXAM_SESSION = "exam_session"
    PRACTICE = "practice"  # professional practice, §32
    OTHER = "other"


class WindowKind(StrEnum):
    """What a window of days is reserved for."""

    DEFENSE = "defense"  # course-work defenses, §31
    CONTROL = "control"  # current control / interim attestation, §26–27
    EXAM = "exam"


class Technology(StrEnum):
    """Distance-teaching technology of an offering (§2)."""

    NETWORK = "network"
    TV = "tv"
    CASE = "case"


class SessionKind(StrEnum):
    CONSULTATION = "consultation"
    CONTROL = "control"
    DEFENSE = "defense"


@dataclass(frozen=True, slots=True)
class Period:
    """An academic period (semester, trimester): consultations happen in its teaching weeks."""

    id: str
    name: str
    start: date
    end: date  # inclusive


@dataclass(frozen=True, slots=True)
class Holiday:
    """Whole days without any session (public holidays, winter break, a decree's transferred day off).

    ``source`` says where the days came from (``calendar.yaml:31 holidays[5]``,
    the country's public holidays, an .ics event) so ``calendar check`` can show
    it; ``names`` holds the name in each of the calendar's languages when the
    source has them. ``estimated`` marks a lunar holiday whose date the source
    only estimates and the calendar has not confirmed yet.
    """

    name: str
    start: date
    end: date  # inclusive; equals start for a one-day holiday
    source: str = ""
    names: tuple[tuple[str, str], ...] = ()  # (language, name)
    estimated: bool = False

    def days(self) -> Iterator[date]:
        return _days(self.start, self.end)


@dataclass(frozen=True, slots=True)
class WorkingDay:
    """A day taught although its weekday is not a teaching day (a decree's working Saturday)."""

    day: date
    name: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class PublicHolidaySource:
    """The country whose public holidays a calendar takes, as ``calendar check`` describes it.

    ``rule`` says how days off were moved from rest days; ``not_applied`` lists
    the source's decree transfers this institution does not follow (their
    working day is already one of its teaching days).
    """

    country: str
    subdivision: str | None
    library: str  # e.g. "holidays 0.108"
    rule: str
    languages: tuple[str, ...] = ()  # the calendar languages the names were found in
    not_applied: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BlockedPeriod:
    """Days without consultations: exam sessions, practice (§32), other.

    Control activities and defenses placed in a window may still use days of an
    ``exam_session`` (that is what the session is for), never of other kinds.
    """

    kind: BlockKind
    name: str
    start: date
    end: date  # inclusive
    id: str = ""
    period_id: str | None = None

    def days(self) -> Iterator[date]:
        return _days(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Window:
    """Days reserved for one kind of activity, referred to by id from offerings."""

    id: str
    kind: WindowKind
    name: str
    start: date
    end: date  # inclusive
    period_id: str | None = None

    def days(self) -> Iterator[date]:
        return _days(self.start, self.end)


@dataclass(frozen=True, slots=True)
class AcademicCalendar:
    """One academic year of an institution, in its own time zone (IANA name)."""

    name: str
    timezone: str
    year_start: date
    year_end: date  # inclusive
    periods: tuple[Period, ...]
    holidays: tuple[Holiday, ...] = ()
    blocked: tuple[BlockedPeriod, ...] = ()
    windows: tuple[Window, ...] = ()
    teaching_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    working_days: tuple[WorkingDay, ...] = ()  # taught although their weekday is not
    public_holidays: PublicHolidaySource | None = None
    languages: tuple[str, ...] = ()  # ISO 639 codes, most preferred first
    day_start: time = time(9, 0)  # institution local time
    day_end: time = time(20, 0)
    slot_minutes: int = 15  # grid on which sessions start, local time
    source: str = ""  # file the calendar came from, for messages

    def period(self, period_id: str) -> Period | None:
        return next((p for p in self.periods if p.id == period_id), None)

    def window(self, window_id: str) -> Window | None:
        return next((w for w in self.windows if w.id == window_id), None)


@dataclass(frozen=True, slots=True)
class TeachingWeek:
    """A Monday-based week of a period; ``number`` 1 is the week holding the period's first day."""

    period_id: str
    number: int
    monday: date
    days: tuple[date, ...]  # the teaching days of this week inside the period


@dataclass(frozen=True, slots=True)
class Availability:
    """Hours of the day a person can attend, in their own time zone; end < start wraps midnight."""

    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Person:
    """Anyone who takes part in sessions: student, tutor, committee member."""

    id: str
    name: str = ""
    tz: str | None = None  # IANA zone for display and for ``available``
    available: Availability | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A study group; its students attend its consultations and controls together."""

    id: str
    name: str = ""
    student_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsultationRule:
    """Weekly consultations of an offering: ``per_week`` sessions of ``minutes`` each.

    ``weekdays`` and ``hours`` (institution local time, a [start, end) window the
    session must lie in) are preferences tried first; with ``strict`` they are the
    only times allowed.
    """

    per_week: int
    minutes: int
    weekdays: tuple[int, ...] = ()
    hours: tuple[time, time] | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ControlActivity:
    """A control activity (§26–27). ``minutes == 0`` means off-line work with no session.

    An on-line one is held for the whole group in teaching ``week`` of the period
    or, when ``window_id`` is set, inside that calendar window.
    """

    id: str
    name: str
    minutes: int = 0
    week: int | None = None
    window_id: str | None = None


@dataclass(frozen=True, slots=True)
class DefenseRule:
    """Course-work defenses (§31): one slot per eligible student inside a window, before a committee.

    ``committee_ids[0]`` chairs. ``max_per_day`` caps the slots of this offering
    on one day (0 = no cap).
    """

    window_id: str
    slot_minutes: int
    committee_ids: tuple[str, ...]
    max_per_day: int = 0


@dataclass(frozen=True, slots=True)
class Offering:
    """A discipline taught to one group in one period by one tutor with one technology (§2)."""

    id: str
    discipline: str
    group_id: str
    period_id: str
    tutor_id: str
    technology: Technology = Technology.NETWORK
    consultation: ConsultationRule | None = None
    controls: tuple[ControlActivity, ...] = ()
    defense: DefenseRule | None = None


@dataclass(frozen=True, slots=True)
class ControlResult:
    """Whether a student passed one control activity of an offering (input to §29); ``reason`` says why not."""

    student_id: str
    offering_id: str
    activity_id: str
    passed: bool
    reason: str | Said = ""


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One placed session. ``key`` is stable across re-plans and is the identity to store.

    Keys: ``OFF/consultation/wNN/I`` (teaching week NN of the period, I-th of the
    week), ``OFF/control/ACT`` and ``OFF/defense/STUDENT``. Participants are the
    tutor, the committee, ``student_ids`` and every member of ``group_id``
    (group sessions leave ``student_ids`` empty: the group is resolved at read
    time, so a roster change does not rewrite thousands of rows).
    """

    key: str
    offering_id: str
    kind: SessionKind
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    title: str
    tutor_id: str | None = None
    group_id: str | None = None
    student_ids: tuple[str, ...] = ()
    committee_ids: tuple[str, ...] = ()
    sitting_id: str | None = None  # defenses: the committee's sitting this slot belongs to

    def person_ids(self) -> tuple[str, ...]:
        """The people named directly on the session (not the group's members)."""
        ids = ([self.tutor_id] if self.tutor_id else []) + list(self.committee_ids) + list(self.student_ids)
        return tuple(dict.fromkeys(ids))


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A required session the planner could not place, and exactly why."""

    key: str
    offering_id: str
    kind: SessionKind
    reason: str
    said: Said | None = None  # the reason with its code and values, for pages in the reader's language


@dataclass(frozen=True, slots=True)
class Ineligible:
    """A student kept out of a defense because §29 does not hold for them."""

    student_id: str
    offering_id: str
    reason: str
    said: Said | None = None  # the reason with its code and values, for pages in the reader's language


@dataclass(frozen=True, slots=True)
class PlanResult:
    """The outcome of one planning run; every required session is in ``sessions`` or ``unplaced``."""

    sessions: tuple[PlannedSession, ...]
    unplaced: tuple[Unplaced, ...] = ()
    ineligible: tuple[Ineligible, ...] = ()

    def by_key(self) -> dict[str, PlannedSession]:
        return {s.key: s for s in self.sessions}


@dataclass(frozen=True, slots=True)
class PlanDiff:
    """What applying a new plan changes, by session key.

    ``moved`` holds (old, new) pairs whose time changed; ``updated`` those with
    the same time but other fields changed (participants, sitting, title). Both
    need a new iCalendar SEQUENCE.
    """

    added: tuple[PlannedSession, ...] = ()
    moved: tuple[tuple[PlannedSession, PlannedSession], ...] = ()
    updated: tuple[tuple[PlannedSession, PlannedSession], ...] = ()
    cancelled: tuple[PlannedSession, ...] = ()
    unchanged: tuple[PlannedSession, ...] = field(default=(), repr=False)

    @property
    def empty(self) -> bool:
        return not (self.added or self.moved or self.updated or self.cancelled)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
