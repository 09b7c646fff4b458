"""Room state: lobby, members, presence, hands, presenter, ended flag, media placement.

    store = make_room_store(redis_or_None)            # LocalRoomStore or RedisRoomStore, same methods
    meta = await store.ensure_room(42, RoomMeta(kind="consultation", auto_admit=False))  # idempotent
    member = await store.get_member(42, 7) or Member(person_id=7, name="Aigerim", role="participant")
    if admission(meta, member, moderator=False) == "room": ...

State lives per person (not per socket), so a page reload finds the person's hand, admission
and role where they left them. Presence is the set of connected sockets, kept per room in a
Redis hash when nodes share the load (each node re-asserts its own sockets every few seconds,
so a restarted Redis is refilled without clients noticing). Each node also renews a short-lived
alive mark; entries of a node whose mark lapsed (crashed, SIGKILL) are not counted as online and
are swept by the surviving nodes (``prune_dead_nodes``), which leave a tombstone per person they
announced as gone; a node that was only cut off claims its people's tombstones when it is back
(``claim_swept``) and announces them again.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, ParamSpec, Protocol, TypeVar

import redis.exceptions

from signaling.errors import Unavailable

PREFIX = "aulacast:room:"
KEY_TTL = 2 * 24 * 3600  # rooms outlive no session by more than this
MEDIA_LEASE = 15  # seconds; the owning node refreshes its media placement well within this
NODE_PREFIX = "aulacast:node:"
SWEPT_TTL = 300  # seconds a sweep's tombstones wait for a cut-off node to come back and claim its people


@dataclass
class RoomMeta:
    """Per-room settings that every node sees."""

    kind: str = "consultation"
    auto_admit: bool = False
    presenter: int | None = None
    ended: bool = False
    ended_reason: str = ""
    # A defense sitting's floor (signaling/handlers/defense.py): who presents, whose microphone the
    # chair opened, the running turn and its timer. ``sitting`` None = an ordinary room.
    sitting: int | None = None
    floor: int | None = None
    mics: list[int] = field(default_factory=list)
    turn: dict[str, Any] | None = None
    on_deck: list[int] = field(default_factory=list)  # next in the queue: may publish on standby

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoomMeta:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Member:
    """One person's state in one room, kept across disconnects (reconnect restores it)."""

    person_id: int
    name: str
    role: str
    moderator: bool = False
    admitted: bool = False
    removed: bool = False
    hand_raised: bool = False
    hand_at: float | None = None
    microphone: bool = False  # as the person's page last said (media-state); off until it says
    camera: bool = False

    def public(self, online: bool) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "name": self.name,
            "role": self.role,
            "moderator": self.moderator,
            "online": online,
            "hand_raised": self.hand_raised,
            "microphone": self.microphone,
            "camera": self.camera,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def default_auto_admit(kind: str) -> bool:
    """Policy per room kind: a consultation is the tutor's room (waiting room); a defense is public."""
    return kind == "defense"


def admission(
    meta: RoomMeta, member: Member, *, moderator: bool, host_present: bool = True
) -> Literal["room", "lobby", "ended"]:
    """Where a connecting person goes.

    A consultation's auto-admit (switched on by its host) pauses while no moderator is in the room,
    as Jitsi's lobby does: people wait, and are let in when a host comes back. A defense is public
    (auto-admit by default) and lets its audience in before the chair arrives.
    """
    if meta.ended:
        return "ended"
    if moderator or member.admitted:
        return "room"
    if member.removed:
        return "lobby"  # removed people wait for a moderator even under auto-admit
    if meta.auto_admit and (host_present or meta.kind == "defense"):
        return "room"
    return "lobby"


def raise_hand(member: Member, raised: bool, now: float | None = None) -> Member:
    member.hand_raised = raised
    member.hand_at = (now or time.time()) if raised else None
    return member


class RoomStore(Protocol):
    async def ensure_room(self, session_id: int, defaults: RoomMeta) -> RoomMeta: ...
    async def get_meta(self, session_id: int) -> RoomMeta | None: ...
    async def set_meta(self, session_id: int, **changes: Any) -> RoomMeta: ...
    async def get_member(self, session_id: int, person_id: int) -> Member | None: ...
    async def put_member(self, session_id: int, member: Member) -> None: ...
    async def members(self, session_id: int) -> dict[int, Member]: ...
    async def add_socket(self, session_id: int, socket_id: str, person_id: int, node: str) -> None: ...
    async def remove_socket(self, session_id: int, socket_id: str, person_id: int) -> int: ...
    async def online(self, session_id: int) -> set[int]: ...
    async def claim_media(self, session_id: int, node: str) -> str: ...
    async def media_owner(self, session_id: int) -> str | None: ...
    async def release_media(self, session_id: int, node: str) -> None: ...
    async def reassert(
        self, node: str, sockets: dict[int, dict[str, int]], members: dict[int, list[Member]],
        metas: dict[int, RoomMeta],
    ) -> None: ...  # fmt: skip
    async def renew_media(self, session_ids: set[int], node: str) -> None: ...
    async def mark_alive(self, node: str, ttl: float) -> bool: ...
    async def prune_dead_nodes(self, session_ids: Iterable[int], node: str, grace: float) -> dict[int, set[int]]: ...
    async def claim_swept(self, node: str, people: dict[int, set[int]]) -> dict[int, set[int]]: ...
    async def drop(self, session_id: int) -> None: ...


@dataclass
class _LocalRoom:
    meta: RoomMeta
    members: dict[int, Member] = field(default_factory=dict)
    sockets: dict[str, int] = field(default_factory=dict)
    media_owner: str | None = None


class LocalRoomStore:
    """Everything in one process's memory: the single-node default."""

    def __init__(self) -> None:
        self._rooms: dict[int, _LocalRoom] = {}

    def _room(self, session_id: int) -> _LocalRoom:
        return self._rooms.setdefault(session_id, _LocalRoom(RoomMeta()))

    async def ensure_room(self, session_id: int, defaults: RoomMeta) -> RoomMeta:
        if session_id not in self._rooms:
            self._rooms[session_id] = _LocalRoom(RoomMeta(**asdict(defaults)))
        return RoomMeta(**asdict(self._rooms[session_id].meta))

    async def get_meta(self, session_id: int) -> RoomMeta | None:
        room = self._rooms.get(session_id)
        return RoomMeta(**asdict(room.meta)) if room else None

    async def set_meta(self, session_id: int, **changes: Any) -> RoomMeta:
        room = self._room(session_id)
        for k, v in changes.items():
            setattr(room.meta, k, v)
        return RoomMeta(**asdict(room.meta))

    async def get_member(self, session_id: int, person_id: int) -> Member | None:
        m = self._room(session_id).members.get(person_id)
        return Member(**asdict(m)) if m else None

    async def put_member(self, session_id: int, member: Member) -> None:
        self._room(session_id).members[member.person_id] = Member(**asdict(member))

    async def members(self, session_id: int) -> dict[int, Member]:
        return {pid: Member(**asdict(m)) for pid, m in self._room(session_id).members.items()}

    async def add_socket(self, session_id: int, socket_id: str, person_id: int, node: str) -> None:
        self._room(session_id).sockets[socket_id] = person_id

    async def remove_socket(self, session_id: int, socket_id: str, person_id: int) -> int:
        sockets = self._room(session_id).sockets
        sockets.pop(socket_id, None)
        return sum(1 for p in sockets.values() if p == person_id)

    async def online(self, session_id: int) -> set[int]:
        return set(self._room(session_id).sockets.values())

    async def claim_media(self, session_id: int, node: str) -> str:
        room = self._room(session_id)
        if room.media_owner is None:
            room.media_owner = node
        return room.media_owner

    async def media_owner(self, session_id: int) -> str | None:
        room = self._rooms.get(session_id)
        return room.media_owner if room else None

    async def release_media(self, session_id: int, node: str) -> None:
        room = self._rooms.get(session_id)
        if room is not None and room.media_owner == node:
            room.media_owner = None

    async def reassert(
        self, node: str, sockets: dict[int, dict[str, int]], members: dict[int, list[Member]],
        metas: dict[int, RoomMeta],
    ) -> None:  # fmt: skip
        return None

    async def renew_media(self, session_ids: set[int], node: str) -> None:
        return None

    async def mark_alive(self, node: str, ttl: float) -> bool:
        return False  # one process: it is alive while it can answer

    async def prune_dead_nodes(self, session_ids: Iterable[int], node: str, grace: float) -> dict[int, set[int]]:
        return {}

    async def claim_swept(self, node: str, people: dict[int, set[int]]) -> dict[int, set[int]]:
        return {}  # nobody sweeps a single process

    async def drop(self, session_id: int) -> None:
        self._rooms.pop(session_id, None)


_PRUNE = """
-- KEYS[1]: a room's :online hash; KEYS[2]: its :swept hash; KEYS[i + 2]: the alive mark of node
-- ARGV[i + 1]; ARGV[1]: the tombstones' TTL in seconds.
-- A node counts as dead only if its mark is STILL missing now: a node that renewed its mark (and
-- re-asserted its sockets) since the caller looked keeps its entries. Atomic, so of several nodes
-- sweeping the same room exactly one sees each person go and announces it. Each person gone gets
-- a tombstone "person|node" per dead node they were on, so that node can announce them again
-- should it only have been cut off (claim_swept).
local dead = {}
for i = 2, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then dead[ARGV[i]] = true end
end
local flat = redis.call('HGETALL', KEYS[1])
local removed, kept = {}, {}
for i = 1, #flat, 2 do
  local v = flat[i + 1]
  local sep = string.find(v, '|', 1, true)
  if sep then
    local person, node = string.sub(v, 1, sep - 1), string.sub(v, sep + 1)
    if dead[node] then
      redis.call('HDEL', KEYS[1], flat[i])
      removed[person] = removed[person] or {}
      removed[person][node] = true
    else
      kept[person] = true
    end
  end
end
local gone = {}
for person, nodes in pairs(removed) do
  if not kept[person] then
    gone[#gone + 1] = person
    for node in pairs(nodes) do redis.call('HSET', KEYS[2], person .. '|' .. node, '1') end
  end
end
if #gone > 0 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1])) end
return gone
"""


P = ParamSpec("P")
R = TypeVar("R")


def _unavailable_on_redis_errors(cls: type[R]) -> type[R]:
    """Every coroutine method of ``cls`` raises ``Unavailable`` for a Redis failure, and nothing else."""

    def wrap(method: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Any]]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return await method(*args, **kwargs)
            except (redis.exceptions.RedisError, ConnectionError, TimeoutError) as exc:
                raise Unavailable(f"the room store is unreachable: {exc}") from exc

        return call

    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(value):
            setattr(cls, name, wrap(value))
    return cls


@_unavailable_on_redis_errors
class RedisRoomStore:
    """The same state in Redis hashes (one set of keys per room), shared by every node.

    Keys: ``aulacast:room:<sid>:meta`` (hash of JSON values), ``:members`` (person id -> JSON),
    ``:online`` (socket id -> "person_id|node"), ``:media`` (owning node, a lease with TTL),
    ``:swept`` (tombstones "person_id|dead node" left by a sweep, ``SWEPT_TTL``);
    ``aulacast:node:<node>:alive`` (short TTL, renewed every heartbeat by ``mark_alive``).
    """

    def __init__(self, redis: Any) -> None:
        self._r = redis
        self._prune = redis.register_script(_PRUNE)
        self._missing_since: dict[str, float] = {}  # node -> monotonic time its mark was first seen missing

    @staticmethod
    def _key(session_id: int, part: str) -> str:
        return f"{PREFIX}{session_id}:{part}"

    async def ensure_room(self, session_id: int, defaults: RoomMeta) -> RoomMeta:
        key = self._key(session_id, "meta")
        pipe = self._r.pipeline(transaction=True)
        for k, v in asdict(defaults).items():
            pipe.hsetnx(key, k, json.dumps(v))
        pipe.expire(key, KEY_TTL)
        await pipe.execute()
        meta = await self.get_meta(session_id)
        assert meta is not None
        return meta

    async def get_meta(self, session_id: int) -> RoomMeta | None:
        raw = await self._r.hgetall(self._key(session_id, "meta"))
        if not raw:
            return None
        return RoomMeta.from_dict({_s(k): json.loads(v) for k, v in raw.items()})

    async def set_meta(self, session_id: int, **changes: Any) -> RoomMeta:
        key = self._key(session_id, "meta")
        await self._r.hset(key, mapping={k: json.dumps(v) for k, v in changes.items()})
        return await self.get_meta(session_id) or RoomMeta(**changes)

    async def get_member(self, session_id: int, person_id: int) -> Member | None:
        raw = await self._r.hget(self._key(session_id, "members"), str(person_id))
        return Member.from_dict(json.loads(raw)) if raw else None

    async def put_member(self, session_id: int, member: Member) -> None:
        key = self._key(session_id, "members")
        await self._r.hset(key, str(member.person_id), json.dumps(asdict(member)))
        await self._r.expire(key, KEY_TTL)

    async def members(self, session_id: int) -> dict[int, Member]:
        raw = await self._r.hgetall(self._key(session_id, "members"))
        return {int(_s(k)): Member.from_dict(json.loads(v)) for k, v in raw.items()}

    async def add_socket(self, session_id: int, socket_id: str, person_id: int, node: str) -> None:
        key = self._key(session_id, "online")
        await self._r.hset(key, socket_id, f"{person_id}|{node}")
        await self._r.expire(key, KEY_TTL)

    async def remove_socket(self, session_id: int, socket_id: str, person_id: int) -> int:
        """Sockets the person still has on live nodes (a crashed node's leftovers do not keep them in)."""
        key = self._key(session_id, "online")
        pipe = self._r.pipeline(transaction=False)
        pipe.hdel(key, socket_id)
        pipe.hvals(key)
        _, raw = await pipe.execute()
        entries = [e for e in map(_entry, raw) if e is not None and e[0] == person_id]
        alive = await self._alive({n for _, n in entries})
        return sum(1 for _, n in entries if n in alive)

    async def online(self, session_id: int) -> set[int]:
        """People with a socket on a node whose alive mark is present."""
        entries = [e for e in map(_entry, await self._r.hvals(self._key(session_id, "online"))) if e is not None]
        alive = await self._alive({n for _, n in entries})
        return {p for p, n in entries if n in alive}

    @staticmethod
    def _alive_key(node: str) -> str:
        return f"{NODE_PREFIX}{node}:alive"

    async def _alive(self, nodes: set[str]) -> set[str]:
        if not nodes:
            return set()
        order = sorted(nodes)
        marks = await self._r.mget([self._alive_key(n) for n in order])
        return {n for n, mark in zip(order, marks, strict=True) if mark is not None}

    async def claim_media(self, session_id: int, node: str) -> str:
        key = self._key(session_id, "media")
        await self._r.set(key, node, nx=True, ex=MEDIA_LEASE)
        owner = await self._r.get(key)
        return _s(owner) if owner else node

    async def media_owner(self, session_id: int) -> str | None:
        owner = await self._r.get(self._key(session_id, "media"))
        return _s(owner) if owner else None

    async def release_media(self, session_id: int, node: str) -> None:
        key = self._key(session_id, "media")
        if _s(await self._r.get(key) or b"") == node:
            await self._r.delete(key)

    async def reassert(
        self, node: str, sockets: dict[int, dict[str, int]], members: dict[int, list[Member]],
        metas: dict[int, RoomMeta],
    ) -> None:  # fmt: skip
        """Re-write what this node knows (after a Redis restart it is gone); never overwrites newer state."""
        pipe = self._r.pipeline(transaction=False)
        for session_id, meta in metas.items():
            key = self._key(session_id, "meta")
            for k, v in asdict(meta).items():
                pipe.hsetnx(key, k, json.dumps(v))
            pipe.expire(key, KEY_TTL)
        for session_id, people in members.items():
            key = self._key(session_id, "members")
            for m in people:
                pipe.hsetnx(key, str(m.person_id), json.dumps(asdict(m)))
            pipe.expire(key, KEY_TTL)
        for session_id, by_socket in sockets.items():
            key = self._key(session_id, "online")
            for socket_id, person_id in by_socket.items():
                pipe.hset(key, socket_id, f"{person_id}|{node}")
            pipe.expire(key, KEY_TTL)
        await pipe.execute()

    async def renew_media(self, session_ids: set[int], node: str) -> None:
        """Extend this node's media leases (SET, so a restarted Redis learns them again)."""
        if not session_ids:
            return
        pipe = self._r.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.set(self._key(session_id, "media"), node, ex=MEDIA_LEASE)
        await pipe.execute()

    async def mark_alive(self, node: str, ttl: float) -> bool:
        """Renew this node's alive mark for ``ttl`` seconds; True when it had lapsed (or never existed).

        A lapsed mark means Redis restarted or was flushed (our sockets and members are gone with
        it), or this node could not reach it for a while (other nodes may have pruned our sockets
        meanwhile): either way the caller re-asserts them in full. It also
        means other nodes' marks may be missing for the same reason: forget what was seen missing,
        so nobody is pruned before a full grace period has passed from now.
        """
        old = await self._r.set(self._alive_key(node), "1", px=max(1, int(ttl * 1000)), get=True)
        if old is None:
            self._missing_since.clear()
            return True
        return False

    async def prune_dead_nodes(self, session_ids: Iterable[int], node: str, grace: float) -> dict[int, set[int]]:
        """Delete the presence entries of dead nodes in these rooms; returns, per room, who went offline.

        A node is dead when its alive mark (TTL a few heartbeats) is missing AND it has been seen
        missing by this node's sweeps for at least ``grace`` seconds. The grace is what keeps a
        Redis restart harmless: afterwards every mark is gone until each node's next heartbeat,
        which re-sets the mark *before* re-asserting its sockets — so a live node's entries never
        exist without its mark for longer than a beat or two, well within ``grace``. (An empty
        restarted Redis has no entries to prune at all; the grace covers a Redis restored from a
        snapshot, where old entries come back before their nodes' marks.) The deletion itself
        re-checks each mark atomically (``_PRUNE``), so a node that beat in between is spared.
        """
        sessions = sorted(set(session_ids))
        if not sessions:
            return {}
        pipe = self._r.pipeline(transaction=False)
        for session_id in sessions:
            pipe.hvals(self._key(session_id, "online"))
        nodes_in: dict[int, set[str]] = {}
        for session_id, raw in zip(sessions, await pipe.execute(), strict=True):
            found = {e[1] for e in map(_entry, raw) if e is not None and e[1] != node}
            if found:
                nodes_in[session_id] = found
        referenced = set().union(*nodes_in.values()) if nodes_in else set()
        alive = await self._alive(referenced)
        now = time.monotonic()
        for n in list(self._missing_since):
            if n in alive or n not in referenced:
                del self._missing_since[n]
        dead = set()
        for n in referenced - alive:
            since = self._missing_since.setdefault(n, now)
            if now - since >= grace:
                dead.add(n)
        gone: dict[int, set[int]] = {}
        for session_id, found in nodes_in.items():
            victims = sorted(found & dead)
            if not victims:
                continue
            keys = [self._key(session_id, "online"), self._key(session_id, "swept"),
                    *(self._alive_key(n) for n in victims)]  # fmt: skip
            left = await self._prune(keys=keys, args=[SWEPT_TTL, *victims])
            if left:
                gone[session_id] = {int(_s(p)) for p in left}
        return gone

    async def claim_swept(self, node: str, people: dict[int, set[int]]) -> dict[int, set[int]]:
        """Take the sweeps' tombstones naming ``node`` for these people (per room); returns whose were taken.

        Called by a node whose alive mark had lapsed, once it has re-asserted its sockets: the people
        returned were announced as gone while the node was only cut off, and it announces them again.
        Each tombstone goes with one HDEL, so of concurrent claims exactly one gets it; a Redis that
        restarted empty has none (nobody was swept, so nobody is re-announced).
        """
        order = [(sid, pid) for sid in sorted(people) for pid in sorted(people[sid])]
        if not order:
            return {}
        pipe = self._r.pipeline(transaction=False)
        for sid, pid in order:
            pipe.hdel(self._key(sid, "swept"), f"{pid}|{node}")
        claimed: dict[int, set[int]] = {}
        for (sid, pid), deleted in zip(order, await pipe.execute(), strict=True):
            if deleted:
                claimed.setdefault(sid, set()).add(pid)
        return claimed

    async def drop(self, session_id: int) -> None:
        await self._r.delete(*(self._key(session_id, p) for p in ("meta", "members", "online", "media", "swept")))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(value: bytes | str) -> tuple[int, str] | None:
    """An ``:online`` value, "person_id|node", as (person_id, node); None when malformed."""
    person, sep, node = _s(value).partition("|")
    return (int(person), node) if sep and person.isdigit() else None


def make_room_store(redis: Any | None) -> RoomStore:
    return RedisRoomStore(redis) if redis is not None else LocalRoomStore()
