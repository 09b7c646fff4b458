"""Importing an academic calendar, shared by the CLI, the API and the demo: read, validate whole, replace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.errors import UserError
from orchestrator.planning import build_calendar
from orchestrator.store.models import CalendarRecord
from schedules.academic.calendar import WEEKDAYS, teaching_weeks, window_days
from schedules.academic.model import AcademicCalendar
from schedules.academic.said import Said
from schedules.errors import ScheduleError


@dataclass(frozen=True)
class CalendarInput:
    source: str
    source_name: str
    ics: tuple[tuple[str, str], ...] = ()  # (name, text)


def read_calendar_files(path: Path, ics_paths: list[Path] | tuple[Path, ...] = ()) -> CalendarInput:
    def read(p: Path) -> str:
        try:
            return p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"{p}: no such file") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"{p}: not UTF-8 text (byte {exc.start})") from None

    return CalendarInput(read(path), str(path), tuple((str(p), read(p)) for p in ics_paths))


class CalendarInvalid(UserError):
    """The calendar is wrong at one place; ``problems`` is that place with its code and values for pages
    (``code`` "" when the sentence has none: a page shows the English then)."""

    code = "calendar_invalid"
    status = 422

    def __init__(self, exc: ScheduleError) -> None:
        super().__init__(str(exc))
        said = getattr(exc, "said", None)
        line, key = getattr(exc, "line", None), getattr(exc, "key", None)
        where = ": ".join(str(x) for x in (line, key) if x is not None)
        # ``said``: a schedules Said (the calendar's own rules) or a fileio Message (the reader's checks of the YAML)
        params = said.params_json() if isinstance(said, Said) else dict(said.params) if said is not None else {}
        self.problems = [{"where": where, "code": said.code if said else "", "params": params,
                          "message": said.text if said else getattr(exc, "message", str(exc))}]  # fmt: skip


def validate_calendar(inp: CalendarInput) -> AcademicCalendar:
    try:
        return build_calendar(inp.source, inp.source_name, [{"name": n, "text": t} for n, t in inp.ics])
    except ScheduleError as exc:
        raise CalendarInvalid(exc) from None


def import_calendar(s: Session, inp: CalendarInput, *, actor_id: int | None) -> CalendarRecord:
    """Validate fully, then replace the active calendar; nothing is written when anything is wrong."""
    cal = validate_calendar(inp)
    s.execute(update(CalendarRecord).where(CalendarRecord.active.is_(True)).values(active=False))
    row = CalendarRecord(
        name=cal.name,
        timezone=cal.timezone,
        source=inp.source,
        source_name=inp.source_name,
        ics_sources=[{"name": n, "text": t} for n, t in inp.ics],
        active=True,
    )
    s.add(row)
    s.flush()
    audit.record(s, actor_id, "calendar.import", f"calendar:{row.id}", name=cal.name, source=inp.source_name)
    return row


DAY_CODES = {
    "mon": "calendar.day.mon", "tue": "calendar.day.tue", "wed": "calendar.day.wed", "thu": "calendar.day.thu",
    "fri": "calendar.day.fri", "sat": "calendar.day.sat", "sun": "calendar.day.sun",
}  # fmt: skip


def check_summary(cal: AcademicCalendar) -> dict[str, Any]:
    """What the calendar check says, for a page: the teaching weeks per period and the notes, each note a
    ``{code, params, message}`` (the page says it in the reader's language; ``describe`` is the CLI's text)."""
    periods = []
    for p in cal.periods:
        weeks = teaching_weeks(cal, p)
        periods.append({"id": p.id, "name": p.name, "start": p.start.isoformat(), "end": p.end.isoformat(),
                        "teaching_weeks": len(weeks), "teaching_days": sum(len(w.days) for w in weeks)})  # fmt: skip
    days = tuple(Said.of(DAY_CODES[WEEKDAYS[d]], WEEKDAYS[d].capitalize()) for d in sorted(cal.teaching_weekdays))
    start, end = f"{cal.day_start:%H:%M}", f"{cal.day_end:%H:%M}"
    notes = [
        Said.of("calendar.timezone", f"Time zone: {cal.timezone}", timezone=cal.timezone),
        Said.of("calendar.year", f"Academic year: {cal.year_start} – {cal.year_end}",
                start=cal.year_start.isoformat(), end=cal.year_end.isoformat()),
        Said.of("calendar.teaching", f"Teaching days: {' '.join(d.text for d in days)}, {start}–{end} local, "
                f"sessions start every {cal.slot_minutes} min", days=days, start=start, end=end, step=cal.slot_minutes),
        Said.of("calendar.counts", f"{len(cal.holidays)} holiday(s), {len(cal.blocked)} blocked period(s), "
                f"{len(cal.windows)} window(s)", holidays=len(cal.holidays), blocked=len(cal.blocked), windows=len(cal.windows)),
    ]  # fmt: skip
    for w in sorted(cal.windows, key=lambda w: w.start):
        n = len(window_days(cal, w))
        notes.append(Said.of("calendar.window", f"Window {w.id}: {w.start} – {w.end}, {n} usable day(s)",
                             id=w.id, start=w.start.isoformat(), end=w.end.isoformat(), days=n))
    estimated = sorted((h for h in cal.holidays if h.estimated), key=lambda h: h.start)
    if estimated:
        shown = tuple(f"{h.start} {h.name}" for h in estimated)
        notes.append(Said.of("calendar.estimated", f"{len(estimated)} estimated public holiday date(s) not yet confirmed: "
                             f"{'; '.join(shown)}; check each in the government's decree, then confirm it under "
                             "public_holidays.confirm", n=len(estimated), days=shown))
    return {"periods": periods, "notes": [n.as_json() for n in notes]}


def current_calendar_row(s: Session) -> CalendarRecord | None:
    return s.scalar(select(CalendarRecord).where(CalendarRecord.active.is_(True)).order_by(CalendarRecord.id.desc()))
