"""Tables of a defense sitting: the committee's seats, the queue of turns, points, grades and their history.

A sitting is one committee's run of defenses on one day, as the planner groups
slots (``SessionRecord.sitting``). Each student has one turn in its queue;
members enter points per turn; the chair closes a turn's grading (the grade is
aggregated then) and signs the sitting off (grades become final). Rows whose
value matters for §28 carry ``audit_hash``: the hash of the audit entry that
wrote the value now in the row (``orchestrator/defenses/tamper.py`` checks it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.store.models import Attendance as Attendance  # the rooms' timeline lives in the store
from orchestrator.store.models import Base
from orchestrator.store.types import utcnow

SITTING_STATES = ("planned", "running", "finished", "signed")
TURN_STATES = ("waiting", "presenting", "done", "absent", "moved", "refused")
SEATS = ("chair", "member", "secretary")


class Sitting(Base):
    __tablename__ = "defense_sittings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # the planner's sitting id
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offerings.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    start_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="planned")
    rule: Mapped[str] = mapped_column(String(20))
    rubric: Mapped[list[Any]] = mapped_column(JSON, default=list)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=20)
    current_turn_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    audit_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    seats: Mapped[list[Seat]] = relationship(back_populates="sitting", cascade="all, delete-orphan", lazy="selectin")
    turns: Mapped[list[Turn]] = relationship(
        back_populates="sitting", cascade="all, delete-orphan", lazy="selectin", order_by="Turn.position"
    )

    def seat_of(self, person_id: int) -> str | None:
        return next((x.seat for x in self.seats if x.person_id == person_id), None)

    @property
    def chair_id(self) -> int:
        return next(x.person_id for x in self.seats if x.seat == "chair")

    @property
    def graders(self) -> list[int]:
        """Who enters points: the chair and the members (the secretary records, does not grade)."""
        return [x.person_id for x in self.seats if x.seat in ("chair", "member")]


class Seat(Base):
    __tablename__ = "defense_seats"

    sitting_id: Mapped[int] = mapped_column(ForeignKey("defense_sittings.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
    seat: Mapped[str] = mapped_column(String(10))  # chair | member | secretary
    sitting: Mapped[Sitting] = relationship(back_populates="seats")


class Turn(Base):
    """One student's place in the queue: their presentation and questions, then the committee's grading."""

    __tablename__ = "defense_turns"
    __table_args__ = (UniqueConstraint("sitting_id", "student_id", name="uq_turn_student"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("defense_sittings.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    path: Mapped[str] = mapped_column(String(10), default="live")  # live | recorded (§31)
    note: Mapped[str | None] = mapped_column(String(500))  # why absent / refused / moved
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    recording_offset: Mapped[float | None] = mapped_column(Float)  # seconds into the sitting's recording
    questions: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the secretary's notes
    grading_closed_at: Mapped[datetime | None]
    sitting: Mapped[Sitting] = relationship(back_populates="turns")


class Score(Base):
    """One member's points for one turn (with points per rubric criterion when the sitting has a rubric)."""

    __tablename__ = "defense_scores"
    __table_args__ = (UniqueConstraint("turn_id", "member_id", name="uq_score_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("defense_turns.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    points: Mapped[int] = mapped_column(Integer)
    criteria: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    audit_hash: Mapped[str | None] = mapped_column(String(64))


class DefenseGrade(Base):
    """The committee's grade of a turn; ``final`` once the chair signs the sitting off."""

    __tablename__ = "defense_grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("defense_turns.id", ondelete="CASCADE"), unique=True)
    points: Mapped[int] = mapped_column(Integer)
    letter: Mapped[str] = mapped_column(String(4))
    grade_point: Mapped[float] = mapped_column(Float)
    mark: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    scale: Mapped[str] = mapped_column(String(40))
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    audit_hash: Mapped[str | None] = mapped_column(String(64))


class GradeChange(Base):
    """A change to a final grade: who, when, why, and the values before and after."""

    __tablename__ = "defense_grade_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("defense_grades.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)

