"""The sitting as a workflow: made from the plan, its queue reordered before it starts, run turn by turn.

    sync_from_plan(s, settings)          # a sitting per planner sitting id; new students join the queue's end
    reorder(s, sitting, [student ids])   # chair or secretary, before the start
    start(s, sitting, actor); start_turn(s, sitting, turn, actor) ... end_turn(...)

Functions here change rows and write the audit log; they do not decide who may
call them (``orchestrator/defenses/policy.py`` does, at every entry point).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.admission import problems_of, standings
from orchestrator.config import Settings
from orchestrator.defenses.models import Seat, Sitting, Turn
from orchestrator.errors import Conflict, NotFound, UserError
from orchestrator.session_titles import SITTING, discipline_of
from orchestrator.store.models import Offering, Person, SessionRecord
from orchestrator.store.types import utcnow


class NotAdmitted(UserError):
    """A turn started for a student §29 no longer admits; ``reason`` says which control."""

    code = "not_admitted"
    status = 422

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def sync_from_plan(s: Session, settings: Settings) -> list[int]:
    """Make or extend a sitting for every planned defense sitting; returns the ids of sittings touched.

    A sitting not yet started follows the plan: students placed later join the end of its queue,
    students the plan dropped leave it. A started sitting keeps its queue as it is.
    """
    rows = s.scalars(
        select(SessionRecord)
        .where(SessionRecord.kind == "defense", SessionRecord.sitting.is_not(None))
        .order_by(SessionRecord.start_at, SessionRecord.id)
    ).all()
    by_key: dict[str, list[SessionRecord]] = {}
    for r in rows:
        assert r.sitting is not None
        by_key.setdefault(r.sitting, []).append(r)
    people = {p.username: p.id for p in s.scalars(select(Person))}
    touched: list[int] = []
    for key, slots in by_key.items():
        live = [r for r in slots if r.status != "cancelled"]
        sitting = s.scalar(select(Sitting).where(Sitting.key == key))
        if sitting is None:
            if not live:
                continue
            first = live[0]
            committee = [people[u] for u in (first.detail or {}).get("committee", []) if u in people]
            if not committee:
                continue
            sitting = Sitting(key=key, offering_id=first.offering_id, title=_title(s, first), start_at=first.start_at,
                              status="planned", rule=settings.grading.defense_rule,
                              rubric=[list(c) for c in settings.grading.defense_rubric],
                              slot_minutes=max(1, int((first.end_at - first.start_at).total_seconds() // 60)))
            sitting.seats = [Seat(person_id=pid, seat="chair" if i == 0 else "member") for i, pid in enumerate(committee)]
            s.add(sitting)
            s.flush()
            audit.record(s, None, "defense.sitting.create", f"defense_sittings:{sitting.id}", key=key)
            touched.append(sitting.id)
        if sitting.status != "planned":
            continue
        have = {t.student_id: t for t in sitting.turns}
        wanted: dict[int, SessionRecord] = {}
        for r in live:
            for u in (r.detail or {}).get("students", []):
                if u in people:
                    wanted.setdefault(people[u], r)
        changed = False
        for pid, t in list(have.items()):
            if pid not in wanted and t.status == "waiting":
                sitting.turns.remove(t)
                changed = True
        nxt = max((t.position for t in sitting.turns), default=0)
        for pid, r in wanted.items():
            if pid not in have:
                nxt += 1
                sitting.turns.append(Turn(student_id=pid, session_id=r.id, position=nxt, status="waiting",
                                          path="live", questions=[]))
                changed = True
        for t in sitting.turns:  # §31: a student who handed in a recorded presentation is on the recorded path
            path = "recorded" if t.session_id is not None and _handed_in(s, t.session_id, t.student_id) else "live"
            if t.status == "waiting" and t.path != path:
                t.path, changed = path, True
        if changed:
            s.flush()
            _renumber(sitting)
            if sitting.id not in touched:
                touched.append(sitting.id)
    return touched


def _handed_in(s: Session, session_id: int, student_id: int) -> bool:
    from orchestrator.archive.models import Asset

    return s.scalar(select(Asset.id).where(Asset.session_id == session_id, Asset.owner_id == student_id,
                                           Asset.kind == "presentation", Asset.status == "active").limit(1)) is not None


def _title(s: Session, row: SessionRecord) -> str:
    disc = discipline_of(s, row)
    return SITTING["en"].format(discipline=disc.title if disc else row.title, day=row.start_at.date().isoformat())


def _renumber(sitting: Sitting) -> None:
    for i, t in enumerate(sorted(sitting.turns, key=lambda t: t.position), start=1):
        t.position = i


def room_session(s: Session, sitting: Sitting) -> int | None:
    """The session whose room the whole sitting meets in: its earliest slot still planned."""
    return s.scalar(select(SessionRecord.id).where(SessionRecord.sitting == sitting.key,
                                                   SessionRecord.status != "cancelled")
                    .order_by(SessionRecord.start_at, SessionRecord.id).limit(1))


def get_sitting(s: Session, sitting_id: int, *, lock: bool = False) -> Sitting:
    q = select(Sitting).where(Sitting.id == sitting_id)
    if lock:
        q = q.with_for_update()
    sitting = s.scalar(q)
    if sitting is None:
        raise NotFound(f"no sitting {sitting_id}")
    return sitting


def turn_of(sitting: Sitting, turn_id: int) -> Turn:
    turn = next((t for t in sitting.turns if t.id == turn_id), None)
    if turn is None:
        raise NotFound(f"sitting {sitting.id} has no turn {turn_id}")
    return turn


def reorder(s: Session, sitting: Sitting, student_ids: list[int], actor_id: int) -> None:
    """Put the queue in this order: every student of the queue exactly once."""
    have = {t.student_id: t for t in sitting.turns}
    if sorted(student_ids) != sorted(have) or len(set(student_ids)) != len(student_ids):
        missing = sorted(set(have) - set(student_ids))
        extra = sorted(set(student_ids) - set(have))
        raise UserError(f"the new order must name every student of the queue once (missing: {missing}, "
                        f"not in the queue: {extra}, repeated: {len(student_ids) != len(set(student_ids))})",
                        code="bad_order", status=422)
    for i, pid in enumerate(student_ids, start=1):
        have[pid].position = i
    s.flush()
    audit.record(s, actor_id, "defense.queue.reorder", f"defense_sittings:{sitting.id}", order=student_ids)


def set_secretary(s: Session, sitting: Sitting, person_id: int, actor_id: int) -> None:
    if sitting.seat_of(person_id) in ("chair", "member"):
        raise UserError("a member of the committee cannot also be its secretary", code="bad_seat", status=422)
    sitting.seats = [x for x in sitting.seats if x.seat != "secretary"] + [Seat(person_id=person_id, seat="secretary")]
    s.flush()
    audit.record(s, actor_id, "defense.secretary", f"defense_sittings:{sitting.id}", person=person_id)


def start(s: Session, sitting: Sitting, actor_id: int, now: datetime | None = None) -> None:
    if sitting.status != "planned":
        raise Conflict(f"the sitting is already {sitting.status}")
    if not sitting.turns:
        raise UserError("the sitting has nobody in its queue", code="empty_queue", status=422)
    sitting.status, sitting.started_at = "running", now or utcnow()
    s.flush()
    audit.record(s, actor_id, "defense.sitting.start", f"defense_sittings:{sitting.id}")


def admission_problem(s: Session, sitting: Sitting, student_id: int) -> str | None:
    """§29 again, now: every control activity of the offering passed (attendance too where required), or why not."""
    off = s.get(Offering, sitting.offering_id) if sitting.offering_id else None
    if off is None:
        return None
    problems = problems_of(standings(s, off, [student_id])[student_id].values())
    return "§29: " + "; ".join(problems) if problems else None


def start_turn(s: Session, sitting: Sitting, turn: Turn, actor_id: int, now: datetime | None = None) -> Turn | None:
    """Begin ``turn``; the turn presenting before it ends in the same step. Returns that previous turn.

    §29 is checked again: for a student no longer admitted ``NotAdmitted`` carries the reason to the
    chair; the caller's transaction rolls back, and ``refuse`` then keeps the refusal in its own.
    """
    if sitting.status == "planned":
        start(s, sitting, actor_id, now)
    if sitting.status != "running":
        raise Conflict(f"the sitting is {sitting.status}")
    if turn.status != "waiting":
        raise Conflict(f"this student's turn is {turn.status}, not waiting")
    problem = admission_problem(s, sitting, turn.student_id)
    if problem is not None:
        raise NotAdmitted(f"{_name(s, turn.student_id)} is not admitted: {problem}", reason=problem)
    now = now or utcnow()
    previous = end_current(s, sitting, actor_id, now)
    turn.status, turn.started_at = "presenting", now
    if sitting.started_at is not None:
        turn.recording_offset = max(0.0, (now - sitting.started_at).total_seconds())
    sitting.current_turn_id = turn.id
    s.flush()
    audit.record(s, actor_id, "defense.turn.start", f"defense_turns:{turn.id}", student=turn.student_id)
    return previous


def refuse(s: Session, sitting: Sitting, turn: Turn, actor_id: int, reason: str) -> None:
    """Take a student no longer admitted (§29) out of the queue, keeping the reason."""
    if turn.status == "waiting":
        turn.status, turn.note = "refused", reason
        s.flush()
        audit.record(s, actor_id, "defense.turn.refuse", f"defense_turns:{turn.id}", reason=reason)


def end_current(s: Session, sitting: Sitting, actor_id: int, now: datetime | None = None) -> Turn | None:
    cur = next((t for t in sitting.turns if t.id == sitting.current_turn_id), None)
    sitting.current_turn_id = None
    if cur is None or cur.status != "presenting":
        return None
    cur.status, cur.ended_at = "done", now or utcnow()
    s.flush()
    audit.record(s, actor_id, "defense.turn.end", f"defense_turns:{cur.id}")
    return cur


def mark_absent(s: Session, sitting: Sitting, turn: Turn, actor_id: int, *, to: str = "end",
                reserve: Sitting | None = None) -> None:
    """An absent student goes to the end of the queue (once) or to a reserve sitting of the same offering."""
    if turn.status != "waiting":
        raise Conflict(f"this student's turn is {turn.status}: only a waiting student is marked absent")
    if to == "end":
        if turn.note == "absent once":
            turn.status, turn.note = "absent", "absent when called twice"
        else:
            turn.position = max(t.position for t in sitting.turns) + 1
            turn.note = "absent once"
            _renumber(sitting)
    elif to == "reserve":
        if reserve is None or reserve.id == sitting.id or reserve.status != "planned" \
                or reserve.offering_id != sitting.offering_id:
            raise UserError("a reserve sitting is a planned sitting of the same offering", code="bad_reserve", status=422)
        if any(t.student_id == turn.student_id for t in reserve.turns):
            raise Conflict("the student is already in the reserve sitting's queue")
        reserve.turns.append(Turn(student_id=turn.student_id, session_id=turn.session_id,
                                  position=max((t.position for t in reserve.turns), default=0) + 1,
                                  status="waiting", path=turn.path, questions=[], note=f"moved from sitting {sitting.id}"))
        turn.status, turn.note = "moved", f"absent; moved to sitting {reserve.id}"
    else:
        raise UserError("an absent student goes to the 'end' of the queue or to a 'reserve' sitting", status=422)
    s.flush()
    audit.record(s, actor_id, "defense.turn.absent", f"defense_turns:{turn.id}", to=to,
                 reserve=reserve.id if reserve else None)


def note_question(s: Session, sitting: Sitting, turn: Turn, actor_id: int, text: str) -> None:
    text = text.strip()
    if not text:
        raise UserError("a question note needs its text", status=422)
    turn.questions = [*turn.questions, {"by": actor_id, "at": utcnow().isoformat(timespec="seconds"), "text": text}]
    s.flush()
    audit.record(s, actor_id, "defense.question", f"defense_turns:{turn.id}", text=text)


def _name(s: Session, pid: int) -> str:
    p = s.get(Person, pid)
    return p.display_name if p else f"person {pid}"
