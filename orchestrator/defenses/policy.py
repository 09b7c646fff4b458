"""Who may do what with a sitting, a grade and a protocol: one function per kind of object.

    viewer = viewer_of(s, ident, sitting)                # the asker as this sitting sees them
    sitting_access(viewer, "reorder", sitting).enforce()  # Forbidden with the reason, or nothing

Every HTTP route, socket event and CLI path of defenses goes through these
three functions (the object kinds of ``orchestrator/policy.py`` live there; these
are the defense kinds, in the same ``Decision`` shape), so the rules below are the whole of it:

- sitting: staff (admin, registrar) and the committee (chair, members, secretary) see the whole
  sitting; the offering's tutor reads it; the students of its queue see the queue; anyone sees the
  public view (names, order, the current turn, final letters after sign-off). Only the chair runs the
  sitting (start, turns, close grading, sign-off); the chair or the secretary reorders the queue
  before it starts and notes questions; staff name the secretary.
- grade: a grader (chair, member) enters points for their own seat only, until the chair closes the
  turn's grading; a grader sees other members' points only after that; the chair changes a final
  grade, with a reason; the student sees their own final grade, the tutor and staff every final grade;
  the audience sees letters only once the sitting is signed off, never points.
- protocol: committee, staff and the offering's tutor read it once signed; anyone verifies a protocol
  they hold (the public key is public).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.auth import Identity
from orchestrator.defenses.models import Sitting, Turn
from orchestrator.policy import ALLOW, Decision
from orchestrator.store.models import Offering, SessionRecord

STAFF = frozenset({"admin", "registrar"})

SittingAction = Literal["view_public", "view", "reorder", "run", "note", "assign"]
GradeAction = Literal["enter", "read_points", "read_all_points", "read_final", "read_published", "change"]
ProtocolAction = Literal["read", "verify"]


def decide(decision: Decision) -> None:
    """Forbidden with the decision's reason when refused (``Decision.enforce``)."""
    decision.enforce()


@dataclass(frozen=True)
class Viewer:
    """The asker as one sitting sees them: their seat, whether they are staff, tutor, or in the queue."""

    person_id: int | None
    staff: bool = False
    seat: str | None = None  # chair | member | secretary
    tutor: bool = False
    student: bool = False  # has a turn in this sitting


def viewer_of(s: Session, ident: Identity | None, sitting: Sitting) -> Viewer:
    if ident is None:
        return Viewer(None)
    off = s.get(Offering, sitting.offering_id) if sitting.offering_id else None
    return Viewer(
        ident.person_id,
        staff=ident.has(*STAFF),
        seat=sitting.seat_of(ident.person_id),
        tutor=off is not None and off.tutor_id == ident.person_id,
        student=any(t.student_id == ident.person_id for t in sitting.turns),
    )


def room_role(s: Session, row: SessionRecord, ident: Identity) -> str | None:
    """The role a person has in the room of a sitting's slot ``row`` (None: not a sitting)."""
    sitting = s.scalar(select(Sitting).where(Sitting.key == row.sitting))
    if sitting is None:
        return None
    seat = sitting.seat_of(ident.person_id)
    if seat is not None:
        return {"chair": "chair", "member": "committee", "secretary": "secretary"}[seat]
    if any(t.student_id == ident.person_id and t.status not in ("moved", "refused") for t in sitting.turns):
        return "presenter"
    if ident.has(*STAFF):
        return "observer"
    return "audience"


def attendance_access(s: Session, ident: Identity, row: SessionRecord) -> Decision:
    """Who sees a session's attendance: staff, the session's (or offering's) tutor, a sitting's committee."""
    if ident.has(*STAFF) or row.tutor_id == ident.person_id:
        return ALLOW
    off = s.get(Offering, row.offering_id) if row.offering_id else None
    if off is not None and off.tutor_id == ident.person_id:
        return ALLOW
    if row.kind == "defense" and row.sitting:
        sitting = s.scalar(select(Sitting).where(Sitting.key == row.sitting))
        if sitting is not None and sitting.seat_of(ident.person_id):
            return ALLOW
    return Decision(False, "a session's attendance is shown to its tutor, its committee and the registrar")


def sitting_access(v: Viewer, action: SittingAction, sitting: Sitting) -> Decision:
    """May ``v`` do ``action`` on ``sitting``?"""
    if action == "view_public":
        return ALLOW
    if action == "view":
        if v.staff or v.seat or v.tutor or v.student:
            return ALLOW
        return Decision(False, "only the committee, the tutor, the registrar and the students of this sitting see it")
    if action == "assign":
        return ALLOW if v.staff else Decision(False, "only the registrar names a sitting's secretary")
    if action == "reorder":
        if v.seat not in ("chair", "secretary"):
            return Decision(False, "only the chair or the secretary reorders the queue")
        if sitting.status != "planned":
            return Decision(False, "the queue is reordered before the sitting starts; it has started")
        return ALLOW
    if action == "note":
        return ALLOW if v.seat in ("chair", "secretary") else Decision(False, "only the secretary or the chair notes questions")
    if action == "run":
        if v.seat != "chair":
            return Decision(False, "only the chair runs the sitting")
        if sitting.status == "signed":
            return Decision(False, "the sitting is signed off")
        return ALLOW
    return Decision(False, f"unknown action {action!r}")


def grade_access(v: Viewer, action: GradeAction, sitting: Sitting, turn: Turn | None = None) -> Decision:
    """May ``v`` do ``action`` on the points or grade of ``turn`` (of ``sitting``)?"""
    grader = v.seat in ("chair", "member")
    if action == "enter":
        if not grader:
            return Decision(False, "only the chair and the members of this sitting's committee enter points")
        if sitting.status == "signed":
            return Decision(False, "the sitting is signed off: only the chair changes a grade, with a reason")
        if sitting.status == "planned":
            return Decision(False, "the sitting has not started")
        if turn is not None and turn.grading_closed_at is not None:
            return Decision(False, "the chair has closed this turn's grading")
        if turn is not None and turn.path == "recorded" and turn.status == "waiting":
            return ALLOW  # §31: a recorded presentation is graded from the archive, no live turn needed
        if turn is not None and turn.status in ("absent", "moved", "refused", "waiting"):
            return Decision(False, f"this student's turn is {turn.status}: there is nothing to grade")
        return ALLOW
    if action == "read_points":  # one's own points
        return ALLOW if grader else Decision(False, "only graders have points")
    if action == "read_all_points":
        if v.staff or (v.seat and (turn is None or turn.grading_closed_at is not None)):
            return ALLOW
        if v.seat:
            return Decision(False, "members see each other's points once the chair closes grading")
        return Decision(False, "points are the committee's")
    if action == "read_final":
        if sitting.status != "signed":
            return Decision(False, "grades are final once the chair signs the sitting off")
        if v.staff or v.seat or v.tutor or (turn is not None and v.student and turn.student_id == v.person_id):
            return ALLOW
        return Decision(False, "a final grade is shown to its student, the tutor, the committee and the registrar")
    if action == "read_published":  # the letter in the public view
        return ALLOW if sitting.status == "signed" else Decision(False, "not published before sign-off")
    if action == "change":
        if v.seat != "chair":
            return Decision(False, "only the chair changes a grade")
        return ALLOW
    return Decision(False, f"unknown action {action!r}")


def protocol_access(v: Viewer, action: ProtocolAction, sitting: Sitting) -> Decision:
    """May ``v`` read (or verify) the protocol of ``sitting``?"""
    if action == "verify":
        return ALLOW
    if action == "read":
        if sitting.status != "signed":
            return Decision(False, "the protocol exists once the chair signs the sitting off")
        if v.staff or v.seat or v.tutor:
            return ALLOW
        return Decision(False, "the protocol is read by the committee, the tutor and the registrar")
    return Decision(False, f"unknown action {action!r}")
