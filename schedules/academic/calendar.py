"""Academic calendar in YAML: parse, validate, expand and describe.

    cal = load_calendar("examples/calendar-kz-2026-2027.yaml")
    print(describe(cal))
    for week in teaching_weeks(cal, cal.periods[0]): ...

The file is read by ``fileio`` (safe YAML with the line of every key, one
typed reader), so every error names the file, the line and the key path
(``calendar.yaml:14: periods[1].end: 2026-13-01 is not a date``). Scalars are
typed by YAML 1.2 and read as written where text is expected, so ``9:30``
stays a time and ``2026-13-01`` is refused here, with its line.

Days off come from the country's public holidays (``public_holidays``, see
schedules/academic/publicholidays.py), the file's own ``holidays`` and the days off of
its ``transfers``; each keeps its source for ``describe``. ``transfers`` and
``extra_working_days`` make days teaching days although their weekday is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fileio import Reader, key_text, load_yaml, read_yaml
from fileio.document import Document, KeyPath
from schedules.academic.model import (
    AcademicCalendar,
    BlockedPeriod,
    BlockKind,
    Holiday,
    Period,
    PublicHolidaySource,
    TeachingWeek,
    Window,
    WindowKind,
    WorkingDay,
)
from schedules.academic.publicholidays import (
    DECREE,
    LIBRARY,
    MOVED,
    PublicDay,
    UnknownCountry,
    UnknownSubdivision,
    country_year,
)
from schedules.academic.said import Said
from schedules.errors import CalendarError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T = TypeVar("T")


def load_calendar(path: str | Path) -> AcademicCalendar:
    """Read and validate a calendar file; raise CalendarError naming file, line and key."""
    return _CalendarFile(read_yaml(path, error=CalendarError)).calendar()


def parse_calendar(text: str, *, file: str = "<calendar>") -> AcademicCalendar:
    """Parse calendar YAML text; ``file`` is only used in error messages."""
    return _CalendarFile(load_yaml(text, file=file, error=CalendarError)).calendar()


# ---------------------------------------------------------------- expansion


def holiday_dates(cal: AcademicCalendar) -> dict[date, str]:
    """Every holiday date of the calendar with its name."""
    out: dict[date, str] = {}
    for holiday in cal.holidays:
        for day in holiday.days():
            out.setdefault(day, holiday.name)
    return out


def working_dates(cal: AcademicCalendar) -> dict[date, WorkingDay]:
    """Days taught although their weekday is not a teaching day (transfers, extra working days)."""
    return {w.day: w for w in cal.working_days}


def is_teaching_weekday(cal: AcademicCalendar, day: date, working: dict[date, WorkingDay]) -> bool:
    """Whether ``day`` is taught by its weekday or made a working day; holidays and blocks aside."""
    return day.weekday() in cal.teaching_weekdays or day in working


def blocked_dates(cal: AcademicCalendar, *, windowed: bool = False) -> dict[date, BlockedPeriod]:
    """Dates blocked for consultations, or (``windowed``) for window activities.

    Window activities (controls, defenses) may fall in an exam session, so with
    ``windowed`` only practice and other blocks count.
    """
    out: dict[date, BlockedPeriod] = {}
    for block in cal.blocked:
        if windowed and block.kind is BlockKind.EXAM_SESSION:
            continue
        for day in block.days():
            out.setdefault(day, block)
    return out


def teaching_weeks(cal: AcademicCalendar, period: Period) -> list[TeachingWeek]:
    """Weeks of ``period`` that have at least one teaching day, numbered from the period's first week.

    Numbering counts every calendar week, taught or not, so moving a holiday
    never renumbers later weeks (and the session keys built on them).
    """
    holidays = holiday_dates(cal)
    blocked = blocked_dates(cal)
    working = working_dates(cal)
    weeks: list[TeachingWeek] = []
    monday = period.start - timedelta(days=period.start.weekday())
    number = 1
    while monday <= period.end:
        days = tuple(
            day
            for day in (monday + timedelta(days=i) for i in range(7))
            if period.start <= day <= period.end
            and is_teaching_weekday(cal, day, working)
            and day not in holidays
            and day not in blocked
        )
        if days:
            weeks.append(TeachingWeek(period.id, number, monday, days))
        monday += timedelta(days=7)
        number += 1
    return weeks


def window_days(cal: AcademicCalendar, window: Window) -> list[date]:
    """Days of a window on which a control or defense may be held."""
    holidays = holiday_dates(cal)
    blocked = blocked_dates(cal, windowed=True)
    working = working_dates(cal)
    return [
        day
        for day in window.days()
        if is_teaching_weekday(cal, day, working) and day not in holidays and day not in blocked
    ]


def describe(cal: AcademicCalendar) -> str:
    """A human summary of what the calendar says, as ``aulacast calendar check`` prints it.

    Every holiday and added working day names its source, and estimated public
    holidays not yet confirmed are listed apart, so a registrar can check the
    year against the government's decree line by line.
    """
    tz = ZoneInfo(cal.timezone)
    offset = datetime.combine(cal.year_start, time(12), tz).strftime("%z")
    lines = [
        f"Calendar: {cal.name}" + (f" ({cal.source})" if cal.source else ""),
        f"Time zone: {cal.timezone} (UTC{offset[:3]}:{offset[3:]} on {cal.year_start})",
        f"Academic year: {_span(cal.year_start, cal.year_end)}",
        "Teaching days: "
        + " ".join(WEEKDAYS[d].capitalize() for d in sorted(cal.teaching_weekdays))
        + f", {cal.day_start:%H:%M}–{cal.day_end:%H:%M} local, sessions start every {cal.slot_minutes} min",
    ]
    if cal.languages:
        lines.append(f"Languages: {', '.join(cal.languages)}")
    pub = cal.public_holidays
    if pub is not None:
        where = pub.country + (f"-{pub.subdivision}" if pub.subdivision else "")
        names = (
            f"names in {', '.join(pub.languages)}" if pub.languages else "names in the library's own language"
        )
        missing = [lang for lang in cal.languages if lang not in pub.languages]
        if missing:
            names += f" (none in {', '.join(missing)})"
        lines.append(f"Public holidays: {where} from {pub.library}, {names}")
        lines.append(f"  days off moved: {pub.rule}")
        lines += [f"  not applied: {note}" for note in pub.not_applied]
    lines.append(f"Periods ({len(cal.periods)}):")
    for period in cal.periods:
        weeks = teaching_weeks(cal, period)
        ndays = sum(len(w.days) for w in weeks)
        lines.append(
            f"  {period.id}: {period.name}, {_span(period.start, period.end)}: "
            f"{len(weeks)} teaching weeks, {ndays} teaching days"
        )
        lines.append("    weeks: " + " ".join(f"w{w.number:02d}({len(w.days)})" for w in weeks))
    lines.append(f"Holidays ({len(cal.holidays)}), each with where it came from:")
    for h in sorted(cal.holidays, key=lambda h: (h.start, h.end)):
        lines.append(f"  {_when(h.start, h.end)}  {_names(h)}" + (f"  ← {h.source}" if h.source else ""))
    if cal.working_days:
        lines.append(f"Working days added ({len(cal.working_days)}):")
        for w in sorted(cal.working_days, key=lambda w: w.day):
            lines.append(f"  {_when(w.day, w.day)}  {w.name}" + (f"  ← {w.source}" if w.source else ""))
    estimated = sorted((h for h in cal.holidays if h.estimated), key=lambda h: h.start)
    if estimated:
        lines.append(
            f"Estimated, not yet confirmed ({len(estimated)}): check each date in the government's decree, "
            "then confirm it under public_holidays.confirm (docs/calendar.md)"
        )
        lines += [f"  {_when(h.start, h.end)}  {_names(h)}" for h in estimated]
    lines.append(f"Blocked periods ({len(cal.blocked)}):")
    for b in sorted(cal.blocked, key=lambda b: b.start):
        scope = f" [{b.period_id}]" if b.period_id else ""
        lines.append(f"  {_span(b.start, b.end)}  {b.kind.value}: {b.name}{scope}")
    lines.append(f"Windows ({len(cal.windows)}):")
    for w in sorted(cal.windows, key=lambda w: w.start):
        scope = f" [{w.period_id}]" if w.period_id else ""
        lines.append(
            f"  {w.id}: {_span(w.start, w.end)}  {w.kind.value}: {w.name}{scope}, "
            f"{len(window_days(cal, w))} usable days"
        )
    return "\n".join(lines)


def _when(start: date, end: date) -> str:
    """A day with its weekday (moved days off are checked by weekday), or a range."""
    return (
        f"{start.isoformat()} {WEEKDAYS[start.weekday()].capitalize()}" if start == end else _span(start, end)
    )


def _names(h: Holiday) -> str:
    shown = list(dict.fromkeys([h.name] + [n for _, n in h.names]))
    return " / ".join(shown)


def _span(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()} – {end.isoformat()}"


# ------------------------------------------------------------------ parsing


class _CalendarFile:
    """The calendar's own rules over the one typed reader (``fileio.Reader``): periods, days off, windows."""

    def __init__(self, doc: Document) -> None:
        self.r = Reader(doc, error=CalendarError)
        self.file = doc.file

    def bad(self, code: str, path: KeyPath, text: str, **params: Any) -> CalendarError:
        """The error to raise at ``path``, its sentence also with a code and values (``said``) for pages."""
        err = self.r.fail(path, text)
        err.said = Said.of(code, text, **params)  # type: ignore[attr-defined]
        return err  # type: ignore[return-value]

    def span(self, path: KeyPath) -> tuple[date, date]:
        r = self.r
        start = r.day((*path, "start"))
        end = r.day((*path, "end"))
        if end < start:
            raise self.bad("calendar.end_before_start", (*path, "end"), f"{end} is before start {start}",
                           end=end.isoformat(), start=start.isoformat())
        return start, end

    def word(self, path: KeyPath) -> str:
        """A scalar as written, surrounding space removed."""
        return self.r.source(path, self.r.scalar(path)).strip()

    def where(self, path: KeyPath) -> str:
        """``FILE:LINE KEY``: the source of an entry, as ``calendar check`` shows it."""
        return f"{self.file}:{self.r.doc.line(path)} {key_text(path)}"

    def calendar(self) -> AcademicCalendar:
        r = self.r
        if r.doc.data is None:
            err = CalendarError("the file is empty (expected a calendar mapping)", file=self.file, line=1)
            err.said = Said.of("calendar.empty", err.message)  # type: ignore[attr-defined]
            raise err
        top = r.mapping(
            (),
            required=("name", "timezone", "year", "periods"),
            optional=(
                "teaching_days",
                "day_hours",
                "slot_minutes",
                "holidays",
                "blocked",
                "windows",
                "languages",
                "public_holidays",
                "transfers",
                "extra_working_days",
            ),
        )
        name = r.text(("name",))
        timezone = r.text(("timezone",))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.bad("calendar.timezone_unknown", ("timezone",), f"{timezone} is not a known IANA time zone (e.g. Asia/Almaty)",
                           value=str(timezone)) from None

        r.mapping(("year",), ("start", "end"), ())
        year_start, year_end = self.span(("year",))

        weekdays = frozenset({0, 1, 2, 3, 4})
        if "teaching_days" in top:
            weekdays = self.weekdays(("teaching_days",))

        day_start, day_end = time(9), time(20)
        if "day_hours" in top:
            r.mapping(("day_hours",), ("start", "end"), ())
            day_start = r.clock(("day_hours", "start"))
            day_end = r.clock(("day_hours", "end"))
            for which, value in (("start", day_start), ("end", day_end)):
                if value.minute % 5:
                    raise self.bad("calendar.hours_boundary", ("day_hours", which), f"{value:%H:%M} is not on a 5-minute boundary",
                                   value=f"{value:%H:%M}")
            if day_end <= day_start:
                raise self.bad("calendar.hours_order", ("day_hours", "end"), f"{day_end:%H:%M} is not after start {day_start:%H:%M}",
                               end=f"{day_end:%H:%M}", start=f"{day_start:%H:%M}")

        slot = 15
        if "slot_minutes" in top:
            slot = r.integer(("slot_minutes",))
            if slot < 5 or slot > 60 or slot % 5 or 60 % slot:
                raise self.bad("calendar.slot_minutes", ("slot_minutes",),
                               f"{slot} must be a multiple of 5 that divides 60 (5, 10, 15, 20, 30, 60)", value=slot)

        def inside_year(path: KeyPath, start: date, end: date, what: str) -> None:
            if start < year_start or end > year_end:
                shown = _span(start, end)
                raise self.bad("calendar.outside_year", path, f"{what} {shown} is outside the academic year {_span(year_start, year_end)}",
                               dates=shown, start=year_start.isoformat(), end=year_end.isoformat())

        periods: list[Period] = []
        period_items = r.seq(("periods",))
        if not period_items:
            raise self.bad("calendar.no_periods", ("periods",), "at least one academic period is needed")
        for i in range(len(period_items)):
            path: KeyPath = ("periods", i)
            entries = r.mapping(path, ("id", "start", "end"), ("name",))
            pid = r.text((*path, "id"))
            pname = r.text((*path, "name")) if "name" in entries else pid
            start, end = self.span(path)
            inside_year(path, start, end, "period")
            for j, other in enumerate(periods):
                if other.id == pid:
                    raise self.bad("calendar.period_duplicate", (*path, "id"), f"duplicate period id '{pid}' (also periods[{j}])",
                                   id=pid, other=f"periods[{j}]")
                if start <= other.end and other.start <= end:
                    raise self.bad(
                        "calendar.period_overlap", path,
                        f"period '{pid}' {_span(start, end)} overlaps periods[{j}] '{other.id}' {_span(other.start, other.end)}",
                        id=pid, dates=_span(start, end), other=other.id, other_dates=_span(other.start, other.end),
                    )
            periods.append(Period(pid, pname, start, end))
        period_ids = {p.id: p for p in periods}

        languages: tuple[str, ...] = ()
        if "languages" in top:
            languages = self.languages(("languages",))

        holidays: list[Holiday] = []
        working: list[WorkingDay] = []
        public: PublicHolidaySource | None = None
        if "public_holidays" in top:
            public, holidays, working = self.public_holidays(inside_year, year_start, year_end, weekdays, languages)

        for i in range(len(r.seq(("holidays",)))):
            path = ("holidays", i)
            entries = r.mapping(path, ("name",), ("date", "start", "end"))
            hname = r.text((*path, "name"))
            if "date" in entries:
                if "start" in entries or "end" in entries:
                    raise self.bad("calendar.date_or_span", path, "give either 'date' or 'start' and 'end', not both")
                start = end = r.day((*path, "date"))
                where: KeyPath = (*path, "date")
            else:
                for need in ("start", "end"):
                    if need not in entries:
                        raise self.bad("calendar.holiday_missing", path, f"missing key '{need}' (or give 'date' for a one-day holiday)",
                                       key=need)
                start, end = self.span(path)
                where = (*path, "start")
            inside_year(where, start, end, "holiday")
            holidays.append(Holiday(hname, start, end, self.where(path)))

        for i in range(len(r.seq(("transfers",)))):
            path = ("transfers", i)
            r.mapping(path, ("work", "off", "name"), ())
            tname = r.text((*path, "name"))
            work = r.day((*path, "work"))
            off = r.day((*path, "off"))
            inside_year((*path, "work"), work, work, "transfer working day")
            inside_year((*path, "off"), off, off, "transfer day off")
            self.check_work_day((*path, "work"), work, weekdays, holidays, working)
            self.check_day_off((*path, "off"), off, weekdays, holidays, working)
            where_text = self.where(path)
            holidays.append(Holiday(tname, off, off, f"{where_text}: transfer, {_weekday(work)} worked instead"))
            working.append(WorkingDay(work, tname, f"{where_text}: transfer, {_weekday(off)} off instead"))

        for i in range(len(r.seq(("extra_working_days",)))):
            path = ("extra_working_days", i)
            r.mapping(path, ("date", "name"), ())
            ename = r.text((*path, "name"))
            day = r.day((*path, "date"))
            inside_year((*path, "date"), day, day, "working day")
            self.check_work_day((*path, "date"), day, weekdays, holidays, working)
            working.append(WorkingDay(day, ename, self.where(path)))

        def period_ref(path: KeyPath, entries: dict[str, Any], start: date, end: date) -> str | None:
            if "period" not in entries:
                return None
            ref = r.text((*path, "period"))
            if ref not in period_ids:
                raise self.bad("calendar.period_unknown", (*path, "period"), f"unknown period '{ref}' (known: {', '.join(period_ids)})",
                               id=str(ref), known=", ".join(period_ids))
            p = period_ids[ref]
            if start < p.start or end > p.end:
                raise self.bad("calendar.not_in_period", (*path, "period"),
                               f"{_span(start, end)} is not inside period '{ref}' {_span(p.start, p.end)}",
                               dates=_span(start, end), id=str(ref), period_dates=_span(p.start, p.end))
            return ref

        blocked: list[BlockedPeriod] = []
        for i in range(len(r.seq(("blocked",)))):
            path = ("blocked", i)
            entries = r.mapping(path, ("kind", "name", "start", "end"), ("id", "period"))
            kind = self.enum((*path, "kind"), BlockKind)
            bname = r.text((*path, "name"))
            start, end = self.span(path)
            inside_year(path, start, end, "blocked period")
            bid = r.text((*path, "id")) if "id" in entries else ""
            blocked.append(BlockedPeriod(kind, bname, start, end, bid, period_ref(path, entries, start, end)))

        windows: list[Window] = []
        for i in range(len(r.seq(("windows",)))):
            path = ("windows", i)
            entries = r.mapping(path, ("id", "kind", "start", "end"), ("name", "period"))
            wid = r.text((*path, "id"))
            if any(w.id == wid for w in windows):
                raise self.bad("calendar.window_duplicate", (*path, "id"), f"duplicate window id '{wid}'", id=wid)
            wkind = self.enum((*path, "kind"), WindowKind)
            wname = r.text((*path, "name")) if "name" in entries else wid
            start, end = self.span(path)
            inside_year(path, start, end, "window")
            windows.append(Window(wid, wkind, wname, start, end, period_ref(path, entries, start, end)))

        return AcademicCalendar(
            name=name,
            timezone=timezone,
            year_start=year_start,
            year_end=year_end,
            periods=tuple(periods),
            holidays=tuple(holidays),
            blocked=tuple(blocked),
            windows=tuple(windows),
            teaching_weekdays=weekdays,
            working_days=tuple(working),
            public_holidays=public,
            languages=languages,
            day_start=day_start,
            day_end=day_end,
            slot_minutes=slot,
            source=self.file,
        )

    def languages(self, path: KeyPath) -> tuple[str, ...]:
        out: list[str] = []
        for i in range(len(self.r.seq(path))):
            value = self.word((*path, i))
            if not re.fullmatch(r"[a-z]{2,3}", value):
                raise self.bad("calendar.language_code", (*path, i), f"{value} is not a language code (ISO 639-1, e.g. kk, ru, en)",
                               value=value)
            if value not in out:
                out.append(value)
        return tuple(out)

    def public_holidays(
        self,
        inside_year: Callable[[KeyPath, date, date, str], None],
        year_start: date,
        year_end: date,
        weekdays: frozenset[int],
        languages: tuple[str, ...],
    ) -> tuple[PublicHolidaySource, list[Holiday], list[WorkingDay]]:
        """The country's days off for the year, with the file's confirmations and drops applied."""
        r = self.r
        key: KeyPath = ("public_holidays",)
        entries = r.mapping(key, ("country",), ("subdivision", "confirm", "drop"))
        country = r.text((*key, "country"))
        subdivision = r.text((*key, "subdivision")) if "subdivision" in entries else None
        try:
            year = country_year(
                country, subdivision, year_start, year_end, teaching_weekdays=weekdays, languages=languages
            )
        except UnknownCountry as exc:
            raise self.bad("calendar.country_unknown", (*key, "country"), str(exc), country=country) from None
        except UnknownSubdivision as exc:
            raise self.bad("calendar.subdivision_unknown", (*key, "subdivision"), str(exc), country=country,
                           subdivision=subdivision) from None
        label = year.country + (f"-{year.subdivision}" if year.subdivision else "")
        by_day = {d.day: d for d in year.days}

        confirmed: dict[date, tuple[date, str]] = {}
        for i in range(len(r.seq((*key, "confirm")))):
            item: KeyPath = (*key, "confirm", i)
            fields = r.mapping(item, ("estimated",), ("date",))
            estimated = r.day((*item, "estimated"))
            found = by_day.get(estimated)
            if found is None or not found.estimated:
                known = ", ".join(f"{d.day} {d.name}" for d in year.days if d.estimated) or "none"
                raise self.bad(
                    "calendar.not_estimated",
                    (*item, "estimated"),
                    f"{estimated} is not an estimated day of the {label} public holidays in this "
                    f"academic year (estimated: {known})",
                    day=estimated.isoformat(), country=label, known=known,
                )
            if estimated in confirmed:
                raise self.bad(
                    "calendar.confirmed_twice", (*item, "estimated"),
                    f"{estimated} is confirmed twice (also {confirmed[estimated][1]})",
                    day=estimated.isoformat(), where=confirmed[estimated][1],
                )
            actual = estimated
            if "date" in fields:
                actual = r.day((*item, "date"))
                inside_year((*item, "date"), actual, actual, "confirmed date")
            confirmed[estimated] = (actual, self.where(item))

        dropped: dict[date, str] = {}
        for i in range(len(r.seq((*key, "drop")))):
            item = (*key, "drop", i)
            r.mapping(item, ("date", "reason"), ())
            day = r.day((*item, "date"))
            reason = r.text((*item, "reason"))
            if day not in by_day:
                raise self.bad(
                    "calendar.not_a_holiday", (*item, "date"),
                    f"{day} is not a day of the {label} public holidays in this academic year",
                    day=day.isoformat(), country=label,
                )
            if day in dropped:
                raise self.bad("calendar.dropped_twice", (*item, "date"), f"{day} is dropped twice", day=day.isoformat())
            dropped[day] = f"{_weekday(day)} {by_day[day].name}: dropped by {self.where(item)} ({reason})"

        holidays: list[Holiday] = []
        for d in year.days:
            if d.day in dropped:
                continue
            source = _public_source(label, d)
            day, estimated = d.day, d.estimated
            if day in confirmed:
                actual, where = confirmed[day]
                source += (
                    f", date confirmed by {where}"
                    if actual == day
                    else f", {day} estimated, {actual} per {where}"
                )
                day, estimated = actual, False
            holidays.append(Holiday(d.name, day, day, source, d.names, estimated))
        working = [
            WorkingDay(
                w.day,
                w.names[0][1],
                f"public holidays {label}: decree transfer, {_weekday(w.off)} off instead",
            )
            for w in year.work_days
            if w.off not in dropped
        ]
        source = PublicHolidaySource(
            year.country,
            year.subdivision,
            LIBRARY,
            year.rule,
            year.languages,
            year.not_applied + tuple(dropped.values()),
        )
        return source, holidays, working

    def check_work_day(
        self,
        path: KeyPath,
        day: date,
        weekdays: frozenset[int],
        holidays: list[Holiday],
        working: list[WorkingDay],
    ) -> None:
        """A day made a working day must be a day off by its weekday only, not a holiday nor taught already."""
        off = next((h for h in holidays if h.start <= day <= h.end), None)
        if off is not None:
            raise self.bad(
                "calendar.work_on_holiday", path,
                f"{_weekday(day)} is a holiday here ({off.name}, {off.source}); it cannot become a working day",
                day=day.isoformat(), name=off.name,
            )
        if day.weekday() in weekdays:
            text = f"{_weekday(day)} is already a working day (teaching_days: {_weekdays(weekdays)})"
            if day.weekday() >= 5:
                raise self.bad("calendar.work_on_teaching_day_weekend", path,
                               text + "; a decree's working weekend day concerns institutions that do not teach on it",
                               day=day.isoformat(), days=_weekdays(weekdays))  # fmt: skip
            raise self.bad("calendar.work_on_teaching_day", path, text, day=day.isoformat(), days=_weekdays(weekdays))
        made = next((w for w in working if w.day == day), None)
        if made is not None:
            raise self.bad("calendar.work_twice", path, f"{_weekday(day)} is already a working day ({made.name}, {made.source})",
                           day=day.isoformat(), name=made.name)

    def check_day_off(
        self,
        path: KeyPath,
        day: date,
        weekdays: frozenset[int],
        holidays: list[Holiday],
        working: list[WorkingDay],
    ) -> None:
        """A transfer's day off must be a teaching day that is not off already."""
        off = next((h for h in holidays if h.start <= day <= h.end), None)
        if off is not None:
            raise self.bad("calendar.off_on_holiday", path, f"{_weekday(day)} is already off ({off.name}, {off.source})",
                           day=day.isoformat(), name=off.name)
        made = next((w for w in working if w.day == day), None)
        if made is not None:
            raise self.bad("calendar.off_on_made_work_day", path,
                           f"{_weekday(day)} is a working day made by {made.source}; it cannot also be off",
                           day=day.isoformat(), name=made.name)
        if day.weekday() not in weekdays:
            raise self.bad(
                "calendar.off_on_free_day", path,
                f"{_weekday(day)} is already off (no teaching on {WEEKDAYS[day.weekday()]}: "
                f"teaching_days are {_weekdays(weekdays)})",
                day=day.isoformat(), days=_weekdays(weekdays),
            )

    def weekdays(self, path: KeyPath) -> frozenset[int]:
        days: set[int] = set()
        items = self.r.seq(path)
        if not items:
            raise self.bad("calendar.no_teaching_days", path, "at least one teaching day is needed")
        for i in range(len(items)):
            written = self.word((*path, i))
            if written.lower()[:3] not in WEEKDAYS:
                raise self.bad("calendar.not_weekday", (*path, i), f"{written} is not a weekday (mon, tue, ..., sun)", value=written)
            days.add(WEEKDAYS.index(written.lower()[:3]))
        return frozenset(days)

    def enum(self, path: KeyPath, kind: type[T]) -> T:
        value = self.r.text(path)
        try:
            return kind(value)  # type: ignore[call-arg]
        except ValueError:
            allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
            raise self.bad("calendar.not_one_of", path, f"{value} is not one of: {allowed}", value=value, allowed=allowed) from None


def _weekday(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()].capitalize()} {day.isoformat()}"


def _weekdays(days: frozenset[int]) -> str:
    return ", ".join(WEEKDAYS[d] for d in sorted(days))


def _public_source(label: str, day: PublicDay) -> str:
    source = f"public holidays {label}"
    if day.kind == MOVED:
        source += ": day off moved from a rest day"
    elif day.kind == DECREE and day.work_day is not None:
        source += f": decree transfer, {_weekday(day.work_day)} worked instead"
    if day.estimated:
        source += ", lunar date ESTIMATED"
    return source


def with_entries(
    cal: AcademicCalendar, holidays: tuple[Holiday, ...] = (), blocked: tuple[BlockedPeriod, ...] = ()
) -> AcademicCalendar:
    """The calendar with extra holidays and blocked periods appended (e.g. from an .ics file)."""
    return replace(cal, holidays=cal.holidays + tuple(holidays), blocked=cal.blocked + tuple(blocked))


def iter_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
