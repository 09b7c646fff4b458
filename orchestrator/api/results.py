"""Control results and grades (§15–18, §26–30): tutors enter them, one database keeps them, audited.

A result is points 0–100; the letter and grade point follow the configured
letter-point scale (§30). ``passed`` feeds defense eligibility (§29).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api import STAFF, TEACHING, api, services
from orchestrator.auth import Identity
from orchestrator.config import Settings
from orchestrator.defenses.binding import bind
from orchestrator.errors import NotFound, UserError
from orchestrator.grading import scale_of
from orchestrator.http import identity, parse_body
from orchestrator.policy import can_enter_result
from orchestrator.store.models import ControlResult, GroupMember, Offering, Person
from orchestrator.store.types import utcnow


class ResultBody(BaseModel):
    offering: str = Field(min_length=1, max_length=80, description="offering code")
    student: str = Field(min_length=1, max_length=80, description="student username")
    activity: str = Field(min_length=1, max_length=80, description="control activity id")
    points: int = Field(ge=0, le=100)


def enter_result(s: Session, ident: Identity, settings: Settings, body: ResultBody, **detail: Any) -> dict[str, Any]:
    """Enter or change one student's result for one control, bound to its audit entry (§28).

    The one implementation behind ``POST /api/results`` and ``aulacast portal result``; ``detail``
    goes on the audit entry beside the change (the CLI adds ``via="cli"``).
    """
    grade = scale_of(settings.grading.scale, settings.grading.pass_points).grade(body.points)
    passed = grade.passed
    off = s.scalar(select(Offering).where(Offering.code == body.offering))
    if off is None:
        raise NotFound(f"no offering {body.offering!r}")
    can_enter_result(s, ident, off).enforce()
    activities = {a["id"]: a for a in (off.rules or {}).get("controls", [])}
    if body.activity not in activities:
        raise UserError(f"offering {body.offering} has no control activity {body.activity!r} "
                        f"(it has: {', '.join(sorted(activities)) or 'none'})", status=422)
    if not activities[body.activity].get("graded", True):
        raise UserError(f"control {body.activity!r} of {body.offering} is passed by attendance alone "
                        "(graded: false in the curriculum); it takes no points", status=422)
    student = s.scalar(select(Person).where(Person.username == body.student))
    if student is None or s.get(GroupMember, (off.group_id, student.id)) is None:
        raise UserError(f"{body.student!r} is not a student of the offering's group", status=422)
    row = s.scalar(select(ControlResult).where(
        ControlResult.offering_id == off.id, ControlResult.student_id == student.id, ControlResult.activity == body.activity))
    before = None if row is None else row.points
    if row is None:
        row = ControlResult(offering_id=off.id, student_id=student.id, activity=body.activity)
        s.add(row)
    row.points, row.passed, row.recorded_by, row.recorded_at = body.points, passed, ident.person_id, utcnow()
    s.flush()
    # bound to its audit entry (§28): the entry carries the row's value, the row the entry's hash
    bind(s, ident.person_id, "result.enter", row, offering=body.offering,
         student=body.student, activity=body.activity, before=before, **detail)
    return {"id": row.id, "points": body.points, "letter": grade.letter, "grade_point": grade.grade_point,
            "passed": passed, "before": before}


@api.route("POST", "/api/results", roles=STAFF | TEACHING, summary="Enter a control result (tutor of the offering or registrar)", body=ResultBody, tags=("results",))
async def post_result(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    body: ResultBody = await parse_body(request, ResultBody)

    def save(s: Session) -> dict[str, Any]:
        out = enter_result(s, ident, svc.settings, body)
        del out["before"]
        return out

    return await svc.db_call(save)
