"""A sitting as JSON for one viewer: what the policy lets them see and nothing more."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from orchestrator.defenses.models import Sitting, Turn
from orchestrator.defenses.policy import Viewer, grade_access, sitting_access
from orchestrator.defenses.scoring import grade_of, history_of, scores_of
from orchestrator.defenses.sittings import room_session
from orchestrator.session_titles import sitting_titles
from orchestrator.store.models import Person


def _names(s: Session, ids: set[int]) -> dict[int, Person]:
    return {pid: p for pid in ids if (p := s.get(Person, pid)) is not None}


def _grade_json(g: Any) -> dict[str, Any]:
    return {"points": g.points, "letter": g.letter, "grade_point": g.grade_point, "mark": g.mark,
            "passed": g.passed, "final": g.final, "scale": g.scale}


def sitting_json(s: Session, sitting: Sitting, v: Viewer) -> dict[str, Any]:
    """The full view (committee, staff, tutor, students of the queue) or the public one."""
    full = bool(sitting_access(v, "view", sitting))
    people = _names(s, {x.person_id for x in sitting.seats} | {t.student_id for t in sitting.turns})
    out: dict[str, Any] = {
        "id": sitting.id, "key": sitting.key, "title": sitting.title, "titles": sitting_titles(s, sitting),
        "status": sitting.status,
        "start_at": sitting.start_at.isoformat(), "slot_minutes": sitting.slot_minutes,
        "current_turn": sitting.current_turn_id,
        "room": room_session(s, sitting),  # the session whose room the sitting meets in
        "committee": [{"seat": x.seat, "name": people[x.person_id].display_name,
                       **({"id": x.person_id, "username": people[x.person_id].username} if full else {})}
                      for x in sorted(sitting.seats, key=lambda x: ("chair", "member", "secretary").index(x.seat))],
    }
    if full:
        out |= {"rule": sitting.rule, "rubric": sitting.rubric, "my_seat": v.seat,
                "started_at": sitting.started_at.isoformat() if sitting.started_at else None,
                "signed_at": sitting.signed_at.isoformat() if sitting.signed_at else None}
    out["queue"] = [_turn_json(s, sitting, t, v, people, full) for t in sorted(sitting.turns, key=lambda t: t.position)]
    return out


def _turn_json(s: Session, sitting: Sitting, t: Turn, v: Viewer, people: dict[int, Person], full: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": t.id, "position": t.position, "status": t.status, "path": t.path,
                            "student": {"name": people[t.student_id].display_name}}
    if full:
        item["student"] |= {"id": t.student_id, "username": people[t.student_id].username}
        item |= {"note": t.note, "session": t.session_id,
                 "started_at": t.started_at.isoformat() if t.started_at else None,
                 "ended_at": t.ended_at.isoformat() if t.ended_at else None,
                 "recording_offset": t.recording_offset,
                 "grading_closed": t.grading_closed_at is not None}
        if v.seat:
            item["questions"] = t.questions
    scores = scores_of(s, t) if (v.seat or v.staff) else []
    if grade_access(v, "read_all_points", sitting, t):
        item["scores"] = [{"member": x.member_id, "points": x.points, "criteria": x.criteria} for x in scores]
    elif grade_access(v, "read_points", sitting, t):
        mine = [x for x in scores if x.member_id == v.person_id]
        item["my_score"] = {"points": mine[0].points, "criteria": mine[0].criteria} if mine else None
        item["entered"] = len(scores)  # how many members have entered, never what
    g = grade_of(s, t)
    if g is not None:
        if grade_access(v, "read_final", sitting, t) or (v.seat and t.grading_closed_at is not None) or v.staff:
            item["grade"] = _grade_json(g)
            hist = history_of(s, g)
            if hist and (v.seat or v.staff or v.tutor):
                item["grade"]["history"] = [{"at": h.at.isoformat(), "by": h.by, "reason": h.reason,
                                             "before": h.before, "after": h.after} for h in hist]
        elif grade_access(v, "read_published", sitting, t):
            item["grade"] = {"letter": g.letter}
    return item
