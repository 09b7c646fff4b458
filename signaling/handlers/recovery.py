"""Node recovery: re-asserting this node's people after Redis lost them, sweeping dead nodes' presence."""

from __future__ import annotations

import logging

from signaling.handlers.base import Handlers, mods_of, room_of
from signaling.room import Member

log = logging.getLogger("aulacast.signaling")

FULL_REFILL_BEATS = 20  # every 20th refill re-asserts everything even if the store kept its mark


class NodeRecovery(Handlers):
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
