"""Attendance from the rooms' timeline: one row per stay (join → leave) of a person in a session's room.

    record_presence(s, session_id, person_id, role, joined=True)   # signaling's presence hook
    rows = attendance_of(s, session_id); text = to_csv(rows)       # formula-safe for spreadsheets

Each row is bound to its audit entry (§28) when it opens and again when it closes.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.defenses.binding import bind
from orchestrator.defenses.models import Attendance
from orchestrator.store.models import Person
from orchestrator.store.types import utcnow

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def record_presence(s: Session, session_id: int, person_id: int, role: str, joined: bool) -> Attendance | None:
    open_row = s.scalar(select(Attendance).where(Attendance.session_id == session_id, Attendance.person_id == person_id,
                                                 Attendance.left_at.is_(None)).order_by(Attendance.id.desc()).limit(1))
    if joined:
        if open_row is not None:  # another node or socket already opened this stay
            return open_row
        row = Attendance(session_id=session_id, person_id=person_id, role=role or "participant", joined_at=utcnow())
        s.add(row)
        bind(s, person_id, "attendance.join", row)
        return row
    if open_row is None:
        return None
    open_row.left_at = utcnow()
    bind(s, person_id, "attendance.leave", open_row)
    return open_row


def attendance_of(s: Session, session_id: int) -> list[dict[str, Any]]:
    rows = s.scalars(select(Attendance).where(Attendance.session_id == session_id).order_by(Attendance.joined_at, Attendance.id))
    out = []
    for r in rows:
        p = s.get(Person, r.person_id)
        seconds = None if r.left_at is None else round((r.left_at - r.joined_at).total_seconds())
        out.append({"person_id": r.person_id, "username": p.username if p else "", "name": p.display_name if p else "",
                    "role": r.role, "joined_at": r.joined_at.isoformat(),
                    "left_at": r.left_at.isoformat() if r.left_at else None, "seconds": seconds})
    return out


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text  # a spreadsheet shows it, never runs it


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    cols = ["username", "name", "role", "joined_at", "left_at", "seconds"]
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r[c]) for c in cols])
    return buf.getvalue()
