"""Rows bound to the audit log (§28): the entry carries the row's value, the row carries the entry's hash.

    bind(s, actor_id, "defense.score", score_row)   # after the row is flushed with its new value

``audit verify`` (orchestrator/defenses/tamper.py) reads every bound row, finds
the entry whose hash the row names, and compares the row's value now with the
value that entry carries: a direct ``UPDATE`` of the row shows as a difference,
and rewriting the entry breaks the chain (or its anchors outside the database).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.defenses.models import Attendance, DefenseGrade, Score, Sitting
from orchestrator.store.models import AuditEntry, ControlResult

BoundRow = Score | DefenseGrade | Sitting | ControlResult | Attendance


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).replace(microsecond=0).isoformat()


def value_of(row: BoundRow) -> dict[str, Any]:
    """The part of a row that §28 protects, as plain JSON (never ``audit_hash`` itself)."""
    if isinstance(row, Score):
        return {"turn": row.turn_id, "member": row.member_id, "points": row.points, "criteria": row.criteria}
    if isinstance(row, DefenseGrade):
        return {"turn": row.turn_id, "points": row.points, "letter": row.letter, "grade_point": row.grade_point,
                "mark": row.mark, "passed": row.passed, "final": row.final, "scale": row.scale}
    if isinstance(row, Sitting):
        return {"key": row.key, "status": row.status, "signed_at": _t(row.signed_at), "signed_by": row.signed_by}
    if isinstance(row, ControlResult):
        return {"offering": row.offering_id, "student": row.student_id, "activity": row.activity,
                "points": row.points, "passed": row.passed}
    if isinstance(row, Attendance):
        return {"session": row.session_id, "person": row.person_id, "role": row.role,
                "joined_at": _t(row.joined_at), "left_at": _t(row.left_at)}
    raise TypeError(f"{type(row).__name__} is not a bound row")


def target_of(row: BoundRow) -> str:
    return f"{row.__tablename__}:{row.id}"


def bind(s: Session, actor_id: int | None, action: str, row: BoundRow, **detail: Any) -> AuditEntry:
    """Write the audit entry carrying ``row``'s value and point the row at it."""
    s.flush()
    entry = audit.record(s, actor_id, action, target_of(row), row=value_of(row), **detail)
    row.audit_hash = entry.hash
    s.flush()
    return entry
