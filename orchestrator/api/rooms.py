"""Room entry and chat over HTTP: join tokens with ICE servers, revocation, chat history/export, off-line thread.

Only people the plan puts in a session get a join token (or registrar/admin, as observers);
a student of another group is refused. The token's grant comes from ``signaling.grants``'
one table; the Socket.IO server checks it at connect and on every event.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import STAFF, TEACHING, api, services
from orchestrator.api.schemas import ChatHistoryOut, JoinOut, PostedMessageOut
from orchestrator.auth import Identity
from orchestrator.errors import Forbidden, NotFound, UserError
from orchestrator.http import identity, parse_body
from orchestrator.policy import can_use_chat, load_or_404
from orchestrator.schedule_views import group_ids_of, join_url, session_json
from orchestrator.store.models import JoinGrant, RevokedGrant, SessionRecord
from orchestrator.store.types import utcnow
from signaling.chat import ChatRefused, to_json, to_webvtt
from signaling.grants import Grant, GrantError, JoinClaims, grant_for, issue, room_kind

ROOM_PEOPLE = STAFF | TEACHING | frozenset({"student", "committee"})
HOSTS = STAFF | TEACHING | frozenset({"committee"})
LIVE_STATES = ("open", "live")
ENDED_STATES = ("closed", "recorded", "composed", "archived", "packaged", "cancelled")


def session_role(s: Session, row: SessionRecord, ident: Identity) -> str | None:
    """The person's role in this session as the plan says (None when the plan does not name them).

    A defense slot belongs to a sitting whose room is shared: there the sitting says who is who
    (its seats; every student of its queue a presenter, under the floor), and anyone else signed
    in is the public audience (§31: defenses are public).
    """
    if row.kind == "defense" and row.sitting:
        from orchestrator.defenses.policy import room_role

        role = room_role(s, row, ident)
        if role is not None:
            return role
    for p in row.participants:
        if p.person_id == ident.person_id:
            return p.role
    if row.tutor_id == ident.person_id:
        return "host"
    if row.group_id is not None and row.group_id in group_ids_of(s, ident.person_id):
        return "participant" if room_kind(row.kind) == "consultation" else "audience"
    if ident.has(*STAFF):
        return "observer"
    return None


def _session(s: Session, session_id: int) -> SessionRecord:
    return load_or_404(s, SessionRecord, session_id, f"session {session_id} does not exist")


def _grant_of(s: Session, row: SessionRecord, ident: Identity) -> Grant:
    role = session_role(s, row, ident)
    if role is None:
        raise Forbidden(f"you are not in the plan of session {row.id}", code="not_participant")
    try:
        return grant_for(row.kind, role)
    except GrantError as exc:
        raise Forbidden(str(exc), code=exc.code) from None


def _moderates(s: Session, row: SessionRecord, ident: Identity) -> bool:
    return ident.has(*STAFF) or _grant_of(s, row, ident).moderate


def _chat_standing(s: Session, session_id: int, ident: Identity) -> tuple[bool, str, bool]:
    """(moderates, session status, grant allows chat) of the asker; Forbidden when not in the plan."""
    row = _session(s, session_id)
    grant = _grant_of(s, row, ident)
    return ident.has(*STAFF) or grant.moderate, row.status, grant.chat


def _ice_servers(svc: Any, person_id: int) -> list[dict[str, Any]]:
    from media.errors import MediaError
    from media.live.turn import TurnConfig, ice_servers

    ice = svc.settings.ice
    secret = ice.turn_secret.get_secret_value() if ice.turn_secret is not None else ""
    cfg = TurnConfig(secret=secret, urls=list(ice.turn_urls), stun_urls=list(ice.stun_urls),
                     ttl_seconds=ice.turn_ttl_seconds)  # fmt: skip
    try:
        return [server.to_browser() for server in ice_servers(cfg, str(person_id), time.time())]
    except MediaError as exc:
        raise UserError(f"ICE configuration: {exc}", code="config", status=500) from None


@api.route("POST", "/api/sessions/{session_id:\\d+}/join", roles=ROOM_PEOPLE, summary="A join token for the session's room, with ICE servers (TURN credentials)", tags=("rooms",), response=JoinOut)  # noqa: E501
async def join_session(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])
    lifecycle = svc.settings.lifecycle

    def run(s: Session) -> tuple[dict[str, Any], Grant, datetime, datetime, str]:
        row = _session(s, session_id)
        grant = _grant_of(s, row, ident)  # first: an outsider learns nothing about the session's state
        if row.status in ENDED_STATES:
            raise UserError(f"session {row.id} is {row.status}; its room is closed", code="session_ended", status=409)
        nbf = row.start_at - timedelta(minutes=lifecycle.lobby_minutes)
        exp = row.end_at + timedelta(minutes=lifecycle.grace_minutes)
        return session_json(row, ident.timezone, svc.settings.effective_public_url), grant, nbf, exp, row.kind

    info, grant, nbf, exp, kind = await svc.db_call(run)
    now = time.time()
    if now >= exp.timestamp():
        raise UserError("this session is over; its join window has closed", code="session_ended", status=409)
    claims = JoinClaims(ident.person_id, session_id, ident.display_name, grant, nbf.timestamp(), exp.timestamp(),
                        room_kind=room_kind(kind))  # fmt: skip
    token = issue(svc.settings.signing_key(), claims, now=now)
    await svc.db_call(lambda s: s.add(JoinGrant(jti=claims.jti, session_id=session_id, person_id=ident.person_id,
                                                expires_at=exp)))  # fmt: skip
    return {
        "token": token,
        "jti": claims.jti,
        "not_before": nbf.isoformat(),
        "expires_at": exp.isoformat(),
        "grant": grant.to_dict(),
        "ice_servers": _ice_servers(svc, ident.person_id),
        "session": info,
        "room_url": join_url(svc.settings.effective_public_url, session_id),
        "socket_path": "/socket.io/",
    }


@api.route("POST", "/api/sessions/{session_id:\\d+}/grants/{jti:[A-Za-z0-9_-]{1,64}}/revoke", roles=HOSTS, summary="Revoke a join token (its holder is removed from the room at once)", tags=("rooms",))  # noqa: E501
async def revoke_grant(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id, jti = int(request.match_info["session_id"]), request.match_info["jti"]
    grace = svc.settings.lifecycle.grace_minutes

    def run(s: Session) -> tuple[str, int]:
        row = _session(s, session_id)
        if not _moderates(s, row, ident):
            raise Forbidden("only the session's host or staff may revoke join links")
        issued = s.get(JoinGrant, jti)
        if issued is None or issued.session_id != session_id:  # a token of another session is not yours to revoke
            raise NotFound(f"session {session_id} issued no join link {jti}", code="no_such_grant")
        expires = row.end_at + timedelta(minutes=grace)
        if s.get(RevokedGrant, jti) is None:
            s.add(RevokedGrant(jti=jti, expires_at=expires, session_id=session_id, person_id=issued.person_id))
            audit.record(s, ident.person_id, "grant.revoke", f"session:{session_id}", jti=jti, person_id=issued.person_id)
        return expires.isoformat(), issued.person_id

    expires, holder = await svc.db_call(run)
    if svc.signaling is not None:  # the holder goes back to the lobby: a new token does not walk back in
        await svc.signaling.revoke(session_id, holder, jti, by=ident.person_id)
    else:
        await svc.bus.publish("room.control", {"action": "revoke", "session_id": session_id, "jti": jti,
                                               "person_id": holder, "by": ident.person_id})  # fmt: skip
    return {"jti": jti, "revoked": True, "until": expires}


def _chat(request: web.Request) -> Any:
    server = services(request).signaling
    if server is None:
        raise UserError("live rooms are not enabled on this node", code="unavailable", status=503)
    return server


@api.route("GET", "/api/sessions/{session_id:\\d+}/chat", roles=ROOM_PEOPLE, summary="The session's chat thread (live and off-line messages)", tags=("rooms",), response=ChatHistoryOut)  # noqa: E501
async def chat_history(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])
    moderator, status, chat = await svc.db_call(lambda s: _chat_standing(s, session_id, ident))
    server = _chat(request)
    member = await server.b.rooms.get_member(session_id, ident.person_id)
    can_use_chat(status, member, moderator=moderator, write=False, grant_chat=chat).enforce()
    records = await server.b.chat_store.history(session_id)
    return {"session_id": session_id, "messages": [r.to_dict(moderator=moderator) for r in records]}


class MessageBody(BaseModel):
    body: str = Field(min_length=1, max_length=100_000)


@api.route("POST", "/api/sessions/{session_id:\\d+}/messages", roles=ROOM_PEOPLE, summary="Write to the session's thread (off-line outside live time, §25)", body=MessageBody, tags=("rooms",), response=PostedMessageOut)  # noqa: E501
async def post_message(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])

    moderator, status, chat = await svc.db_call(lambda s: _chat_standing(s, session_id, ident))
    server = _chat(request)
    member = await server.b.rooms.get_member(session_id, ident.person_id)
    can_use_chat(status, member, moderator=moderator, write=True, grant_chat=chat).enforce()
    body: MessageBody = await parse_body(request, MessageBody)
    try:
        record = await server.b.chat.send(session_id=session_id, sender_id=ident.person_id,
                                          sender_name=ident.display_name, body=body.body,
                                          offline=status not in LIVE_STATES)  # fmt: skip
    except ChatRefused as exc:
        raise UserError(str(exc), code=exc.code, status=429 if exc.code == "rate_limited" else 422) from None
    if not record.offline:
        await server.broadcast_chat(record)
    return {"message": record.to_dict()}


@api.route("GET", "/api/sessions/{session_id:\\d+}/chat/export", roles=HOSTS, summary="The chat as JSON or a WebVTT timeline relative to the session start", query={"format": "json (default) or vtt"}, produces="application/json", tags=("rooms",))  # noqa: E501
async def chat_export(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    ident = identity(request)
    session_id = int(request.match_info["session_id"])
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "vtt"):
        raise UserError(f"format must be json or vtt, not {fmt!r}", code="invalid_query")

    def run(s: Session) -> datetime:
        row = _session(s, session_id)
        if not _moderates(s, row, ident):
            raise Forbidden("only the session's host or staff may export its chat")
        return _origin(s, row)

    origin = await svc.db_call(run)
    records = await _chat(request).b.chat_store.history(session_id)
    if fmt == "vtt":
        return web.Response(text=to_webvtt(records, origin), content_type="text/vtt", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="session-{session_id}-chat.vtt"'})  # fmt: skip
    return web.Response(text=to_json(records, origin=origin), content_type="application/json", charset="utf-8")


def _origin(s: Session, row: SessionRecord) -> datetime:
    """The timeline's zero: when the session went live (recording starts then), else its planned start."""
    from orchestrator.store.models import Transition

    live = s.scalar(select(Transition.at).where(Transition.session_id == row.id, Transition.to_status == "live"))
    return (live or row.start_at).astimezone(UTC)


@api.route("DELETE", "/api/sessions/{session_id:\\d+}/chat/{message_id:\\d+}", roles=HOSTS, summary="Delete a chat message (moderators; audited with the reason)", query={"reason": "why (required)"}, tags=("rooms",))  # noqa: E501
async def delete_message(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    ident = identity(request)
    session_id, message_id = int(request.match_info["session_id"]), int(request.match_info["message_id"])

    def check(s: Session) -> None:
        row = _session(s, session_id)
        if not _moderates(s, row, ident):
            raise Forbidden("only the session's moderators may delete messages")

    await svc.db_call(check)
    reason = request.query.get("reason", "").strip()
    if not reason or len(reason) > 500:
        raise UserError("reason: say why the message is deleted (1-500 characters)", code="invalid_query", status=422)
    server = _chat(request)
    try:
        record = await server.b.chat_store.delete(session_id, message_id, ident.person_id, reason)
    except KeyError:
        raise NotFound(f"message {message_id} is not in session {session_id}") from None
    await server.broadcast_deleted(record)
    return {"message": record.to_dict(moderator=True), "deleted_at": (record.deleted_at or utcnow()).isoformat()}
