"""The Socket.IO handlers: token on connect, then every event validated and checked against the grant.

    server = SignalingServer(sio, backend)        # registers connect / disconnect / "*" on ``sio``
    await server.on_media_event("track-added", 42, 7, {...})   # from the media plane (owning node)
    await server.on_control({"action": "end", "session_id": 42, ...})  # from the bus, on every node

One choke point (``_dispatch``) parses each client event with its schema, refuses it with an
``error`` event ``{code, message, event}`` (and a ``{ok: false, error}`` ack) when the schema,
the size, the lobby or the GRANT says no, and only then runs the handler. Handlers never look
at role names. Actions that must reach sockets on other nodes (admit, deny, remove, revoke,
end) travel as control messages on the service bus; everything else is a Socket.IO emit to a
room, which python-socketio's Redis manager carries across nodes.

Socket.IO rooms: ``s<sid>`` admitted people of session <sid>, ``m<sid>`` its moderators,
``p<sid>:<person>`` every socket of one person (lobby included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import socketio

from signaling.chat import Chat, ChatRecord, ChatRefused, ChatStore
from signaling.grants import GrantError, JoinClaims
from signaling.protocol import (
    CLIENT_EVENTS,
    HISTORY_LIMIT,
    ChatDelete,
    ChatSend,
    Deny,
    End,
    Hand,
    LobbyPolicy,
    MediaAnswer,
    MediaJoin,
    MediaRenegotiate,
    MuteRequest,
    PersonRef,
    Presenter,
    ProtocolError,
    Remove,
    parse,
)
from signaling.room import Member, RoomMeta, RoomStore, admission, default_auto_admit, raise_hand

log = logging.getLogger("aulacast.signaling")

KICK_DELAY = 0.3  # seconds between a removal notice and the disconnect
FULL_REFILL_BEATS = 20  # every 20th refill re-asserts everything even if the store kept its mark
ENDED_STATES = frozenset({"closed", "recorded", "composed", "archived", "packaged", "cancelled"})


class MediaRefused(Exception):
    """The media plane said no; ``code`` goes to the client as is (bad_sdp, not_allowed, ...)."""

    def __init__(self, message: str, code: str = "media_refused") -> None:
        super().__init__(message)
        self.code = code


class MediaPlane(Protocol):
    """What signaling asks of the media plane, in session/person terms (the composition root adapts)."""

    async def join(
        self, session_id: int, person_id: int, kind: str, grant: dict[str, bool], sdp: str | None,
        sources: Mapping[str, str],
    ) -> str | None: ...  # fmt: skip
    async def renegotiate(self, session_id: int, person_id: int, sdp: str, sources: Mapping[str, str]) -> str: ...
    async def answer(self, session_id: int, person_id: int, sdp: str) -> None: ...
    async def leave(self, session_id: int, person_id: int) -> None: ...
    async def set_active_speaker(self, session_id: int, person_id: int | None) -> None: ...
    async def close_room(self, session_id: int) -> None: ...


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str
    kind: str
    status: str
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass
class Backend:
    """Everything the signaling server needs from the service, injected by the composition root."""

    verify: Callable[[str], Awaitable[JoinClaims]]  # raises GrantError
    session_info: Callable[[int], Awaitable[SessionInfo | None]]
    chat: Chat
    chat_store: ChatStore
    rooms: RoomStore
    media: MediaPlane | None
    control: Callable[[dict[str, Any]], Awaitable[None]]  # publish to every node (bus "room.control")
    audit: Callable[[int, str, str, dict[str, Any]], Awaitable[None]]
    node: str = "local"


@dataclass
class Conn:
    """One socket on this node."""

    socket_id: str
    claims: JoinClaims
    session: SessionInfo
    state: str = "arriving"  # arriving | lobby | room | gone
    media: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def session_id(self) -> int:
        return self.claims.session_id

    @property
    def person_id(self) -> int:
        return self.claims.person_id


def room_of(session_id: int) -> str:
    return f"s{session_id}"


def mods_of(session_id: int) -> str:
    return f"m{session_id}"


def person_of(session_id: int, person_id: int) -> str:
    return f"p{session_id}:{person_id}"


class SignalingServer:
    """Binds the room rules to one ``socketio.AsyncServer``."""

    def __init__(self, sio: socketio.AsyncServer, backend: Backend) -> None:
        self.sio = sio
        self.b = backend
        self.conns: dict[str, Conn] = {}
        # socket ids per (session, person) on this node: connect/disconnect look people up without
        # scanning every socket (at 5,000 sockets those scans made connecting quadratic)
        self._sockets_of: dict[tuple[int, int], set[str]] = {}
        self._members: dict[tuple[int, int], Member] = {}  # cache of local people, for Redis refills
        self._metas: dict[int, RoomMeta] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._beats = 0
        self._recovering = False  # our alive mark lapsed: re-assert in full and announce again whom others swept
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)
        sio.on("*", self._dispatch)

    # --- connect / disconnect -------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = await self.b.verify(token or "")
        except GrantError as exc:
            raise _refused(exc.code, str(exc)) from None
        except Exception:
            log.exception("token check failed")
            raise _refused("unavailable", "the service cannot check your link right now; retry") from None
        info = await self.b.session_info(claims.session_id)
        if info is None:
            raise _refused("not_found", f"session {claims.session_id} does not exist")
        if info.status in ENDED_STATES:
            raise _refused("session_ended", f"the session is {info.status}; the room is closed")
        conn = Conn(sid, claims, info)
        self.conns[sid] = conn
        self._sockets_of.setdefault((claims.session_id, claims.person_id), set()).add(sid)
        await self.sio.enter_room(sid, person_of(claims.session_id, claims.person_id))
        self._spawn(self._arrive(conn))
        return True

    async def _arrive(self, conn: Conn) -> None:
        """Put a new socket in the room or the lobby (after the CONNECT ack has gone out)."""
        try:
            c, sid = conn.claims, conn.session_id
            defaults = RoomMeta(kind=c.room_kind, auto_admit=default_auto_admit(c.room_kind))
            meta = await self.b.rooms.ensure_room(sid, defaults)
            self._metas[sid] = meta
            if meta.ended:
                await self._send(conn.socket_id, "session-ended", {"reason": meta.ended_reason, "by": None})
                await self.sio.disconnect(conn.socket_id)
                return
            member = await self.b.rooms.get_member(sid, c.person_id)
            resumed = member is not None
            member = member or Member(c.person_id, c.name, c.grant.role)
            member.name, member.role, member.moderator = c.name, c.grant.role, c.grant.moderate
            await self.b.rooms.add_socket(sid, conn.socket_id, c.person_id, self.b.node)
            if conn.socket_id not in self.conns:  # disconnected while we were arriving
                await self.b.rooms.remove_socket(sid, conn.socket_id, c.person_id)
                return
            if admission(meta, member, moderator=c.grant.moderate) == "room":
                member.admitted = True
                await self._put(sid, member)
                await self._enter(conn, member, resumed)
            else:
                await self._put(sid, member)
                conn.state = "lobby"
                await self._send(conn.socket_id, "lobby", {
                    "session": conn.session.to_dict(), "you": self._you(conn),
                    "message": "the host will let you in shortly", "auto_admit": meta.auto_admit,
                })  # fmt: skip
                await self.sio.emit("waiting", self._waiting_entry(member), room=mods_of(sid))
        except Exception:
            log.exception("arrival failed", extra={"session_id": conn.session_id})
            await self._send(conn.socket_id, "error", ProtocolError(
                "unavailable", "the room could not be entered; reconnecting will retry", None).to_dict())  # fmt: skip
            await self.sio.disconnect(conn.socket_id)
        finally:
            conn.arrived.set()
            if conn.socket_id not in self.conns and conn.state in ("room", "lobby"):
                await self._depart(conn, conn.state)  # the socket went away while it was arriving

    async def _enter(self, conn: Conn, member: Member, resumed: bool) -> None:
        sid = conn.session_id
        first = not any(
            self.conns[o].state == "room" for o in self._sockets_of.get((sid, member.person_id), ())
            if o != conn.socket_id and o in self.conns
        )  # fmt: skip
        await self.sio.enter_room(conn.socket_id, room_of(sid))
        if conn.claims.grant.moderate:
            await self.sio.enter_room(conn.socket_id, mods_of(sid))
        conn.state = "room"
        await self._send(conn.socket_id, "welcome", await self._welcome(conn, resumed))
        if first:
            await self.sio.emit("member-joined", member.public(True), room=room_of(sid), skip_sid=conn.socket_id)

    async def _welcome(self, conn: Conn, resumed: bool) -> dict[str, Any]:
        sid = conn.session_id
        meta = await self.b.rooms.get_meta(sid) or RoomMeta()
        members = await self.b.rooms.members(sid)
        online = await self.b.rooms.online(sid)
        history = await self.b.chat_store.history(sid, HISTORY_LIMIT)
        moderator = conn.claims.grant.moderate
        return {
            "session": conn.session.to_dict(),
            "you": self._you(conn),
            "room": {"auto_admit": meta.auto_admit, "presenter": meta.presenter, "kind": meta.kind},
            "members": [m.public(m.person_id in online) for m in members.values() if m.admitted],
            "waiting": [self._waiting_entry(m) for m in members.values()
                        if moderator and not m.admitted and m.person_id in online],
            "history": [r.to_dict(moderator=moderator) for r in history],
            "resumed": resumed,
        }  # fmt: skip

    @staticmethod
    def _you(conn: Conn) -> dict[str, Any]:
        c = conn.claims
        return {"person_id": c.person_id, "name": c.name, "role": c.grant.role, "grant": c.grant.to_dict()}

    @staticmethod
    def _waiting_entry(m: Member) -> dict[str, Any]:
        return {"person_id": m.person_id, "name": m.name, "role": m.role, "removed_before": m.removed}

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.conns.pop(sid, None)
        if conn is None:
            return
        key = (conn.session_id, conn.person_id)
        mine = self._sockets_of.get(key)
        if mine is not None:
            mine.discard(sid)
            if not mine:
                del self._sockets_of[key]
        prior = conn.state.removeprefix("leaving:")
        if prior == "arriving":
            return  # _arrive sees the socket gone and cleans up
        conn.state = "gone"
        await self._depart(conn, prior)

    async def _depart(self, conn: Conn, prior: str) -> None:
        conn.state = "gone"
        sid = conn.socket_id
        session_id, person_id = conn.session_id, conn.person_id
        try:
            if conn.media and self.b.media is not None and not self._local_media(session_id, person_id):
                with contextlib.suppress(MediaRefused):
                    await self.b.media.leave(session_id, person_id)
            left = await self.b.rooms.remove_socket(session_id, sid, person_id)
        except Exception:
            log.exception("disconnect bookkeeping failed", extra={"session_id": session_id})
            return
        if left == 0:
            self._members.pop((session_id, person_id), None)
            await self._announce_left(session_id, person_id, prior)

    async def _announce_left(self, session_id: int, person_id: int, prior: str) -> None:
        """The presence update for a person's last socket going (a disconnect here, or a dead node's sweep)."""
        if prior == "room":
            await self.sio.emit("member-left", {"person_id": person_id}, room=room_of(session_id))
        elif prior == "lobby":
            await self.sio.emit("waiting-left", {"person_id": person_id, "admitted": False},
                                room=mods_of(session_id))  # fmt: skip

    def _local_media(self, session_id: int, person_id: int) -> bool:
        return any(self.conns[s].media for s in self._sockets_of.get((session_id, person_id), ()) if s in self.conns)

    # --- the one choke point ----------------------------------------------------------------------

    async def _dispatch(self, event: str, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        conn = self.conns.get(sid)
        try:
            if conn is None:
                raise ProtocolError("not_admitted", "this connection is not in a room", event)
            if extra:
                raise ProtocolError("bad_event", f"the {event} event takes one JSON object", event)
            msg = parse(event, data)
            spec = CLIENT_EVENTS[event]
            if spec.needs != "any":
                if conn.state == "arriving":
                    await asyncio.wait_for(conn.arrived.wait(), 10)
                if conn.state != "room":
                    raise ProtocolError("not_admitted", "you are in the lobby; wait for the host to let you in", event)
                if spec.needs == "chat" and not conn.claims.grant.chat:
                    raise ProtocolError("forbidden", "your grant does not allow chat", event)
                if spec.needs == "moderate" and not conn.claims.grant.moderate:
                    raise ProtocolError("forbidden", f"only a moderator may send {event}", event)
            handler = getattr(self, "_on_" + event.replace("-", "_"))
            result = await handler(conn, msg)
            return {"ok": True, **(result or {})}
        except ProtocolError as exc:
            err = exc.to_dict()
        except ChatRefused as exc:
            err = {"code": exc.code, "message": str(exc), "event": event}
        except MediaRefused as exc:
            err = {"code": exc.code, "message": str(exc), "event": event}
        except (ConnectionError, TimeoutError, OSError) as exc:
            log.warning("shared service unreachable during %s: %s", event, exc)
            err = {"code": "unavailable", "message": "a shared service is briefly unreachable; retry", "event": event}
        except Exception as exc:
            if type(exc).__module__.startswith("redis"):
                err = {"code": "unavailable", "message": "Redis is briefly unreachable; retry", "event": event}
            else:
                log.exception("event %s failed", event)
                err = {"code": "internal", "message": "unexpected server fault; it is logged", "event": event}
        await self._send(sid, "error", err)
        return {"ok": False, "error": err}

    # --- handlers ---------------------------------------------------------------------------------

    async def _on_state(self, conn: Conn, msg: Any) -> dict[str, Any]:
        if conn.state == "arriving":
            await asyncio.wait_for(conn.arrived.wait(), 10)
        if conn.state == "room":
            await self._send(conn.socket_id, "welcome", await self._welcome(conn, True))
        return {"state": conn.state}

    async def _on_chat(self, conn: Conn, msg: ChatSend) -> dict[str, Any]:
        c = conn.claims
        record = await self.b.chat.send(session_id=c.session_id, sender_id=c.person_id, sender_name=c.name,
                                        body=msg.body)  # fmt: skip
        out = record.to_dict()
        if msg.client_id is not None:
            out["client_id"] = msg.client_id
        await self.sio.emit("chat", out, room=room_of(c.session_id))
        return {"message": out}

    async def _on_chat_delete(self, conn: Conn, msg: ChatDelete) -> dict[str, Any]:
        try:
            record = await self.b.chat_store.delete(conn.session_id, msg.message_id, conn.person_id, msg.reason)
        except KeyError:
            raise ProtocolError("not_found", f"message {msg.message_id} is not in this session", "chat-delete") from None
        await self.broadcast_deleted(record)
        return {"message_id": record.id}

    async def broadcast_deleted(self, record: ChatRecord) -> None:
        """Tell the room a message is gone (also used by the HTTP DELETE route)."""
        data = {"id": record.id, "deleted_by": record.deleted_by, "reason": record.delete_reason,
                "deleted_at": record.deleted_at.isoformat() if record.deleted_at else None}  # fmt: skip
        await self.sio.emit("chat-deleted", data, room=room_of(record.session_id))

    async def broadcast_chat(self, record: ChatRecord) -> None:
        """A message written through HTTP (off-line thread) shown to whoever is in the room."""
        await self.sio.emit("chat", record.to_dict(), room=room_of(record.session_id))

    async def _on_hand(self, conn: Conn, msg: Hand) -> dict[str, Any]:
        target = conn.person_id if msg.person_id is None else msg.person_id
        if target != conn.person_id and not (conn.claims.grant.moderate and not msg.raised):
            raise ProtocolError("forbidden", "only a moderator may lower someone else's hand", "hand")
        member = await self._member(conn.session_id, target, "hand")
        await self._put(conn.session_id, raise_hand(member, msg.raised))
        data = {"person_id": target, "raised": msg.raised, "by": conn.person_id}
        await self.sio.emit("hand", data, room=room_of(conn.session_id))
        return data

    async def _on_admit(self, conn: Conn, msg: PersonRef) -> dict[str, Any]:
        member = await self._member(conn.session_id, msg.person_id, "admit")
        member.admitted, member.removed = True, False
        await self._put(conn.session_id, member)
        await self.b.control({"action": "admit", "session_id": conn.session_id, "person_id": msg.person_id,
                              "by": conn.person_id})  # fmt: skip
        return {"person_id": msg.person_id}

    async def _on_deny(self, conn: Conn, msg: Deny) -> dict[str, Any]:
        member = await self._member(conn.session_id, msg.person_id, "deny")
        if member.admitted:
            raise ProtocolError("bad_event", "that person is already in the room; use remove", "deny")
        await self.b.control({"action": "deny", "session_id": conn.session_id, "person_id": msg.person_id,
                              "by": conn.person_id, "reason": msg.reason})  # fmt: skip
        return {"person_id": msg.person_id}

    async def _on_lobby_policy(self, conn: Conn, msg: LobbyPolicy) -> dict[str, Any]:
        sid = conn.session_id
        self._metas[sid] = await self.b.rooms.set_meta(sid, auto_admit=msg.auto_admit)
        await self.sio.emit("lobby-policy", {"auto_admit": msg.auto_admit, "by": conn.person_id}, room=room_of(sid))
        admitted = []
        if msg.auto_admit:
            online = await self.b.rooms.online(sid)
            for m in (await self.b.rooms.members(sid)).values():
                if not m.admitted and not m.removed and m.person_id in online:
                    m.admitted = True
                    await self._put(sid, m)
                    await self.b.control({"action": "admit", "session_id": sid, "person_id": m.person_id,
                                          "by": conn.person_id})  # fmt: skip
                    admitted.append(m.person_id)
        return {"auto_admit": msg.auto_admit, "admitted": admitted}

    async def _on_mute_request(self, conn: Conn, msg: MuteRequest) -> dict[str, Any]:
        await self._member(conn.session_id, msg.person_id, "mute-request")
        data = {"source": msg.source, "muted": msg.muted, "by": conn.person_id}
        await self.sio.emit("mute-requested", data, room=person_of(conn.session_id, msg.person_id))
        return {"person_id": msg.person_id, **data}

    async def _on_remove(self, conn: Conn, msg: Remove) -> dict[str, Any]:
        if msg.person_id == conn.person_id:
            raise ProtocolError("bad_event", "you cannot remove yourself; leave instead", "remove")
        member = await self._member(conn.session_id, msg.person_id, "remove")
        member.admitted, member.removed = False, True
        raise_hand(member, False)
        await self._put(conn.session_id, member)
        await self.b.audit(conn.person_id, "room.remove", f"session:{conn.session_id}",
                           {"person_id": msg.person_id, "reason": msg.reason})  # fmt: skip
        await self.b.control({"action": "remove", "session_id": conn.session_id, "person_id": msg.person_id,
                              "by": conn.person_id, "reason": msg.reason})  # fmt: skip
        return {"person_id": msg.person_id}

    async def _on_presenter(self, conn: Conn, msg: Presenter) -> dict[str, Any]:
        sid = conn.session_id
        if msg.person_id is not None:
            await self._member(sid, msg.person_id, "presenter")
        self._metas[sid] = await self.b.rooms.set_meta(sid, presenter=msg.person_id)
        if self.b.media is not None:
            with contextlib.suppress(MediaRefused):  # no media room yet: the flag still holds
                await self.b.media.set_active_speaker(sid, msg.person_id)
        data = {"person_id": msg.person_id, "by": conn.person_id}
        await self.sio.emit("presenter", data, room=room_of(sid))
        return data

    async def _on_end(self, conn: Conn, msg: End) -> dict[str, Any]:
        await self.end_session(conn.session_id, reason=msg.reason or "ended by the host", by=conn.person_id)
        return {}

    async def end_session(self, session_id: int, *, reason: str, by: int | None) -> None:
        """End a room for everyone, on every node (host's ``end`` or the lifecycle's ``session.closed``)."""
        meta = await self.b.rooms.get_meta(session_id)
        if meta is not None and meta.ended:
            return
        await self.b.rooms.set_meta(session_id, ended=True, ended_reason=reason)
        if by is not None:
            await self.b.audit(by, "room.end", f"session:{session_id}", {"reason": reason})
        if self.b.media is not None:
            with contextlib.suppress(MediaRefused):
                await self.b.media.close_room(session_id)
        await self.b.control({"action": "end", "session_id": session_id, "by": by, "reason": reason})

    async def _on_media_join(self, conn: Conn, msg: MediaJoin) -> dict[str, Any]:
        media = self._require_media("media-join")
        grant = conn.claims.grant
        self._check_sources(grant, msg.sources, "media-join")
        if msg.sdp is None and not grant.subscribe:
            raise ProtocolError("forbidden", "your grant allows neither publishing nor receiving", "media-join")
        answer = await media.join(conn.session_id, conn.person_id, conn.claims.room_kind, grant.media(),
                                  msg.sdp, dict(msg.sources))  # fmt: skip
        conn.media = True
        if answer is not None:
            await self._send(conn.socket_id, "media-answer", {"sdp": answer})
        return {"sdp": answer}

    async def _on_media_renegotiate(self, conn: Conn, msg: MediaRenegotiate) -> dict[str, Any]:
        media = self._require_media("media-renegotiate")
        self._check_sources(conn.claims.grant, msg.sources, "media-renegotiate")
        answer = await media.renegotiate(conn.session_id, conn.person_id, msg.sdp, dict(msg.sources))
        await self._send(conn.socket_id, "media-answer", {"sdp": answer})
        return {"sdp": answer}

    async def _on_media_answer(self, conn: Conn, msg: MediaAnswer) -> dict[str, Any]:
        await self._require_media("media-answer").answer(conn.session_id, conn.person_id, msg.sdp)
        return {}

    async def _on_media_leave(self, conn: Conn, msg: Any) -> dict[str, Any]:
        await self._require_media("media-leave").leave(conn.session_id, conn.person_id)
        conn.media = False
        return {}

    def _require_media(self, event: str) -> MediaPlane:
        if self.b.media is None:
            raise ProtocolError("media_refused", "this server runs without a media plane", event)
        return self.b.media

    @staticmethod
    def _check_sources(grant: Any, sources: Mapping[str, str], event: str) -> None:
        for source in sources.values():
            if not grant.can_publish(source):
                raise ProtocolError("not_allowed", f"your grant does not allow publishing {source}", event)

    # --- from the media plane and from other nodes --------------------------------------------------

    async def on_media_event(self, kind: str, session_id: int, person_id: int | None, data: dict[str, Any]) -> None:
        """Forward one media event to the right sockets (called on the node that holds the media room)."""
        if kind == "subscribe-offer" and person_id is not None:
            tracks = [{**t, "person_id": _int(t.get("publisher_id"))} for t in data.get("tracks", [])]
            await self.sio.emit("media-offer", {"sdp": data.get("sdp"), "tracks": tracks},
                                room=person_of(session_id, person_id))  # fmt: skip
        elif kind in ("track-added", "track-removed"):
            await self.sio.emit(kind, {**data, "person_id": person_id}, room=room_of(session_id))
        elif kind == "peer-left":
            await self.sio.emit("peer-left", {"person_id": person_id, "reason": data.get("reason", "left")},
                                room=room_of(session_id))  # fmt: skip
        elif kind == "room-lost":
            await self.sio.emit("media-lost", {"reason": data.get("reason", "media server restarted")},
                                room=room_of(session_id))  # fmt: skip

    async def on_control(self, msg: dict[str, Any]) -> None:
        """Apply a control message to the sockets THIS node holds."""
        action, session_id = msg.get("action"), int(msg.get("session_id", 0))
        person_id = msg.get("person_id")
        mine = [c for c in list(self.conns.values()) if c.session_id == session_id
                and (person_id is None or c.person_id == person_id)]  # fmt: skip
        if action == "admit":
            member = await self.b.rooms.get_member(session_id, int(person_id))
            entered = False
            for conn in mine:
                if conn.state == "lobby" and member is not None:
                    await self._enter(conn, member, True)
                    entered = True
            if entered:
                await self.sio.emit("waiting-left", {"person_id": person_id, "admitted": True},
                                    room=mods_of(session_id))  # fmt: skip
        elif action == "deny":
            for conn in mine:
                await self._kick(conn, "denied", {"reason": msg.get("reason", "")})
        elif action == "remove":
            for conn in mine:
                await self._kick(conn, "removed", {"reason": msg.get("reason", ""), "by": msg.get("by")})
        elif action == "revoke":
            for conn in [c for c in list(self.conns.values()) if c.claims.jti == msg.get("jti")]:
                await self._kick(conn, "removed", {"reason": "your join link was revoked", "by": msg.get("by")})
        elif action == "end":
            for conn in mine:
                await self._kick(conn, "session-ended", {"reason": msg.get("reason", ""), "by": msg.get("by")})
            self._metas.pop(session_id, None)

    async def open_room(self, session_id: int, kind: str) -> RoomMeta:
        """Create the room (idempotent) when the session opens; a reopened session is not ended."""
        return await self.b.rooms.ensure_room(session_id, RoomMeta(kind=kind, auto_admit=default_auto_admit(kind)))

    async def refill(self, lapsed: bool = False) -> None:
        """Re-assert this node's sockets, people and rooms in the shared store (after Redis lost them).

        Called every heartbeat with ``lapsed`` = our alive mark had lapsed: Redis restarted or was
        flushed, or we were cut off from it long enough to be swept. Then this node re-writes
        everything it holds and announces again the people others swept as gone meanwhile
        (``_announce_back``); both are retried on later beats until they went through once. Every
        ``FULL_REFILL_BEATS`` beats it re-writes all the same (a Redis restored from an older
        snapshot may hold our mark but not the recent sockets).
        """
        self._beats += 1
        if lapsed:
            self._recovering = True
        if not self._recovering and self._beats % FULL_REFILL_BEATS:
            return
        sockets: dict[int, dict[str, int]] = {}
        for c in self.conns.values():
            if c.state in ("room", "lobby"):
                sockets.setdefault(c.session_id, {})[c.socket_id] = c.person_id
        members: dict[int, list[Member]] = {}
        for (session_id, _), m in self._members.items():
            members.setdefault(session_id, []).append(m)
        await self.b.rooms.reassert(self.b.node, sockets, members, dict(self._metas))
        if self._recovering:
            await self._announce_back()
            self._recovering = False

    async def _announce_back(self) -> None:
        """Announce again the people of ours that another node swept while we were cut off from Redis.

        Their presence is back (just re-asserted), but the room heard ``member-left`` /
        ``waiting-left`` for them. The sweep left a tombstone per person naming this node; whoever
        deletes it announces (``claim_swept``), with the message a normal arrival produces:
        ``member-joined`` to the room for a person in it, ``waiting`` to the moderators for one in
        the lobby. No tombstone (a plain Redis restart, nobody swept), no announcement.
        """
        people: dict[int, set[int]] = {}
        for c in self.conns.values():
            if c.state in ("room", "lobby"):
                people.setdefault(c.session_id, set()).add(c.person_id)
        claimed = await self.b.rooms.claim_swept(self.b.node, people)
        for session_id, back in claimed.items():
            members = await self.b.rooms.members(session_id)
            for person_id in sorted(back):
                member = members.get(person_id) or self._members.get((session_id, person_id))
                local = [self.conns[s] for s in self._sockets_of.get((session_id, person_id), ()) if s in self.conns]
                if member is None or not local:
                    continue
                log.info("person %s is back in session %s with this node", person_id, session_id)
                if any(c.state == "room" for c in local):
                    await self.sio.emit("member-joined", member.public(True), room=room_of(session_id))
                elif any(c.state == "lobby" for c in local):
                    await self.sio.emit("waiting", self._waiting_entry(member), room=mods_of(session_id))

    async def sweep(self, grace: float) -> dict[int, set[int]]:
        """Clear presence left behind by crashed nodes in the rooms this node has sockets in.

        Runs every heartbeat. The people who thereby went offline get the same ``member-left`` /
        ``waiting-left`` a disconnect produces (the store's atomic prune makes exactly one node
        announce each). Their media peers are not touched: ICE consent ends a peer whose browser
        is gone, and a leave sent from here could race a rejoin from a live node. Rooms with no
        socket here are left to the nodes that have some: nobody here needs the update, and
        ``online()`` ignores a dead node's entries anyway.
        """
        session_ids = {c.session_id for c in self.conns.values() if c.state in ("room", "lobby")}
        gone = await self.b.rooms.prune_dead_nodes(session_ids, self.b.node, grace)
        for session_id, people in gone.items():
            members = await self.b.rooms.members(session_id)
            for person_id in sorted(people):
                if self._sockets_of.get((session_id, person_id)):
                    continue  # here all along (our own entry was being re-asserted)
                member = members.get(person_id)
                log.info("person %s left session %s with a dead node", person_id, session_id)
                await self._announce_left(session_id, person_id, "room" if member and member.admitted else "lobby")
        return gone

    async def _kick(self, conn: Conn, event: str, data: dict[str, Any]) -> None:
        """Tell a socket why it goes, then disconnect it a moment later (so acks in flight still arrive)."""
        if conn.state in ("room", "lobby"):
            conn.state = "leaving:" + conn.state
        await self._send(conn.socket_id, event, data)

        async def later() -> None:
            await asyncio.sleep(KICK_DELAY)
            await self.sio.disconnect(conn.socket_id)

        self._spawn(later())

    # --- helpers ------------------------------------------------------------------------------------

    async def _member(self, session_id: int, person_id: int, event: str) -> Member:
        member = await self.b.rooms.get_member(session_id, person_id)
        if member is None:
            raise ProtocolError("not_found", f"person {person_id} has not joined this room", event)
        return member

    async def _put(self, session_id: int, member: Member) -> None:
        await self.b.rooms.put_member(session_id, member)
        if self._sockets_of.get((session_id, member.person_id)):
            self._members[(session_id, member.person_id)] = member

    async def _send(self, socket_id: str, event: str, data: Any) -> None:
        # the socket is on this node: no need to go through Redis (and works while Redis restarts)
        await self.sio.emit(event, data, to=socket_id, ignore_queue=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    # the client sees connect_error {message, data: {code, message}} (JS: err.message, err.data.code)
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def now() -> float:
    return time.time()
