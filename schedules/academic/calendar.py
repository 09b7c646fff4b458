"""Academic calendar in YAML: parse, validate, expand and describe.

    cal = load_calendar("examples/calendar-kz-2026-2027.yaml")
    print(describe(cal))
    for week in teaching_weeks(cal, cal.periods[0]): ...

Parsing walks PyYAML's node graph (``yaml.compose``) instead of loaded Python
values, so every error can name the file, the line and the key path
(``calendar.yaml:14: periods[1].end: 2026-13-01 is not a date``). Scalars are
read from their source text, which also avoids YAML 1.1 surprises such as
``9:30`` turning into the integer 570.
"""

from __future__ import annotations

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
    TeachingWeek,
    Window,
    WindowKind,
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
    weeks: list[TeachingWeek] = []
    monday = period.start - timedelta(days=period.start.weekday())
    number = 1
    while monday <= period.end:
        days = tuple(
            day
            for day in (monday + timedelta(days=i) for i in range(7))
            if period.start <= day <= period.end
            and day.weekday() in cal.teaching_weekdays
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
    return [
        day
        for day in window.days()
        if day.weekday() in cal.teaching_weekdays and day not in holidays and day not in blocked
    ]


def describe(cal: AcademicCalendar) -> str:
    """A human summary of what the calendar says, as ``aulacast calendar check`` prints it."""
    tz = ZoneInfo(cal.timezone)
    offset = datetime.combine(cal.year_start, time(12), tz).strftime("%z")
    lines = [
        f"Calendar: {cal.name}" + (f" ({cal.source})" if cal.source else ""),
        f"Time zone: {cal.timezone} (UTC{offset[:3]}:{offset[3:]} on {cal.year_start})",
        f"Academic year: {_span(cal.year_start, cal.year_end)}",
        "Teaching days: "
        + " ".join(WEEKDAYS[d].capitalize() for d in sorted(cal.teaching_weekdays))
        + f", {cal.day_start:%H:%M}–{cal.day_end:%H:%M} local, sessions start every {cal.slot_minutes} min",
        f"Periods ({len(cal.periods)}):",
    ]
    for period in cal.periods:
        weeks = teaching_weeks(cal, period)
        ndays = sum(len(w.days) for w in weeks)
        lines.append(
            f"  {period.id}: {period.name}, {_span(period.start, period.end)}: "
            f"{len(weeks)} teaching weeks, {ndays} teaching days"
        )
        lines.append("    weeks: " + " ".join(f"w{w.number:02d}({len(w.days)})" for w in weeks))
    lines.append(f"Holidays ({len(cal.holidays)}):")
    lines += [f"  {_span(h.start, h.end)}  {h.name}" for h in sorted(cal.holidays, key=lambda h: h.start)]
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
            optional=("teaching_days", "day_hours", "slot_minutes", "holidays", "blocked", "windows"),
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

        holidays: list[Holiday] = []
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
            holidays.append(Holiday(hname, start, end))

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
            day_start=day_start,
            day_end=day_end,
            slot_minutes=slot,
            source=self.file,
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
