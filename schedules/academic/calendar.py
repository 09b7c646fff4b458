"""Academic calendar in YAML: parse, validate, expand and describe.

    cal = load_calendar("examples/calendar-kz-2026-2027.yaml")
    print(describe(cal))
    for week in teaching_weeks(cal, cal.periods[0]): ...

Parsing walks PyYAML's node graph (``yaml.compose``) instead of loaded Python
values, so every error can name the file, the line and the key path
(``calendar.yaml:14: periods[1].end: 2026-13-01 is not a date``). Scalars are
read from their source text, which also avoids YAML 1.1 surprises such as
``9:30`` turning into the integer 570.

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
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

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
from schedules.errors import CalendarError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
T = TypeVar("T")


def load_calendar(path: str | Path) -> AcademicCalendar:
    """Read and validate a calendar file; raise CalendarError naming file, line and key."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalendarError("no such file", file=name) from None
    except UnicodeDecodeError as exc:
        raise CalendarError(f"not UTF-8 text (byte {exc.start})", file=name) from None
    except OSError as exc:
        raise CalendarError(f"cannot read: {exc.strerror}", file=name) from None
    return parse_calendar(text, file=name)


def parse_calendar(text: str, *, file: str = "<calendar>") -> AcademicCalendar:
    """Parse calendar YAML text; ``file`` is only used in error messages."""
    return _Parser(file).calendar(text)


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

Entry = tuple[yaml.Node, yaml.Node]  # (key node, value node)


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: yaml.Node | None, key: str, message: str) -> CalendarError:
        line = node.start_mark.line + 1 if node is not None else None
        return CalendarError(message, file=self.file, line=line, key=key)

    # -- node readers

    def mapping(
        self, node: yaml.Node, key: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Entry]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, f"expected a mapping, found {_kind(node)}")
        allowed = required + optional
        out: dict[str, Entry] = {}
        for knode, vnode in node.value:
            name = knode.value if isinstance(knode, yaml.ScalarNode) else None
            path = f"{key}.{name}" if key else str(name)
            if name is None or name not in allowed:
                raise self.fail(knode, path, f"unknown key (expected one of: {', '.join(allowed)})")
            if name in out:
                raise self.fail(
                    knode, path, f"duplicate key (first given on line {out[name][0].start_mark.line + 1})"
                )
            out[name] = (knode, vnode)
        for name in required:
            if name not in out:
                raise self.fail(node, key or name, f"missing key '{name}'" if key else "missing key")
        return out

    def seq(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, f"expected a list, found {_kind(node)}")
        return list(node.value)

    def scalar(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            raise self.fail(node, key, f"expected a value, found {_kind(node)}")
        return str(node.value).strip()

    def text(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key)
        if not value:
            raise self.fail(node, key, "must not be empty")
        return value

    def day(self, node: yaml.Node, key: str) -> date:
        value = self.scalar(node, key)
        return self.convert(node, key, value, date.fromisoformat, "is not a date (expected YYYY-MM-DD)")

    def clock(self, node: yaml.Node, key: str) -> time:
        value = self.scalar(node, key)
        parsed = self.convert(node, key, value, _parse_hhmm, "is not a time of day (expected HH:MM)")
        return parsed

    def integer(self, node: yaml.Node, key: str) -> int:
        value = self.scalar(node, key)
        return self.convert(node, key, value, int, "is not a whole number")

    def convert(self, node: yaml.Node, key: str, value: str, fn: Callable[[str], T], what: str) -> T:
        try:
            return fn(value)
        except ValueError:
            raise self.fail(node, key, f"{value} {what}") from None

    def span(self, entries: dict[str, Entry], key: str) -> tuple[date, date]:
        start = self.day(entries["start"][1], f"{key}.start")
        end = self.day(entries["end"][1], f"{key}.end")
        if end < start:
            raise self.fail(entries["end"][1], f"{key}.end", f"{end} is before start {start}")
        return start, end

    # -- the document

    def calendar(self, text: str) -> AcademicCalendar:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "malformed"
            raise CalendarError(f"malformed YAML: {problem}", file=self.file, line=line) from None
        except yaml.YAMLError as exc:
            raise CalendarError(f"malformed YAML: {exc}", file=self.file) from None
        if root is None:
            raise CalendarError("the file is empty (expected a calendar mapping)", file=self.file, line=1)
        top = self.mapping(
            root,
            "",
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
        name = self.text(top["name"][1], "name")
        tz_node = top["timezone"][1]
        timezone = self.text(tz_node, "timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                tz_node, "timezone", f"{timezone} is not a known IANA time zone (e.g. Asia/Almaty)"
            ) from None

        year = self.mapping(top["year"][1], "year", ("start", "end"), ())
        year_start, year_end = self.span(year, "year")

        weekdays = frozenset({0, 1, 2, 3, 4})
        if "teaching_days" in top:
            weekdays = self.weekdays(top["teaching_days"][1])

        day_start, day_end = time(9), time(20)
        if "day_hours" in top:
            hours = self.mapping(top["day_hours"][1], "day_hours", ("start", "end"), ())
            day_start = self.clock(hours["start"][1], "day_hours.start")
            day_end = self.clock(hours["end"][1], "day_hours.end")
            for which, value, node in (
                ("start", day_start, hours["start"][1]),
                ("end", day_end, hours["end"][1]),
            ):
                if value.minute % 5:
                    raise self.fail(
                        node, f"day_hours.{which}", f"{value:%H:%M} is not on a 5-minute boundary"
                    )
            if day_end <= day_start:
                raise self.fail(
                    hours["end"][1], "day_hours.end", f"{day_end:%H:%M} is not after start {day_start:%H:%M}"
                )

        slot = 15
        if "slot_minutes" in top:
            node = top["slot_minutes"][1]
            slot = self.integer(node, "slot_minutes")
            if slot < 5 or slot > 60 or slot % 5 or 60 % slot:
                raise self.fail(
                    node,
                    "slot_minutes",
                    f"{slot} must be a multiple of 5 that divides 60 (5, 10, 15, 20, 30, 60)",
                )

        def inside_year(node: yaml.Node, key: str, start: date, end: date, what: str) -> None:
            if start < year_start or end > year_end:
                shown = _span(start, end)
                raise self.fail(
                    node, key, f"{what} {shown} is outside the academic year {_span(year_start, year_end)}"
                )

        periods: list[Period] = []
        period_nodes: list[yaml.Node] = []
        period_items = self.seq(top["periods"][1], "periods")
        if not period_items:
            raise self.fail(top["periods"][1], "periods", "at least one academic period is needed")
        for i, node in enumerate(period_items):
            key = f"periods[{i}]"
            entries = self.mapping(node, key, ("id", "start", "end"), ("name",))
            pid = self.text(entries["id"][1], f"{key}.id")
            pname = self.text(entries["name"][1], f"{key}.name") if "name" in entries else pid
            start, end = self.span(entries, key)
            inside_year(node, key, start, end, "period")
            for j, other in enumerate(periods):
                if other.id == pid:
                    raise self.fail(
                        entries["id"][1], f"{key}.id", f"duplicate period id '{pid}' (also periods[{j}])"
                    )
                if start <= other.end and other.start <= end:
                    raise self.fail(
                        node,
                        key,
                        f"period '{pid}' {_span(start, end)} overlaps periods[{j}] '{other.id}' {_span(other.start, other.end)}",
                    )
            periods.append(Period(pid, pname, start, end))
            period_nodes.append(node)
        period_ids = {p.id: p for p in periods}

        languages: tuple[str, ...] = ()
        if "languages" in top:
            languages = self.languages(top["languages"][1])

        holidays: list[Holiday] = []
        working: list[WorkingDay] = []
        public: PublicHolidaySource | None = None
        if "public_holidays" in top:
            public, holidays, working = self.public_holidays(
                top["public_holidays"][1], inside_year, year_start, year_end, weekdays, languages
            )

        for i, node in enumerate(self.seq(top["holidays"][1], "holidays") if "holidays" in top else []):
            key = f"holidays[{i}]"
            entries = self.mapping(node, key, ("name",), ("date", "start", "end"))
            hname = self.text(entries["name"][1], f"{key}.name")
            if "date" in entries:
                if "start" in entries or "end" in entries:
                    raise self.fail(node, key, "give either 'date' or 'start' and 'end', not both")
                start = end = self.day(entries["date"][1], f"{key}.date")
                where, wkey = entries["date"][1], f"{key}.date"
            else:
                for need in ("start", "end"):
                    if need not in entries:
                        raise self.fail(
                            node, key, f"missing key '{need}' (or give 'date' for a one-day holiday)"
                        )
                start, end = self.span(entries, key)
                where, wkey = entries["start"][1], f"{key}.start"
            inside_year(where, wkey, start, end, "holiday")
            holidays.append(Holiday(hname, start, end, self.where(node, key)))

        for i, node in enumerate(self.seq(top["transfers"][1], "transfers") if "transfers" in top else []):
            key = f"transfers[{i}]"
            entries = self.mapping(node, key, ("work", "off", "name"), ())
            tname = self.text(entries["name"][1], f"{key}.name")
            work = self.day(entries["work"][1], f"{key}.work")
            off = self.day(entries["off"][1], f"{key}.off")
            inside_year(entries["work"][1], f"{key}.work", work, work, "transfer working day")
            inside_year(entries["off"][1], f"{key}.off", off, off, "transfer day off")
            self.check_work_day(entries["work"][1], f"{key}.work", work, weekdays, holidays, working)
            self.check_day_off(entries["off"][1], f"{key}.off", off, weekdays, holidays, working)
            where = self.where(node, key)
            holidays.append(Holiday(tname, off, off, f"{where}: transfer, {_weekday(work)} worked instead"))
            working.append(WorkingDay(work, tname, f"{where}: transfer, {_weekday(off)} off instead"))

        extra_items = (
            self.seq(top["extra_working_days"][1], "extra_working_days")
            if "extra_working_days" in top
            else []
        )
        for i, node in enumerate(extra_items):
            key = f"extra_working_days[{i}]"
            entries = self.mapping(node, key, ("date", "name"), ())
            ename = self.text(entries["name"][1], f"{key}.name")
            day = self.day(entries["date"][1], f"{key}.date")
            inside_year(entries["date"][1], f"{key}.date", day, day, "working day")
            self.check_work_day(entries["date"][1], f"{key}.date", day, weekdays, holidays, working)
            working.append(WorkingDay(day, ename, self.where(node, key)))

        def period_ref(entries: dict[str, Entry], key: str, start: date, end: date) -> str | None:
            if "period" not in entries:
                return None
            node = entries["period"][1]
            ref = self.text(node, f"{key}.period")
            if ref not in period_ids:
                raise self.fail(
                    node, f"{key}.period", f"unknown period '{ref}' (known: {', '.join(period_ids)})"
                )
            p = period_ids[ref]
            if start < p.start or end > p.end:
                raise self.fail(
                    node,
                    f"{key}.period",
                    f"{_span(start, end)} is not inside period '{ref}' {_span(p.start, p.end)}",
                )
            return ref

        blocked: list[BlockedPeriod] = []
        for i, node in enumerate(self.seq(top["blocked"][1], "blocked") if "blocked" in top else []):
            key = f"blocked[{i}]"
            entries = self.mapping(node, key, ("kind", "name", "start", "end"), ("id", "period"))
            kind = self.enum(entries["kind"][1], f"{key}.kind", BlockKind)
            bname = self.text(entries["name"][1], f"{key}.name")
            start, end = self.span(entries, key)
            inside_year(node, key, start, end, "blocked period")
            bid = self.text(entries["id"][1], f"{key}.id") if "id" in entries else ""
            blocked.append(BlockedPeriod(kind, bname, start, end, bid, period_ref(entries, key, start, end)))

        windows: list[Window] = []
        for i, node in enumerate(self.seq(top["windows"][1], "windows") if "windows" in top else []):
            key = f"windows[{i}]"
            entries = self.mapping(node, key, ("id", "kind", "start", "end"), ("name", "period"))
            wid = self.text(entries["id"][1], f"{key}.id")
            if any(w.id == wid for w in windows):
                raise self.fail(entries["id"][1], f"{key}.id", f"duplicate window id '{wid}'")
            kind = self.enum(entries["kind"][1], f"{key}.kind", WindowKind)
            wname = self.text(entries["name"][1], f"{key}.name") if "name" in entries else wid
            start, end = self.span(entries, key)
            inside_year(node, key, start, end, "window")
            windows.append(Window(wid, kind, wname, start, end, period_ref(entries, key, start, end)))

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

    def where(self, node: yaml.Node, key: str) -> str:
        """``FILE:LINE KEY``: the source of an entry, as ``calendar check`` shows it."""
        return f"{self.file}:{node.start_mark.line + 1} {key}"

    def languages(self, node: yaml.Node) -> tuple[str, ...]:
        out: list[str] = []
        for i, item in enumerate(self.seq(node, "languages")):
            value = self.scalar(item, f"languages[{i}]")
            if not re.fullmatch(r"[a-z]{2,3}", value):
                raise self.fail(
                    item, f"languages[{i}]", f"{value} is not a language code (ISO 639-1, e.g. kk, ru, en)"
                )
            if value not in out:
                out.append(value)
        return tuple(out)

    def public_holidays(
        self,
        node: yaml.Node,
        inside_year: Callable[[yaml.Node, str, date, date, str], None],
        year_start: date,
        year_end: date,
        weekdays: frozenset[int],
        languages: tuple[str, ...],
    ) -> tuple[PublicHolidaySource, list[Holiday], list[WorkingDay]]:
        """The country's days off for the year, with the file's confirmations and drops applied."""
        key = "public_holidays"
        entries = self.mapping(node, key, ("country",), ("subdivision", "confirm", "drop"))
        cnode = entries["country"][1]
        country = self.text(cnode, f"{key}.country")
        snode = entries["subdivision"][1] if "subdivision" in entries else None
        subdivision = self.text(snode, f"{key}.subdivision") if snode is not None else None
        try:
            year = country_year(
                country, subdivision, year_start, year_end, teaching_weekdays=weekdays, languages=languages
            )
        except UnknownCountry as exc:
            raise self.fail(cnode, f"{key}.country", str(exc)) from None
        except UnknownSubdivision as exc:
            raise self.fail(snode, f"{key}.subdivision", str(exc)) from None
        label = year.country + (f"-{year.subdivision}" if year.subdivision else "")
        by_day = {d.day: d for d in year.days}

        confirmed: dict[date, tuple[date, str]] = {}
        confirm_items = self.seq(entries["confirm"][1], f"{key}.confirm") if "confirm" in entries else []
        for i, item in enumerate(confirm_items):
            ikey = f"{key}.confirm[{i}]"
            fields = self.mapping(item, ikey, ("estimated",), ("date",))
            enode = fields["estimated"][1]
            estimated = self.day(enode, f"{ikey}.estimated")
            found = by_day.get(estimated)
            if found is None or not found.estimated:
                known = ", ".join(f"{d.day} {d.name}" for d in year.days if d.estimated) or "none"
                raise self.fail(
                    enode,
                    f"{ikey}.estimated",
                    f"{estimated} is not an estimated day of the {label} public holidays in this "
                    f"academic year (estimated: {known})",
                )
            if estimated in confirmed:
                raise self.fail(
                    enode,
                    f"{ikey}.estimated",
                    f"{estimated} is confirmed twice (also {confirmed[estimated][1]})",
                )
            actual = estimated
            if "date" in fields:
                actual = self.day(fields["date"][1], f"{ikey}.date")
                inside_year(fields["date"][1], f"{ikey}.date", actual, actual, "confirmed date")
            confirmed[estimated] = (actual, self.where(item, ikey))

        dropped: dict[date, str] = {}
        drop_items = self.seq(entries["drop"][1], f"{key}.drop") if "drop" in entries else []
        for i, item in enumerate(drop_items):
            ikey = f"{key}.drop[{i}]"
            fields = self.mapping(item, ikey, ("date", "reason"), ())
            dnode = fields["date"][1]
            day = self.day(dnode, f"{ikey}.date")
            reason = self.text(fields["reason"][1], f"{ikey}.reason")
            if day not in by_day:
                raise self.fail(
                    dnode,
                    f"{ikey}.date",
                    f"{day} is not a day of the {label} public holidays in this academic year",
                )
            if day in dropped:
                raise self.fail(dnode, f"{ikey}.date", f"{day} is dropped twice")
            dropped[day] = (
                f"{_weekday(day)} {by_day[day].name}: dropped by {self.where(item, ikey)} ({reason})"
            )

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
        node: yaml.Node,
        key: str,
        day: date,
        weekdays: frozenset[int],
        holidays: list[Holiday],
        working: list[WorkingDay],
    ) -> None:
        """A day made a working day must be a day off by its weekday only, not a holiday nor taught already."""
        off = next((h for h in holidays if h.start <= day <= h.end), None)
        if off is not None:
            raise self.fail(
                node,
                key,
                f"{_weekday(day)} is a holiday here ({off.name}, {off.source}); it cannot become a working day",
            )
        if day.weekday() in weekdays:
            hint = (
                "; a decree's working weekend day concerns institutions that do not teach on it"
                if day.weekday() >= 5
                else ""
            )
            raise self.fail(
                node,
                key,
                f"{_weekday(day)} is already a working day (teaching_days: {_weekdays(weekdays)}){hint}",
            )
        made = next((w for w in working if w.day == day), None)
        if made is not None:
            raise self.fail(
                node, key, f"{_weekday(day)} is already a working day ({made.name}, {made.source})"
            )

    def check_day_off(
        self,
        node: yaml.Node,
        key: str,
        day: date,
        weekdays: frozenset[int],
        holidays: list[Holiday],
        working: list[WorkingDay],
    ) -> None:
        """A transfer's day off must be a teaching day that is not off already."""
        off = next((h for h in holidays if h.start <= day <= h.end), None)
        if off is not None:
            raise self.fail(node, key, f"{_weekday(day)} is already off ({off.name}, {off.source})")
        made = next((w for w in working if w.day == day), None)
        if made is not None:
            raise self.fail(
                node, key, f"{_weekday(day)} is a working day made by {made.source}; it cannot also be off"
            )
        if day.weekday() not in weekdays:
            raise self.fail(
                node,
                key,
                f"{_weekday(day)} is already off (no teaching on {WEEKDAYS[day.weekday()]}: "
                f"teaching_days are {_weekdays(weekdays)})",
            )

    def weekdays(self, node: yaml.Node) -> frozenset[int]:
        days: set[int] = set()
        items = self.seq(node, "teaching_days")
        if not items:
            raise self.fail(node, "teaching_days", "at least one teaching day is needed")
        for i, item in enumerate(items):
            value = self.scalar(item, f"teaching_days[{i}]").lower()[:3]
            if value not in WEEKDAYS:
                raise self.fail(
                    item, f"teaching_days[{i}]", f"{item.value} is not a weekday (mon, tue, ..., sun)"
                )
            days.add(WEEKDAYS.index(value))
        return frozenset(days)

    def enum(self, node: yaml.Node, key: str, kind: type[T]) -> T:
        value = self.scalar(node, key)
        try:
            return kind(value)  # type: ignore[call-arg]
        except ValueError:
            allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
            raise self.fail(node, key, f"{value} is not one of: {allowed}") from None


def _parse_hhmm(value: str) -> time:
    hh, sep, mm = value.partition(":")
    if not sep or not hh.isdigit() or len(mm) != 2 or not mm.isdigit():
        raise ValueError(value)
    return time(int(hh), int(mm))


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


def _kind(node: yaml.Node | None) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return "nothing"
    return f"'{node.value}'"


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
