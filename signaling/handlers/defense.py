"""A defense sitting's room: the chair's turns, the floor (who may publish now), mics, the turn timer.

The presenter grant is not in anyone's join token: every student of the queue joins with the
``presenter`` role, and the room's floor decides what that role may publish *now* — the student
whose turn runs publishes camera, microphone and screen; the others only watch. A committee
member's camera is always on offer, their microphone only once the chair opens it. Moving the
floor is one step on the media plane (``set_floor``: new grants and the active speaker under the
room's lock), so the audience never sees two presenters or a gap of none.

On deck: the student next in the queue (``on_deck``, from the desk) may publish camera and
microphone on *standby* before their turn — received by the media plane, forwarded to nobody,
recorded nowhere, announced to nobody — so that when the chair starts their turn the switch is a
flip of grants on connections already up (no ICE/DTLS, no publish offer on the switch path).
Only the next one: one waiting student's camera is on the wire at a time (the least a privacy
reading allows, and the media worker pays for each received stream); a chair who calls someone
else falls back to that student publishing when their turn starts. The previous presenter's
tracks are unpublished (their turn is over; nothing of theirs is held).

The sitting's workflow (who is the chair, §29, the queue in the database) is the ``desk`` of the
backend; this module only turns its answers into the room's state, events and timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from signaling.backend import MediaRefused, SittingDesk, SittingRefused
from signaling.grants import GRANTS, Grant
from signaling.handlers.base import Conn, Handlers, room_of
from signaling.protocol import Absent, Mic, ProtocolError, TurnRef
from signaling.room import RoomMeta, default_auto_admit

log = logging.getLogger("aulacast.signaling")

_WAITING = Grant("presenter", (), sees_all_cameras=False)  # a student whose turn is not running
_ON_DECK = Grant("presenter", ("camera", "microphone"), sees_all_cameras=False, standby=True)  # next in the queue


def floor_grant(base: Grant, person_id: int, meta: RoomMeta | None) -> Grant:
    """``base`` narrowed by the sitting's floor (the grant itself when the room runs no sitting)."""
    if base.role == "presenter":  # the role exists only in a sitting's room: no floor state yet = waiting
        if meta is None or meta.sitting is None:
            return _WAITING
        if meta.floor == person_id:
            return base
        return _ON_DECK if person_id in meta.on_deck else _WAITING
    if meta is None or meta.sitting is None:
        return base
    if base.role in ("committee", "secretary"):
        allowed = [s for s in base.publish if s != "microphone" or person_id in meta.mics]
        if base.role == "secretary" and person_id not in meta.mics:
            allowed = []
        return Grant(base.role, tuple(allowed), base.subscribe, base.chat, base.moderate, base.sees_all_cameras,
                     base.featured)  # fmt: skip
    return base


class DefenseEvents(Handlers):
    _timers: dict[int, asyncio.Task[Any]]

    async def _grant_now(self, conn: Conn) -> Grant:
        if conn.claims.room_kind != "defense":
            return await super()._grant_now(conn)
        meta = await self.b.rooms.get_meta(conn.session_id)
        return floor_grant(conn.claims.grant, conn.person_id, meta)

    def _desk(self, event: str) -> SittingDesk:
        if self.b.desk is None:
            raise ProtocolError("not_a_sitting", "this server runs no defense sittings", event)
        return self.b.desk

    async def _ask(self, conn: Conn, event: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._desk(event).act(conn.session_id, conn.person_id, action, params)
        except SittingRefused as exc:
            raise ProtocolError(exc.code, str(exc), event) from None

    async def _on_turn_start(self, conn: Conn, msg: TurnRef) -> dict[str, Any]:
        try:
            res = await self._desk("turn-start").act(conn.session_id, conn.person_id, "turn-start",
                                                     {"turn_id": msg.turn_id})  # fmt: skip
        except SittingRefused as exc:
            if exc.queue is not None:  # §29 took the student out of the queue: who is on deck changed
                await self.apply_queue(conn.session_id, exc.queue, conn.person_id)
            raise ProtocolError(exc.code, str(exc), "turn-start") from None
        return await self._move_floor(conn, res)

    async def _on_turn_end(self, conn: Conn, msg: Any) -> dict[str, Any]:
        res = await self._ask(conn, "turn-end", "turn-end", {})
        return await self._move_floor(conn, res)

    async def _on_absent(self, conn: Conn, msg: Absent) -> dict[str, Any]:
        res = await self._ask(conn, "absent", "absent", {"turn_id": msg.turn_id, "to": msg.to, "reserve": msg.reserve})
        return await self.apply_queue(conn.session_id, res, conn.person_id)

    async def apply_queue(self, sid: int, res: dict[str, Any], by: int) -> dict[str, Any]:
        """The queue changed (a student marked absent): who is on deck now, their grants, the room told."""
        on_deck = [int(p) for p in res.get("on_deck", [])]
        meta = await self.b.rooms.get_meta(sid)
        if meta is not None and meta.sitting is not None and meta.on_deck != on_deck:
            meta = await self.b.rooms.set_meta(sid, on_deck=on_deck)
            self._metas[sid] = meta
            await self._push_floor(sid, meta, meta.floor, roles=("presenter",))  # between turns, as a rule
        await self.sio.emit("queue", {"queue": res.get("queue", []), "on_deck": on_deck, "by": by}, room=room_of(sid))
        return res

    async def _on_mic(self, conn: Conn, msg: Mic) -> dict[str, Any]:
        await self._ask(conn, "mic", "mic", {"person_id": msg.person_id, "open": msg.open})
        sid = conn.session_id
        meta = await self.b.rooms.get_meta(sid) or RoomMeta(kind="defense")
        mics = sorted((set(meta.mics) | {msg.person_id}) if msg.open else (set(meta.mics) - {msg.person_id}))
        meta = await self.b.rooms.set_meta(sid, mics=mics)
        self._metas[sid] = meta
        speaker = msg.person_id if msg.open else meta.floor
        await self._push_floor(sid, meta, speaker, only={msg.person_id})
        data = {"person_id": msg.person_id, "open": msg.open, "by": conn.person_id}
        await self.sio.emit("mic", data, room=room_of(sid))
        return data

    async def _move_floor(self, conn: Conn, res: dict[str, Any]) -> dict[str, Any]:
        return await self.apply_floor(conn.session_id, res, conn.person_id)

    async def apply_floor(self, sid: int, res: dict[str, Any], by: int) -> dict[str, Any]:
        """Set the room's floor from the desk's answer, in one media step; tell everyone; run the timer.

        Also called by the orchestrator when the chair opens the sitting (nobody presents, the first
        student goes on deck) or starts/ends a turn from the committee page (HTTP).
        """
        presenter, turn = res.get("presenter"), res.get("turn")
        on_deck = [int(p) for p in res.get("on_deck", [])]
        # the sitting may open (HTTP) before anyone entered its room: create it as the first socket would
        await self.b.rooms.ensure_room(sid, RoomMeta(kind="defense", auto_admit=default_auto_admit("defense")))
        meta = await self.b.rooms.set_meta(sid, sitting=res["sitting"], floor=presenter, turn=turn, mics=[],
                                           presenter=presenter, on_deck=on_deck)  # fmt: skip
        self._metas[sid] = meta
        await self._push_floor(sid, meta, presenter)
        data = {"presenter": presenter, "previous": res.get("previous"), "turn": turn, "by": by,
                "sitting": res["sitting"], "on_deck": on_deck}  # fmt: skip
        await self.sio.emit("floor", data, room=room_of(sid))
        self._arm_timer(sid, turn)
        return data

    async def _push_floor(self, sid: int, meta: RoomMeta, speaker: int | None, only: set[int] | None = None,
                          roles: tuple[str, ...] | None = None) -> None:  # fmt: skip
        """Every sitting-governed member's grant as the floor now says, and the speaker, to the media plane."""
        if self.b.media is None:
            return
        grants: dict[int, dict[str, bool]] = {}
        for m in (await self.b.rooms.members(sid)).values():
            if only is not None and m.person_id not in only:
                continue
            if roles is not None and m.role not in roles:
                continue
            base = _base_grant(m.role)
            if base is not None:
                grants[m.person_id] = floor_grant(base, m.person_id, meta).media()
        with contextlib.suppress(MediaRefused):  # no media room yet: the floor still holds for later joins
            await self.b.media.set_floor(sid, grants, speaker)

    def _arm_timer(self, sid: int, turn: dict[str, Any] | None) -> None:
        timers = self.__dict__.setdefault("_timers", {})
        old = timers.pop(sid, None)
        if old is not None:
            old.cancel()
        if not turn or not turn.get("ends_at"):
            return

        async def run() -> None:
            for event, at in (("turn-warning", turn.get("warn_at")), ("turn-time-up", turn["ends_at"])):
                if at is None:
                    continue
                await asyncio.sleep(max(0.0, float(at) - time.time()))
                await self.sio.emit(event, {"turn_id": turn["id"], "ends_at": turn["ends_at"]}, room=room_of(sid))

        task = asyncio.ensure_future(run())
        timers[sid] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _base_grant(role: str) -> Grant | None:
    return GRANTS["defense"].get(role) if role in ("presenter", "committee", "secretary") else None
