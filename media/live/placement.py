"""Where a room's media lives across nodes: one owner per room, calls forwarded to it.

    router = MediaRouter(node="host-a:123", media=lambda: WorkerPool(config), leases=leases, link=link)
    await router.place("session-42", RoomKind.DEFENSE)            # claim the room for this node, or not
    answer = await router.call("session-42", "join", {...}, kind=RoomKind.DEFENSE)

A room's media lives on ONE node (LiveKit's rule): the first node to claim its lease, when
the session opens or, failing that, at the first media join. The owner renews its leases
(``owned``) every few seconds. A call that arrives on another node goes to the owner over the
node link in the media plane's one envelope (:mod:`media.live.rpc`); the owner runs it with
:meth:`MediaRouter.serve`. If the owner is gone (nobody listens for it), the lease is
released and the next join takes the room over; peers that were on the dead node rejoin.
Without a link (one node) every room is local.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from media.live import rpc
from media.live.fanout import RoomKind
from media.live.types import MediaServer, RoomMediaError

log = logging.getLogger(__name__)

# Calls that may find no open room and simply do nothing: the room ended, or never had media.
IDEMPOTENT_WITHOUT_ROOM = ("leave", "close_room", "set_active_speaker", "set_floor")


class MediaLeases(Protocol):
    """Who owns each room's media: a lease per room that its owner renews (Redis when shared)."""

    async def claim(self, room_id: str, node: str) -> str: ...  # the owner after the claim
    async def owner(self, room_id: str) -> str | None: ...
    async def release(self, room_id: str, node: str) -> None: ...
    async def renew(self, room_ids: set[str], node: str) -> None: ...


class OwnerGone(Exception):
    """Nobody listens for the node that holds the lease: it died without releasing it."""


class NodeLink(Protocol):
    """Requests to another node and its reply, in the ``media.live.rpc`` envelope."""

    async def call(self, node: str, message: dict[str, Any]) -> dict[str, Any]: ...  # raises OwnerGone


class MediaRouter:
    """Places rooms, runs calls where each room lives, and serves calls forwarded to this node."""

    def __init__(self, node: str, media: Callable[[], MediaServer], leases: MediaLeases,
                 link: NodeLink | None = None) -> None:  # fmt: skip
        self.node = node
        self.leases = leases
        self.link = link
        self._factory = media  # built on first use: importing aiortc costs seconds of start-up
        self._media: MediaServer | None = None
        self._on_event: list[Callable[[Any], Any]] = []
        self.owned: dict[str, RoomKind] = {}  # rooms whose media is on THIS node
        self._started = False
        self._start_lock = asyncio.Lock()
        self._next_id = 0

    def status(self) -> dict[str, Any]:
        """Rooms whose media is on this node, and the media server's workers when it has any."""
        workers = getattr(self._media, "workers_status", None)
        return {"node": self.node, "started": self._started, "rooms": sorted(self.owned),
                "workers": workers() if callable(workers) else []}  # fmt: skip

    def on_event(self, callback: Callable[[Any], Any]) -> None:
        self._on_event.append(callback)
        if self._media is not None:
            self._media.on_event(callback)

    @property
    def media(self) -> MediaServer:
        if self._media is None:
            self._media = self._factory()
            for callback in self._on_event:
                self._media.on_event(callback)
        return self._media

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if not self._started:
                start: Callable[[], Awaitable[None]] | None = getattr(self.media, "start", None)
                if start is not None:
                    await start()
                self._started = True

    async def _open_local(self, room_id: str, kind: RoomKind) -> None:
        await self._ensure_started()
        if room_id not in self.owned:
            await self.media.open_room(room_id, kind)
            self.owned[room_id] = kind

    async def place(self, room_id: str, kind: RoomKind) -> str:
        """Claim the room's media for this node unless another node holds it; returns the owner."""
        owner = await self.leases.claim(room_id, self.node)
        if owner == self.node:
            await self._open_local(room_id, kind)
            await self.leases.renew({room_id}, self.node)
        return owner

    async def renew(self) -> None:
        """Renew the leases of the rooms this node holds (every heartbeat)."""
        await self.leases.renew(set(self.owned), self.node)

    async def call(self, room_id: str, method: str, params: dict[str, Any], *, kind: RoomKind | None = None) -> Any:
        """Run ``method`` where the room's media lives: here, or on its owner. ``kind`` places it first."""
        for _attempt in range(2):
            owner = await (self.place(room_id, kind) if kind is not None else self.leases.owner(room_id))
            if owner is None:
                if method in IDEMPOTENT_WITHOUT_ROOM:
                    return None
                raise RoomMediaError("the media room is not open; join media first", "room_not_open")
            if owner == self.node:
                if room_id not in self.owned and kind is None:
                    raise RoomMediaError("the media room is not open on its node", "room_not_open")
                return await self.run_local(method, params, kind=kind)
            if self.link is None:
                raise RoomMediaError("the media room is on another node but nothing links the nodes", "unavailable")
            self._next_id += 1
            message = rpc.request(f"{self.node}/{self._next_id}", method, {**params, "kind": kind and kind.value})
            try:
                return rpc.result_of(await self.link.call(owner, message))
            except OwnerGone:
                log.warning("media node %s is gone; taking room %s over", owner, room_id)
                await self.leases.release(room_id, owner)
                if kind is None:
                    raise RoomMediaError("the media node of this room went away; join media again", "media_lost") from None
            except TimeoutError:
                raise RoomMediaError("the media node of this room did not answer in time", "unavailable") from None
        raise RoomMediaError("the media room could not be placed", "unavailable")

    async def run_local(self, method: str, params: dict[str, Any], *, kind: RoomKind | None = None) -> Any:
        room_id = params["room_id"]
        if method == "join":
            await self._open_local(room_id, kind or RoomKind.CONSULTATION)
        elif method == "close_room":
            self.owned.pop(room_id, None)
            await self.leases.release(room_id, self.node)
        return await rpc.call_method(self.media, method, params)

    async def serve(self, message: dict[str, Any]) -> dict[str, Any]:
        """Answer a call another node forwarded here (the room's lease is ours)."""
        params = dict(message.get("params") or {})
        raw_kind = params.pop("kind", None)
        kind = RoomKind(raw_kind) if raw_kind else None
        return await rpc.serve(lambda method, _: self.run_local(method, params, kind=kind), message)

    async def close(self) -> None:
        close: Callable[[], Awaitable[None]] | None = getattr(self._media, "close", None)
        if close is not None and self._started:
            with contextlib.suppress(Exception):
                await close()
