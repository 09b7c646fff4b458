"""§29 standing of each control activity for a student: its result and, where the curriculum says so, attendance.

    book = standings(s, offering)                 # every student of the offering's group × every control
    book[student_id]["midterm"].passed            # False: "attended 5 of 10 sessions, 70 % required"
    problems_of(book[student_id].values())        # the §29 reasons, said as the planner says them

A control's ``attendance`` rule (docs/registrar.md) counts the offering's *held* sessions of the
named kinds the student was expected at (cancelled ones and ones whose room never opened do not
count; the planned session must have ended or its room closed). A session is attended when the
student's stays in its room, clipped to the planned start–end and merged where they overlap, add up
to ``presence_percent`` of its planned length (a stay never closed counts until the session's end).
The control is passed when its result passed (unless ``graded: false``: attendance alone decides)
and attended/held ≥ ``min_percent``; with nothing held yet the rule is met.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.store.models import Attendance, ControlResult, GroupMember, Offering, SessionRecord
from orchestrator.store.types import utcnow
from schedules.academic.said import Said

STUDENT_ROLES = ("participant", "presenter")
"""Roles naming the students an individual session is for; a session naming none is the whole group's."""


@dataclass(frozen=True)
class AttendanceTally:
    attended: int
    held: int
    min_percent: int

    @property
    def met(self) -> bool:
        return self.attended * 100 >= self.min_percent * self.held

    @property
    def text(self) -> str:
        return f"attended {self.attended} of {self.held} sessions, {self.min_percent} % required"

    @property
    def said(self) -> Said:
        """``text`` with its code and values (pages say it in the reader's language)."""
        return Said.of("plan.attendance", self.text, attended=self.attended, held=self.held, min=self.min_percent)

    def to_json(self) -> dict[str, Any]:
        return {"attended": self.attended, "held": self.held, "min_percent": self.min_percent, "met": self.met}


@dataclass(frozen=True)
class Standing:
    """One control activity for one student: ``passed`` is None while a graded control has no result."""

    id: str
    name: str
    graded: bool
    points: int | None
    result_passed: bool | None
    attendance: AttendanceTally | None

    @property
    def passed(self) -> bool | None:
        if self.attendance is not None and not self.attendance.met:
            return False
        return self.result_passed if self.graded else True

    @property
    def problem(self) -> str | None:
        """The §29 reason this control keeps the student from attestation, worded as the planner words it."""
        label = f"control '{self.name}' ({self.id})"
        if self.graded and self.result_passed is None:
            return f"no result for {label}"
        if self.attendance is not None and not self.attendance.met:
            return f"{label} not passed: {self.attendance.text}"
        return None if self.passed else f"{label} not passed"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "graded": self.graded, "points": self.points,
                "result_passed": self.result_passed, "passed": self.passed,
                "attendance": self.attendance.to_json() if self.attendance else None, "reason": self.problem}


def problems_of(standings: Iterable[Standing]) -> list[str]:
    return [p for st in standings if (p := st.problem) is not None]


def _held(row: SessionRecord, now: datetime) -> bool:
    if row.status in ("planned", "cancelled"):
        return False  # never opened: nobody could attend it
    return row.status not in ("open", "live") or row.end_at <= now  # closed (or later), or over by now


def _present_seconds(stays: list[Attendance], start: datetime, end: datetime) -> float:
    spans = sorted((max(a.joined_at, start), min(a.left_at or end, end)) for a in stays)
    total, reach = 0.0, start
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            total += (b - a).total_seconds()
            reach = b
    return total


def attendance_tallies(s: Session, off: Offering, students: list[int], now: datetime | None = None
                       ) -> dict[tuple[int, str], AttendanceTally]:
    """(student, control id) → tally, for the controls of ``off`` that carry an attendance rule."""
    rules = {a["id"]: a["attendance"] for a in (off.rules or {}).get("controls", []) if a.get("attendance")}
    if not rules:
        return {}
    now = now or utcnow()
    kinds = {k for r in rules.values() for k in r.get("sessions", ["consultation"])}
    sessions = [r for r in s.scalars(select(SessionRecord).where(SessionRecord.offering_id == off.id,
                                                                 SessionRecord.kind.in_(kinds)))
                if _held(r, now)]
    stays: dict[tuple[int, int], list[Attendance]] = {}
    if sessions:
        for a in s.scalars(select(Attendance).where(Attendance.session_id.in_([r.id for r in sessions]))):
            stays.setdefault((a.session_id, a.person_id), []).append(a)
    group = set(students)
    out: dict[tuple[int, str], AttendanceTally] = {}
    for cid, rule in rules.items():
        mine = [r for r in sessions if r.kind in rule.get("sessions", ["consultation"])]
        share = rule.get("presence_percent", 50) / 100
        for sid in students:
            held = attended = 0
            for r in mine:
                named = {p.person_id for p in r.participants if p.role in STUDENT_ROLES}
                if sid not in (named or (group if r.group_id == off.group_id else set())):
                    continue
                held += 1
                length = (r.end_at - r.start_at).total_seconds()
                if _present_seconds(stays.get((r.id, sid), []), r.start_at, r.end_at) >= share * length:
                    attended += 1
            out[(sid, cid)] = AttendanceTally(attended, held, rule["min_percent"])
    return out


def standings(s: Session, off: Offering, students: list[int] | None = None, now: datetime | None = None
              ) -> dict[int, dict[str, Standing]]:
    """student id → control id → standing, for ``students`` (default: the offering's group)."""
    if students is None:
        students = list(s.scalars(select(GroupMember.person_id).where(GroupMember.group_id == off.group_id)))
    results = {(r.student_id, r.activity): r for r in s.scalars(
        select(ControlResult).where(ControlResult.offering_id == off.id, ControlResult.student_id.in_(students)))}
    tallies = attendance_tallies(s, off, students, now)
    book: dict[int, dict[str, Standing]] = {}
    for sid in students:
        row: dict[str, Standing] = {}
        for a in (off.rules or {}).get("controls", []):
            r = results.get((sid, a["id"]))
            row[a["id"]] = Standing(a["id"], a.get("name", a["id"]), a.get("graded", True),
                                    r.points if r else None, r.passed if r else None, tallies.get((sid, a["id"])))
        book[sid] = row
    return book
