"""The sitting's desk behind its room: the chair's socket events checked and applied to the store.

``signaling/handlers/defense.py`` calls ``act(session_id, person_id, action, params)`` for
``turn-start``, ``turn-end``, ``absent`` and ``mic``; the answer tells the room who presents now,
the turn and its timer. Every action asks ``orchestrator/defenses/policy.py`` first, as the
HTTP routes do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.auth import identity_of
from orchestrator.defenses import sittings
from orchestrator.defenses.models import Sitting, Turn
from orchestrator.defenses.policy import sitting_access, viewer_of
from orchestrator.errors import UserError
from orchestrator.services import Services
from orchestrator.store.models import Person, SessionRecord
from signaling.backend import SittingRefused


def sitting_of_session(s: Session, session_id: int) -> Sitting | None:
    row = s.get(SessionRecord, session_id)
    if row is None or row.kind != "defense" or not row.sitting:
        return None
    return s.scalar(select(Sitting).where(Sitting.key == row.sitting).with_for_update())


def turn_info(s: Session, sitting: Sitting, turn: Turn, warning_seconds: int) -> dict[str, Any]:
    assert turn.started_at is not None
    ends = turn.started_at + timedelta(minutes=sitting.slot_minutes)
    warn = max(turn.started_at, ends - timedelta(seconds=warning_seconds))
    student = s.get(Person, turn.student_id)
    return {"id": turn.id, "position": turn.position, "student_id": turn.student_id,
            "name": student.display_name if student else "", "path": turn.path,
            "started_at": turn.started_at.timestamp(), "warn_at": warn.timestamp(), "ends_at": ends.timestamp(),
            "recording_offset": turn.recording_offset}


def on_deck(sitting: Sitting) -> list[int]:
    """The student next in the queue (the first waiting turn): may pre-publish on standby in the room."""
    waiting = sorted((t for t in sitting.turns if t.status == "waiting"), key=lambda t: t.position)
    return [waiting[0].student_id] if waiting else []


def queue_answer(sitting: Sitting) -> dict[str, Any]:
    """What the sitting's room must show after the queue changed (a student marked absent)."""
    return {"sitting": sitting.id, "queue": [
        {"id": t.id, "position": t.position, "status": t.status, "student_id": t.student_id}
        for t in sorted(sitting.turns, key=lambda t: t.position)], "on_deck": on_deck(sitting)}


def floor_answer(s: Session, sitting: Sitting, turn: Turn | None, prev: Turn | None, warning: int) -> dict[str, Any]:
    """What the sitting's room must show after a turn started (``turn``) or ended (None)."""
    return {"sitting": sitting.id, "presenter": turn.student_id if turn else None,
            "previous": prev.student_id if prev else None,
            "turn": turn_info(s, sitting, turn, warning) if turn else None, "on_deck": on_deck(sitting)}


class Desk:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def act(self, session_id: int, person_id: int, action: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.svc.db_call(lambda s: self._act(s, session_id, person_id, action, params))
        except sittings.NotAdmitted as exc:
            reason = exc.reason
            queue = await self.svc.db_call(lambda s: self._refuse(s, session_id, person_id, int(params["turn_id"]),
                                                                  reason))  # fmt: skip
            raise SittingRefused(str(exc), exc.code, queue) from None
        except UserError as exc:
            raise SittingRefused(str(exc), exc.code) from None

    def _sitting(self, s: Session, session_id: int, person_id: int) -> tuple[Sitting, Any]:
        sitting = sitting_of_session(s, session_id)
        if sitting is None:
            raise UserError("this room holds no defense sitting", code="not_a_sitting")
        person = s.get(Person, person_id)
        if person is None:
            raise UserError("unknown person", code="forbidden")
        viewer = viewer_of(s, identity_of(person), sitting)
        sitting_access(viewer, "run", sitting).enforce()
        return sitting, viewer

    def _refuse(self, s: Session, session_id: int, person_id: int, turn_id: int, reason: str) -> dict[str, Any]:
        sitting, _ = self._sitting(s, session_id, person_id)
        sittings.refuse(s, sitting, sittings.turn_of(sitting, turn_id), person_id, reason)
        return queue_answer(sitting)

    def _act(self, s: Session, session_id: int, person_id: int, action: str, params: dict[str, Any]) -> dict[str, Any]:
        sitting, _ = self._sitting(s, session_id, person_id)
        warning = self.svc.settings.grading.defense_warning_seconds
        if action == "turn-start":
            turn = sittings.turn_of(sitting, int(params["turn_id"]))
            prev = sittings.start_turn(s, sitting, turn, person_id)
            return floor_answer(s, sitting, turn, prev, warning)
        if action == "turn-end":
            prev = sittings.end_current(s, sitting, person_id)
            return floor_answer(s, sitting, None, prev, warning)
        if action == "absent":
            reserve = sittings.get_sitting(s, int(params["reserve"]), lock=True) if params.get("reserve") else None
            sittings.mark_absent(s, sitting, sittings.turn_of(sitting, int(params["turn_id"])), person_id,
                                 to=str(params.get("to", "end")), reserve=reserve)
            return queue_answer(sitting)
        if action == "mic":
            target = int(params["person_id"])
            if sitting.seat_of(target) not in ("member", "secretary"):
                raise UserError("the chair opens the microphone of a committee member or the secretary only",
                                code="not_a_member")
            return {"sitting": sitting.id}
        raise UserError(f"unknown sitting action {action!r}", code="bad_event")
