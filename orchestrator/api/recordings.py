"""The recording switch and state of a session (the room's indicator reads it; a consultation's host flips it).

Policy and the running side are in ``orchestrator.recordings``; these routes only check who asks
(``can_view_recording_state`` / ``can_toggle_recording``) and pass the host's choice on over the
bus, so the node that holds the room's media acts on it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import api, services
from orchestrator.api.rooms import HOSTS, ROOM_PEOPLE
from orchestrator.errors import UserError
from orchestrator.http import identity, parse_body
from orchestrator.policy import load_or_404
from orchestrator.recordings import (
    RECORDINGS,
    RecordingPolicy,
    Recordings,
    can_toggle_recording,
    can_view_recording_state,
    policy_of,
)
from orchestrator.store.models import Offering, SessionRecord


class RecordingBody(BaseModel):
    on: bool


def _recordings(request: web.Request) -> Recordings | None:
    rec = request.app.get(RECORDINGS)
    return rec if isinstance(rec, Recordings) else None



@api.route("GET", "/api/sessions/{session_id:\\d+}/recording", roles=ROOM_PEOPLE, summary="Whether the session is being recorded, and who decides", tags=("rooms",))  # noqa: E501
async def recording_state(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])

    def run(s: Session) -> tuple[RecordingPolicy, bool]:
        row = load_or_404(s, SessionRecord, session_id, f"session {session_id} does not exist",
                          lambda r: can_view_recording_state(s, ident, r))
        offering = s.get(Offering, row.offering_id) if row.offering_id is not None else None
        return policy_of(row, offering), bool(can_toggle_recording(s, ident, row, offering))

    policy, can_toggle = await svc.db_call(run)
    rec = _recordings(request)
    state = rec.state(session_id) if rec is not None else {"on": False}
    return {"session_id": session_id, **state, "policy": policy.to_dict(), "can_toggle": can_toggle}


@api.route("POST", "/api/sessions/{session_id:\\d+}/recording", roles=HOSTS, summary="The host turns a consultation's recording on or off", body=RecordingBody, tags=("rooms",))  # noqa: E501
async def set_recording(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])
    body = await parse_body(request, RecordingBody)
    rec = _recordings(request)
    if rec is None:
        raise UserError("live rooms are not enabled on this node", code="unavailable", status=503)

    def run(s: Session) -> None:
        row = load_or_404(s, SessionRecord, session_id, f"session {session_id} does not exist")
        offering = s.get(Offering, row.offering_id) if row.offering_id is not None else None
        can_toggle_recording(s, ident, row, offering).enforce()
        if row.status not in ("open", "live"):
            raise UserError(f"session {session_id} is {row.status}: only an open session can be recorded",
                            code="not_live", status=409)  # fmt: skip
        row.detail = {**(row.detail or {}), "recording": {"on": body.on, "by": ident.person_id}}
        audit.record(s, ident.person_id, "recording.on" if body.on else "recording.off", f"session:{session_id}")

    await svc.db_call(run)
    await svc.bus.publish("room.control", {"action": "recording", "session_id": session_id, "on": body.on,
                                           "by": ident.person_id})  # fmt: skip
    return {"session_id": session_id, **rec.state(session_id), "requested": body.on}
