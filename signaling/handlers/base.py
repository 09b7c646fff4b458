"""What every handler group shares: the socket table, room names and the small helpers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import socketio

from signaling.backend import Backend, SessionInfo
from signaling.grants import Grant, JoinClaims, presenting
from signaling.protocol import (
    ProtocolError,
)
from signaling.room import Member, RoomMeta

log = logging.getLogger("aulacast.signaling")


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


class Handlers:
    """State shared by the handler groups; ``SignalingServer.__init__`` fills it."""

    sio: socketio.AsyncServer
    b: Backend
    conns: dict[str, Conn]
    _sockets_of: dict[tuple[int, int], set[str]]  # socket ids per (session, person) on this node
    _members: dict[tuple[int, int], Member]  # cache of local people, for Redis refills
    _metas: dict[int, RoomMeta]
    _tasks: set[asyncio.Task[Any]]
    _beats: int
    _recovering: bool

    async def _grant_now(self, conn: Conn) -> Grant:
        """What the socket may do now: its join grant, narrowed by a defense sitting's floor or
        widened by a consultation's presenter (``signaling.grants.presenting``)."""
        meta = await self.b.rooms.get_meta(conn.session_id)
        return presenting(conn.claims.grant, meta is not None and meta.presenter == conn.person_id)

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
            await self._presence(sid, member.person_id, member.role, True)

    async def _presence(self, session_id: int, person_id: int, role: str, joined: bool) -> None:
        if self.b.presence is None:
            return
        try:
            await self.b.presence(session_id, person_id, role, joined)
        except Exception:  # attendance must never break the room
            log.exception("recording presence failed", extra={"session_id": session_id})

    @staticmethod
    def _waiting_entry(m: Member) -> dict[str, Any]:
        return {"person_id": m.person_id, "name": m.name, "role": m.role, "removed_before": m.removed}

    async def _announce_left(self, session_id: int, person_id: int, prior: str) -> None:
        """The presence update for a person's last socket going (a disconnect here, or a dead node's sweep)."""
        if prior == "room":
            await self.sio.emit("member-left", {"person_id": person_id}, room=room_of(session_id))
            member = self._members.get((session_id, person_id))
            await self._presence(session_id, person_id, member.role if member else "", False)
        elif prior == "lobby":
            await self.sio.emit("waiting-left", {"person_id": person_id, "admitted": False},
                                room=mods_of(session_id))  # fmt: skip

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
