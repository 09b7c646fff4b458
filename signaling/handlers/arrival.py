"""Arrival and departure: the token on connect, lobby or room, welcome, disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio

from signaling.backend import MediaRefused
from signaling.grants import GrantError
from signaling.handlers.base import Conn, Handlers, mods_of, person_of
from signaling.protocol import (
    HISTORY_LIMIT,
    ProtocolError,
    with_reason_code,
)
from signaling.room import Member, RoomMeta, admission, default_auto_admit

log = logging.getLogger("aulacast.signaling")

ENDED_STATES = frozenset({"closed", "recorded", "composed", "archived", "packaged", "cancelled"})


class Arrival(Handlers):
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
        if len(self._sockets_of.get((claims.session_id, claims.person_id), ())) >= self.b.max_sockets_per_person:
            raise _refused("too_many_connections",
                           f"you already have {self.b.max_sockets_per_person} connections to this room; close one")
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
                await self._send(conn.socket_id, "session-ended",
                                 with_reason_code({"reason": meta.ended_reason, "by": None}))  # fmt: skip
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
            host_present = False
            if meta.auto_admit and not c.grant.moderate and meta.kind != "defense":
                online = await self.b.rooms.online(sid)
                host_present = any(m.moderator and m.admitted and m.person_id in online and m.person_id != c.person_id
                                   for m in (await self.b.rooms.members(sid)).values())  # fmt: skip
            if admission(meta, member, moderator=c.grant.moderate, host_present=host_present) == "room":
                member.admitted = True
                await self._put(sid, member)
                await self._enter(conn, member, resumed)
                if c.grant.moderate and meta.auto_admit:  # a host is back: the paused auto-admit resumes
                    await self._admit_waiting(sid, c.person_id)
            else:
                await self._put(sid, member)
                conn.state = "lobby"
                await self._send(conn.socket_id, "lobby", {
                    "session": conn.session.to_dict(), "you": self._you(conn),
                    "message": ("the host will let you in shortly" if not meta.auto_admit else
                                "no host is in the room yet; you will be let in when one arrives"),
                    "auto_admit": meta.auto_admit,
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
            "room": {"auto_admit": meta.auto_admit, "presenter": meta.presenter, "kind": meta.kind,
                     "sitting": meta.sitting, "floor": meta.floor, "mics": meta.mics, "turn": meta.turn,
                     "on_deck": meta.on_deck},
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

    def _local_media(self, session_id: int, person_id: int) -> bool:
        return any(self.conns[s].media for s in self._sockets_of.get((session_id, person_id), ()) if s in self.conns)

    async def _on_state(self, conn: Conn, msg: Any) -> dict[str, Any]:
        if conn.state == "arriving":
            await asyncio.wait_for(conn.arrived.wait(), 10)
        if conn.state == "room":
            await self._send(conn.socket_id, "welcome", await self._welcome(conn, True))
        return {"state": conn.state}


def _refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    # the client sees connect_error {message, data: {code, message}} (JS: err.message, err.data.code)
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})
