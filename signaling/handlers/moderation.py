"""Host controls and the room's life: hands, admit, deny, remove, mute requests, presenter, end;
and the control messages that carry them to sockets on other nodes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from signaling.backend import MediaRefused
from signaling.grants import GRANTS, presenting
from signaling.handlers.base import Conn, Handlers, mods_of, person_of, room_of
from signaling.protocol import (
    LEAVE_REASONS,
    Deny,
    End,
    Hand,
    LobbyPolicy,
    MediaState,
    MuteRequest,
    PersonRef,
    Presenter,
    ProtocolError,
    Remove,
    with_reason_code,
)
from signaling.room import Member, RoomMeta, default_auto_admit, raise_hand

log = logging.getLogger("aulacast.signaling")

KICK_DELAY = 0.3  # seconds between a removal notice and the disconnect


class Moderation(Handlers):
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
        admitted = await self._admit_waiting(sid, conn.person_id) if msg.auto_admit else []
        return {"auto_admit": msg.auto_admit, "admitted": admitted}

    async def _admit_waiting(self, sid: int, by: int) -> list[int]:
        """Let in everyone online in the lobby (not removed people): auto-admit switched on, or a host back."""
        admitted = []
        online = await self.b.rooms.online(sid)
        for m in (await self.b.rooms.members(sid)).values():
            if not m.admitted and not m.removed and m.person_id in online:
                m.admitted = True
                await self._put(sid, m)
                await self.b.control({"action": "admit", "session_id": sid, "person_id": m.person_id, "by": by})
                admitted.append(m.person_id)
        return admitted

    async def _on_media_state(self, conn: Conn, msg: MediaState) -> dict[str, Any]:
        member = await self._member(conn.session_id, conn.person_id, "media-state")
        member.microphone, member.camera = msg.microphone, msg.camera
        await self._put(conn.session_id, member)
        data = {"person_id": conn.person_id, "microphone": msg.microphone, "camera": msg.camera}
        await self.sio.emit("media-state", data, room=room_of(conn.session_id))
        return data

    async def _on_mute_all(self, conn: Conn, msg: Any) -> dict[str, Any]:
        """Ask everyone else to mute: each of their pages turns its microphone off (nothing is forced)."""
        data = {"source": "microphone", "muted": True, "by": conn.person_id, "everyone": True}
        skip = list(self._sockets_of.get((conn.session_id, conn.person_id), ()))
        await self.sio.emit("mute-requested", data, room=room_of(conn.session_id), skip_sid=skip)
        return {"asked": True}

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

    async def revoke(self, session_id: int, person_id: int, jti: str, *, by: int) -> None:
        """A join token withdrawn over HTTP: its holder is marked removed (a new token lands in the
        lobby, not the room) and every socket using it, on any node, is sent away."""
        member = await self.b.rooms.get_member(session_id, person_id) or Member(person_id, "", "participant")
        member.admitted, member.removed = False, True
        raise_hand(member, False)
        await self._put(session_id, member)
        await self.b.control({"action": "revoke", "session_id": session_id, "person_id": person_id, "jti": jti,
                              "by": by})  # fmt: skip

    async def _on_presenter(self, conn: Conn, msg: Presenter) -> dict[str, Any]:
        sid = conn.session_id
        if msg.person_id is not None:
            await self._member(sid, msg.person_id, "presenter")
        before = await self.b.rooms.get_meta(sid)
        previous = before.presenter if before is not None else None
        self._metas[sid] = await self.b.rooms.set_meta(sid, presenter=msg.person_id)
        if self.b.media is not None:
            # one media step: the new presenter may share a screen, the previous one's share ends
            # (their grant loses it: the media plane unpublishes it), and the stage follows
            with contextlib.suppress(MediaRefused):  # no media room yet: the flag still holds
                if conn.claims.room_kind == "defense":  # a sitting's floor governs grants there
                    await self.b.media.set_active_speaker(sid, msg.person_id)
                else:
                    grants = await self._presenter_grants(sid, {previous, msg.person_id}, msg.person_id)
                    await self.b.media.set_floor(sid, grants, msg.person_id)
        data = {"person_id": msg.person_id, "by": conn.person_id}
        await self.sio.emit("presenter", data, room=room_of(sid))
        return data

    async def _presenter_grants(self, sid: int, people: set[int | None], presenter: int | None
                                ) -> dict[int, dict[str, bool]]:  # fmt: skip
        members = await self.b.rooms.members(sid)
        grants: dict[int, dict[str, bool]] = {}
        for pid in people:
            member = members.get(pid) if pid is not None else None
            base = GRANTS["consultation"].get(member.role) if member is not None else None
            if member is not None and base is not None:
                grants[member.person_id] = presenting(base, member.person_id == presenter).media()
        return grants

    async def _on_end(self, conn: Conn, msg: End) -> dict[str, Any]:
        await self.end_session(conn.session_id, reason=msg.reason or LEAVE_REASONS.make("ended_by_host").text,
                               by=conn.person_id)  # fmt: skip
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

    async def open_room(self, session_id: int, kind: str) -> RoomMeta:
        """Create the room (idempotent) when the session opens; a reopened session is not ended."""
        return await self.b.rooms.ensure_room(session_id, RoomMeta(kind=kind, auto_admit=default_auto_admit(kind)))

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
                    await self._enter(conn, member, False)  # let in from the lobby: a first entry, not a return
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
        elif action == "revoke":  # only that session's socket holding that token
            for conn in [c for c in mine if c.claims.jti == msg.get("jti")]:
                await self._kick(conn, "removed", {"reason": LEAVE_REASONS.make("link_revoked").text, "by": msg.get("by")})
        elif action == "end":
            for conn in mine:
                await self._kick(conn, "session-ended", {"reason": msg.get("reason", ""), "by": msg.get("by")})
            self._metas.pop(session_id, None)

    async def _kick(self, conn: Conn, event: str, data: dict[str, Any]) -> None:
        """Tell a socket why it goes, then disconnect it a moment later (so acks in flight still arrive)."""
        if conn.state in ("room", "lobby"):
            conn.state = "leaving:" + conn.state
        await self._send(conn.socket_id, event, with_reason_code(data))

        async def later() -> None:
            await asyncio.sleep(KICK_DELAY)
            await self.sio.disconnect(conn.socket_id)

        self._spawn(later())
