"""Importing an academic calendar, shared by the CLI, the API and the demo: read, validate whole, replace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.errors import UserError
from orchestrator.planning import build_calendar
from orchestrator.store.models import CalendarRecord
from schedules.academic.model import AcademicCalendar
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


def validate_calendar(inp: CalendarInput) -> AcademicCalendar:
    try:
        return build_calendar(inp.source, inp.source_name, [{"name": n, "text": t} for n, t in inp.ics])
    except ScheduleError as exc:
        raise UserError(str(exc), code="calendar_invalid", status=422) from None


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


def current_calendar_row(s: Session) -> CalendarRecord | None:
    return s.scalar(select(CalendarRecord).where(CalendarRecord.active.is_(True)).order_by(CalendarRecord.id.desc()))
