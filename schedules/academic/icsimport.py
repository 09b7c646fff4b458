"""Holidays and blocked periods from an iCalendar (.ics) file, such as a public-holiday feed.

    entries = read_ics("kz-holidays.ics", calendar=cal)
    cal = with_entries(cal, entries.holidays, entries.blocked)

Each VEVENT becomes a holiday, or a blocked period when its CATEGORIES say
so: ``EXAM-SESSION`` (or ``EXAM_SESSION``), ``PRACTICE``, ``BLOCKED``;
``HOLIDAY`` or no category means a holiday. Events with a time of day block the
whole days they touch in the calendar's time zone. Yearly (or any) RRULEs are
expanded inside the academic year; events wholly outside the year are skipped
and listed, so a multi-year public feed can be used as it is. Errors name the
file, the line of the event or property, and the property.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar

from schedules.academic.calendar import with_entries
from schedules.academic.model import AcademicCalendar, BlockedPeriod, BlockKind, Holiday
from schedules.errors import CalendarError

CATEGORY_KINDS: dict[str, BlockKind | None] = {
    "HOLIDAY": None,
    "EXAM-SESSION": BlockKind.EXAM_SESSION,
    "EXAM_SESSION": BlockKind.EXAM_SESSION,
    "PRACTICE": BlockKind.PRACTICE,
    "BLOCKED": BlockKind.OTHER,
}


@dataclass(frozen=True, slots=True)
class IcsEntries:
    """What an .ics file adds to a calendar; ``skipped`` names events outside the academic year."""

    holidays: tuple[Holiday, ...]
    blocked: tuple[BlockedPeriod, ...]
    skipped: tuple[str, ...] = ()


def read_ics(path: str | Path, *, calendar: AcademicCalendar) -> IcsEntries:
    """Read an .ics file for ``calendar``'s year; raise CalendarError naming file, line and property."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CalendarError("no such file", file=name) from None
    except OSError as exc:
        raise CalendarError(f"cannot read: {exc.strerror}", file=name) from None
    return parse_ics(data, calendar=calendar, file=name)


def merge_ics(calendar: AcademicCalendar, path: str | Path) -> AcademicCalendar:
    """The calendar with the holidays and blocked periods of an .ics file added."""
    entries = read_ics(path, calendar=calendar)
    return with_entries(calendar, entries.holidays, entries.blocked)


def parse_ics(data: bytes | str, *, calendar: AcademicCalendar, file: str = "<ics>") -> IcsEntries:
    """Parse .ics content; ``file`` is only used in messages."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    lines = text.splitlines()
    if not any(line.strip().upper() == "BEGIN:VCALENDAR" for line in lines):
        raise CalendarError("not an iCalendar file (no BEGIN:VCALENDAR line)", file=file, line=1)
    try:
        parsed = Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CalendarError(f"malformed iCalendar: {first}", file=file, line=_bad_line(lines)) from None
    event_lines = [i + 1 for i, line in enumerate(lines) if line.strip().upper() == "BEGIN:VEVENT"]
    tz = ZoneInfo(calendar.timezone)
    holidays: list[Holiday] = []
    blocked: list[BlockedPeriod] = []
    skipped: list[str] = []

    for n, ev in enumerate(parsed.walk("VEVENT")):
        line0 = event_lines[n] if n < len(event_lines) else None

        def fail(prop: str, message: str, n: int = n, line0: int | None = line0) -> CalendarError:
            return CalendarError(
                message, file=file, line=_prop_line(lines, line0, prop), key=f"VEVENT[{n}].{prop}"
            )

        errors = getattr(ev, "errors", None)
        if errors:
            prop, message = errors[0]
            if prop is None:  # a line that is not ``NAME[;PARAMS]:VALUE``
                bad = _bad_line(lines, line0 or 1)
                shown = lines[bad - 1].strip() if bad else "?"
                raise CalendarError(
                    f"cannot parse the line '{shown}'", file=file, line=bad, key=f"VEVENT[{n}]"
                )
            raise fail(str(prop), f"cannot read the value: {message}")
        summary = str(ev.get("SUMMARY", "")).strip() or "(no title)"
        if ev.get("DTSTART") is None:
            raise fail("DTSTART", "missing: every event needs a start")
        start_v = ev.decoded("DTSTART")
        if ev.get("DTEND") is not None:
            end_v = ev.decoded("DTEND")
        elif ev.get("DURATION") is not None:
            end_v = start_v + ev.decoded("DURATION")
        else:
            end_v = start_v + timedelta(days=1) if not isinstance(start_v, datetime) else start_v
        first, last = _days(start_v, end_v, tz)
        if last < first:
            raise fail("DTEND", f"ends ({end_v}) before it starts ({start_v})")

        kind: BlockKind | None = None
        cats = ev.get("CATEGORIES")
        if cats is not None:
            values = []
            for c in cats if isinstance(cats, list) else [cats]:
                values += [str(v).strip().upper() for v in getattr(c, "cats", [c])]
            known = [v for v in values if v in CATEGORY_KINDS]
            if known:
                kind = CATEGORY_KINDS[known[0]]

        spans = [(first, last)]
        if ev.get("RRULE") is not None:
            length = last - first
            rule = ev.get("RRULE").to_ical().decode()
            try:
                anchor = datetime(first.year, first.month, first.day)
                occurrences = rrulestr(rule, dtstart=anchor).between(
                    datetime.combine(calendar.year_start, datetime.min.time()) - length,
                    datetime.combine(calendar.year_end, datetime.min.time()),
                    inc=True,
                )
            except (ValueError, TypeError) as exc:
                raise fail("RRULE", f"{rule} cannot be expanded: {exc}") from None
            spans = [(o.date(), o.date() + length) for o in occurrences]
            if not spans:
                skipped.append(f"{summary} ({rule} has no date in the academic year)")

        for a, b in spans:
            if b < calendar.year_start or a > calendar.year_end:
                skipped.append(f"{summary} ({a}{'' if a == b else f' – {b}'})")
                continue
            a, b = max(a, calendar.year_start), min(b, calendar.year_end)
            if kind is None:
                holidays.append(Holiday(summary, a, b, f"{file}:{line0} VEVENT[{n}]" if line0 else file))
            else:
                blocked.append(BlockedPeriod(kind, summary, a, b))
    return IcsEntries(tuple(holidays), tuple(blocked), tuple(skipped))


def _days(start: date | datetime, end: date | datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The whole days an event touches (DTEND is exclusive)."""
    if isinstance(start, datetime):
        s = start.astimezone(tz) if start.tzinfo else start.replace(tzinfo=tz)
        e = end.astimezone(tz) if isinstance(end, datetime) and end.tzinfo else end
        if isinstance(e, datetime) and e.tzinfo is None:
            e = e.replace(tzinfo=tz)
        last = (e - timedelta(microseconds=1)).date() if isinstance(e, datetime) and e > s else s.date()
        return s.date(), last
    end_d = end.date() if isinstance(end, datetime) else end
    return start, end_d - timedelta(days=1)


def _prop_line(lines: list[str], line0: int | None, prop: str) -> int | None:
    if line0 is None:
        return None
    for i in range(line0, len(lines)):
        upper = lines[i].upper()
        if upper.startswith("END:VEVENT"):
            break
        if upper.startswith(prop.upper()) and upper[len(prop) : len(prop) + 1] in (":", ";"):
            return i + 1
    return line0


def _bad_line(lines: list[str], start: int = 1) -> int | None:
    """Best guess at the line icalendar choked on: the first from ``start`` that is not a content line."""
    for i in range(start - 1, len(lines)):
        line = lines[i]
        if line and not line[0].isspace() and ":" not in line:
            return i + 1
    return None
