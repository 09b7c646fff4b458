"""Committee grading of a sitting (§30): points per member, the chair closes, aggregates and signs off.

    submit(s, sitting, turn, member_id, points=87)          # or criteria={"content": 40, ...}
    close_turn(s, sitting, turn, chair_id, scale)           # members' points -> one grade (provisional)
    sign_off(s, sitting, chair_id)                          # grades final; each enters the progress record
    change_final(s, sitting, turn, chair_id, points, reason, scale)   # after sign-off, with history

Points are checked by ``orchestrator.grading``; the letter, grade point and mark
come from the configured scale. Every value written is bound to its audit entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.defenses.binding import bind, value_of
from orchestrator.defenses.models import DefenseGrade, GradeChange, Score, Sitting, Turn
from orchestrator.errors import Conflict, UserError
from orchestrator.grading import Criterion, GradingScale, PointsError, aggregate, check_points, rubric_points
from orchestrator.store.models import ControlResult
from orchestrator.store.types import utcnow

PROGRESS_ACTIVITY = "defense"
"""The activity name a final defense grade has in the student's progress record (control_results)."""

MIN_REASON = 10


def _points_of(sitting: Sitting, points: object, criteria: object) -> tuple[int, dict[str, Any] | None]:
    try:
        if criteria is not None:
            if not isinstance(criteria, dict):
                raise PointsError("criteria are an object of criterion id -> points")
            total = rubric_points([Criterion(*c) for c in sitting.rubric], criteria)
            if points is not None and check_points(points) != total:
                raise PointsError(f"points {points} differ from the criteria's sum {total}")
            return total, dict(criteria)
        if points is None:
            raise PointsError("give points 0–100" + (" or points per criterion" if sitting.rubric else ""))
        return check_points(points), None
    except PointsError as exc:
        raise UserError(str(exc), code="bad_points", status=422) from None


def submit(s: Session, sitting: Sitting, turn: Turn, member_id: int, *, points: object = None,
           criteria: object = None) -> Score:
    """Enter or replace ``member_id``'s points for ``turn`` (the caller checked the policy).

    The turn row is locked first, so two members submitting at once are written one after the other,
    and a member submitting twice at once leaves one row with the later points.
    """
    value, crit = _points_of(sitting, points, criteria)
    s.scalar(select(Turn).where(Turn.id == turn.id).with_for_update())
    if turn.grading_closed_at is not None:
        raise Conflict("the chair has closed this turn's grading")
    row = s.scalar(select(Score).where(Score.turn_id == turn.id, Score.member_id == member_id))
    before = None if row is None else row.points
    if row is None:
        row = Score(turn_id=turn.id, member_id=member_id, points=value)
        s.add(row)
    row.points, row.criteria, row.submitted_at = value, crit, utcnow()
    bind(s, member_id, "defense.score", row, before=before)
    return row


def scores_of(s: Session, turn: Turn) -> list[Score]:
    return list(s.scalars(select(Score).where(Score.turn_id == turn.id).order_by(Score.member_id)))


def grade_of(s: Session, turn: Turn) -> DefenseGrade | None:
    return s.scalar(select(DefenseGrade).where(DefenseGrade.turn_id == turn.id))


def _set_grade(row: DefenseGrade, points: int, scale: GradingScale) -> None:
    g = scale.grade(points)
    row.points, row.letter, row.grade_point, row.mark, row.passed = g.points, g.letter, g.grade_point, g.mark.value, g.passed
    row.scale, row.updated_at = scale.name, utcnow()


def close_turn(s: Session, sitting: Sitting, turn: Turn, chair_id: int, scale: GradingScale) -> DefenseGrade:
    """Close grading of a finished turn: every grader's points are in; the rule gives the grade."""
    s.scalar(select(Turn).where(Turn.id == turn.id).with_for_update())
    if turn.grading_closed_at is not None:
        raise Conflict("this turn's grading is already closed")
    if turn.status not in ("done", "presenting") and not (turn.path == "recorded" and turn.status == "waiting"):
        raise UserError(f"this student's turn is {turn.status}: there is nothing to grade", status=422)
    scores = {x.member_id: x.points for x in scores_of(s, turn)}
    missing = [m for m in sitting.graders if m not in scores]
    if missing:
        raise UserError(f"{len(missing)} member(s) have not entered points yet (person ids {missing})",
                        code="points_missing", status=422)
    try:
        points = aggregate(scores, chair=sitting.chair_id, rule=sitting.rule, scale=scale)
    except PointsError as exc:
        raise UserError(str(exc), code="bad_points", status=422) from None
    row = grade_of(s, turn) or DefenseGrade(turn_id=turn.id, final=False)
    _set_grade(row, points, scale)
    s.add(row)
    turn.grading_closed_at = utcnow()
    if turn.status == "waiting":  # a recorded presentation (§31), graded without a live turn
        turn.status = "done"
    if turn.status == "presenting":
        turn.status, turn.ended_at = "done", utcnow()
        if sitting.current_turn_id == turn.id:
            sitting.current_turn_id = None
    bind(s, chair_id, "defense.grade.close", row, rule=sitting.rule, scores=scores)
    return row


def sign_off(s: Session, sitting: Sitting, chair_id: int) -> list[DefenseGrade]:
    """Make every grade final and write it into the student's progress record."""
    s.scalar(select(Sitting).where(Sitting.id == sitting.id).with_for_update())
    if sitting.status == "signed":
        raise Conflict("the sitting is already signed off")
    if sitting.status == "planned":
        raise UserError("the sitting has not started", status=422)
    open_turns = [t for t in sitting.turns if t.status in ("waiting", "presenting")
                  or (t.status == "done" and t.grading_closed_at is None)]
    if open_turns:
        raise UserError(f"{len(open_turns)} turn(s) are not finished and graded (positions "
                        f"{[t.position for t in open_turns]}); grade them, or mark the student absent",
                        code="turns_open", status=422)
    finals = []
    for t in sitting.turns:
        g = grade_of(s, t)
        if g is None:
            continue
        g.final, g.updated_at = True, utcnow()
        bind(s, chair_id, "defense.grade.final", g)
        _progress(s, sitting, t, g, chair_id)
        finals.append(g)
    sitting.status, sitting.signed_at, sitting.signed_by, sitting.current_turn_id = "signed", utcnow(), chair_id, None
    bind(s, chair_id, "defense.sitting.sign", sitting, grades=[value_of(g) for g in finals])
    return finals


def _progress(s: Session, sitting: Sitting, turn: Turn, g: DefenseGrade, actor_id: int) -> None:
    """The final grade as the student's progress record (the store control results live in)."""
    if sitting.offering_id is None:
        return
    row = s.scalar(select(ControlResult).where(ControlResult.offering_id == sitting.offering_id,
                                               ControlResult.student_id == turn.student_id,
                                               ControlResult.activity == PROGRESS_ACTIVITY))
    before = None if row is None else row.points
    if row is None:
        row = ControlResult(offering_id=sitting.offering_id, student_id=turn.student_id, activity=PROGRESS_ACTIVITY)
        s.add(row)
    row.points, row.passed, row.recorded_by, row.recorded_at = g.points, g.passed, actor_id, utcnow()
    bind(s, actor_id, "result.enter", row, source=f"defense_sittings:{sitting.id}", before=before)


def change_final(s: Session, sitting: Sitting, turn: Turn, chair_id: int, points: object, reason: object,
                 scale: GradingScale) -> DefenseGrade:
    """The chair changes a final grade: a written reason is required; the history keeps both values."""
    if sitting.status != "signed":
        raise UserError("before sign-off the grade follows the members' points; change points, not the grade",
                        code="not_signed", status=409)
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise UserError(f"a change after sign-off needs a written reason (at least {MIN_REASON} characters)",
                        code="reason_required", status=422)
    try:
        value = check_points(points)
    except PointsError as exc:
        raise UserError(str(exc), code="bad_points", status=422) from None
    g = grade_of(s, turn)
    if g is None:
        raise UserError("this turn has no grade to change", status=422)
    before = value_of(g)
    _set_grade(g, value, scale)
    s.add(GradeChange(grade_id=g.id, by=chair_id, reason=reason.strip(), before=before, after=value_of(g)))
    bind(s, chair_id, "defense.grade.change", g, reason=reason.strip(), before=before)
    _progress(s, sitting, turn, g, chair_id)
    return g


def history_of(s: Session, g: DefenseGrade) -> list[GradeChange]:
    return list(s.scalars(select(GradeChange).where(GradeChange.grade_id == g.id).order_by(GradeChange.id)))
