"""Live rooms composed: Socket.IO signaling, durable chat, room state and the media plane.

    attach(app, svc)     # called by create_app for every EXTENSION; mounts /socket.io/

With ``redis_url`` set, python-socketio's ``AsyncRedisManager`` carries emits between nodes,
room state lives in Redis hashes (``signaling.room.RedisRoomStore``), chat limits are Redis
token buckets, and the bus carries control messages (admit, remove, end...). Redis must stay
private to the nodes: it carries every room's traffic and room state (python-socketio 5.18
sends JSON; its older releases pickled, so an exposed Redis meant remote code execution).

Media placement: a room's media lives on ONE node — the first node to claim it when the
session opens (``session.opened`` reaches every node; ``SET NX`` on ``aulacast:room:<id>:media``
decides) or, failing that, the node of the first ``media-join``. The owner renews the lease every
few seconds. A client connected to another node is served by forwarding: that node relays the
media call (join / renegotiate / answer / leave) over Redis to the owner (channel
``aulacast:media:<node>``), and the owner's media events reach the client's socket through the
Socket.IO Redis manager. If the owner is gone (nobody listens on its channel), the next join
takes the room over; the peers that were on the dead node rejoin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.bus import Event
from orchestrator.chatstore import SqlChatStore
from orchestrator.errors import ServiceUnavailable
from orchestrator.services import Services
from orchestrator.store.models import RevokedGrant, SessionRecord
from signaling import fanout, gcpolicy
from signaling.backend import Backend, MediaRefused, SessionInfo
from signaling.chat import Chat, ChatPolicy
from signaling.errors import Unavailable
from signaling.grants import JoinClaims, room_kind, verify
from signaling.room import RoomStore, make_room_store
from signaling.server import SignalingServer

log = logging.getLogger("aulacast.rooms")

SIGNALING = web.AppKey("signaling", SignalingServer)
HEARTBEAT_SECONDS = 3.0
HEARTBEAT_ENV = "AULACAST_ROOM_HEARTBEAT_SECONDS"  # override (tests make crashes show quickly)
ALIVE_BEATS = 3  # a node's alive mark lives this many heartbeats: one or two missed beats do not kill it
PRUNE_GRACE_BEATS = 2  # and a missing mark must stay missing this long before its sockets are swept
RPC_TIMEOUT = 15.0
SESSION_CACHE_SECONDS = 5.0  # session rows change rarely; ended rooms are also flagged in room state


def heartbeat_seconds() -> float:
    """The room heartbeat: ``$AULACAST_ROOM_HEARTBEAT_SECONDS`` (0.1–60) or 3 s."""
    raw = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not raw:
        return HEARTBEAT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %.1f s", HEARTBEAT_ENV, raw, HEARTBEAT_SECONDS)
        return HEARTBEAT_SECONDS
    return min(max(value, 0.1), 60.0)


def media_room_id(session_id: int) -> str:
    return f"session-{session_id}"


def session_of_room(room_id: str) -> int | None:
    prefix = "session-"
    return int(room_id[len(prefix):]) if room_id.startswith(prefix) and room_id[len(prefix):].isdigit() else None


def make_media_server(svc: Services) -> Any:
    """The media server this node runs: injected (tests), else worker processes (0 = one per core)."""
    injected = svc.extras.get("media_server")
    if injected is not None:
        return injected
    from media.live.types import IceServer, MediaConfig
    from media.live.workers import WorkerPool

    ice = svc.settings.ice
    config = MediaConfig(
        ice_servers=[IceServer(urls=list(ice.stun_urls))] if ice.stun_urls else [],
        host_addresses=list(ice.host_addresses) or None,
    )
    return WorkerPool(config, workers=svc.settings.media_workers)


class MediaBridge:
    """``signaling.server.MediaPlane`` over this node's media server, forwarding to the owning node."""

    def __init__(self, svc: Services, rooms: RoomStore, factory: Callable[[], Any],
                 on_event: Callable[[Any], Any]) -> None:  # fmt: skip
        self.svc = svc
        self.rooms = rooms
        self._factory = factory  # built on first use: importing aiortc costs seconds of start-up
        self._on_event = on_event
        self._media: Any = None
        self.node = svc.node
        self.open: dict[int, str] = {}  # session id -> kind, rooms whose media is on THIS node
        self._started = False
        self._start_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # --- placement ----------------------------------------------------------------------------

    @property
    def media(self) -> Any:
        if self._media is None:
            self._media = self._factory()
            self._media.on_event(self._on_event)
        return self._media

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if not self._started:
                start = getattr(self.media, "start", None)
                if start is not None:
                    await start()
                self._started = True

    async def _open_local(self, session_id: int, kind: str) -> None:
        from media.live.fanout import RoomKind

        await self._ensure_started()
        if session_id not in self.open:
            await self._local(self.media.open_room(media_room_id(session_id), RoomKind(room_kind(kind))))
            self.open[session_id] = kind

    async def place(self, session_id: int, kind: str) -> str:
        """Claim the room's media for this node unless another node holds it; returns the owner."""
        owner = await self.rooms.claim_media(session_id, self.node)
        if owner == self.node:
            await self._open_local(session_id, kind)
            await self.rooms.renew_media({session_id}, self.node)
        return owner

    async def _call(self, session_id: int, method: str, params: dict[str, Any], *, kind: str | None = None) -> Any:
        """Run ``method`` where the room's media lives (here, or on the owner node through Redis)."""
        for _attempt in range(2):
            owner = await (self.place(session_id, kind) if kind is not None else self.rooms.media_owner(session_id))
            if owner is None:
                if method in ("leave", "close_room", "set_active_speaker"):
                    return None
                raise MediaRefused("the media room is not open; join media first", "room_not_open")
            if owner == self.node:
                if session_id not in self.open and kind is None:
                    raise MediaRefused("the media room is not open on its node", "room_not_open")
                return await self.run_local(method, params)
            try:
                return await self._rpc(owner, method, params)
            except _OwnerGone:
                log.warning("media node %s is gone; taking room %s over", owner, session_id)
                await self.rooms.release_media(session_id, owner)
                if kind is None:
                    raise MediaRefused("the media node of this room went away; join media again", "media_lost") from None
        raise MediaRefused("the media room could not be placed", "unavailable")

    async def run_local(self, method: str, p: dict[str, Any]) -> Any:
        from media.live.types import MediaGrant

        m, room = self.media, media_room_id(p["session_id"])
        if method == "join":
            kind = p.get("kind", "consultation")
            await self._open_local(p["session_id"], kind)
            grant = MediaGrant.from_dict(p["grant"])
            return await self._local(m.join(room, str(p["person_id"]), grant, p.get("sdp"), p.get("sources") or {}))
        if method == "renegotiate":
            return await self._local(m.renegotiate(room, str(p["person_id"]), p["sdp"], p.get("sources") or {}))
        if method == "answer":
            return await self._local(m.answer(room, str(p["person_id"]), p["sdp"]))
        if method == "leave":
            return await self._local(m.leave(room, str(p["person_id"])))
        if method == "set_active_speaker":
            pid = p.get("person_id")
            return await self._local(m.set_active_speaker(room, None if pid is None else str(pid)))
        if method == "close_room":
            self.open.pop(p["session_id"], None)
            await self.rooms.release_media(p["session_id"], self.node)
            return await self._local(m.close_room(room))
        raise MediaRefused(f"unknown media method {method!r}", "bad_request")

    @staticmethod
    async def _local(coro: Any) -> Any:
        from media.errors import MediaError
        from media.live.types import RoomMediaError

        try:
            return await coro
        except RoomMediaError as exc:
            raise MediaRefused(str(exc), exc.code) from None
        except MediaError as exc:
            raise MediaRefused(str(exc), "media_refused") from None

    # --- MediaPlane -----------------------------------------------------------------------------

    async def join(self, session_id: int, person_id: int, kind: str, grant: dict[str, bool], sdp: str | None,
                   sources: Mapping[str, str]) -> str | None:  # fmt: skip
        params = {"session_id": session_id, "person_id": person_id, "kind": kind, "grant": grant, "sdp": sdp,
                  "sources": dict(sources)}  # fmt: skip
        return await self._call(session_id, "join", params, kind=kind)

    async def renegotiate(self, session_id: int, person_id: int, sdp: str, sources: Mapping[str, str]) -> str:
        params = {"session_id": session_id, "person_id": person_id, "sdp": sdp, "sources": dict(sources)}
        return await self._call(session_id, "renegotiate", params)

    async def answer(self, session_id: int, person_id: int, sdp: str) -> None:
        await self._call(session_id, "answer", {"session_id": session_id, "person_id": person_id, "sdp": sdp})

    async def leave(self, session_id: int, person_id: int) -> None:
        await self._call(session_id, "leave", {"session_id": session_id, "person_id": person_id})

    async def set_active_speaker(self, session_id: int, person_id: int | None) -> None:
        await self._call(session_id, "set_active_speaker", {"session_id": session_id, "person_id": person_id})

    async def close_room(self, session_id: int) -> None:
        await self._call(session_id, "close_room", {"session_id": session_id})

    # --- forwarding between nodes (Redis only) ---------------------------------------------------

    def _channel(self, node: str) -> str:
        return f"aulacast:media:{node}"

    def _reply_channel(self, node: str) -> str:
        return f"aulacast:media-reply:{node}"

    async def _rpc(self, owner: str, method: str, params: dict[str, Any]) -> Any:
        redis = self.svc.redis
        if redis is None:
            raise MediaRefused("the media room is on another node but no Redis links the nodes", "unavailable")
        rid = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            body = json.dumps({"id": rid, "reply_to": self.node, "method": method, "params": params})
            receivers = await redis.publish(self._channel(owner), body)
            if not receivers:
                raise _OwnerGone(owner)
            return await asyncio.wait_for(future, RPC_TIMEOUT)
        except TimeoutError:
            raise MediaRefused("the media node of this room did not answer in time", "unavailable") from None
        finally:
            self._pending.pop(rid, None)

    async def listen(self) -> None:
        """Serve media calls forwarded to this node and collect replies to ours; reconnects forever."""
        redis = self.svc.redis
        assert redis is not None
        backoff = 0.2
        while True:
            try:
                pubsub = redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._channel(self.node), self._reply_channel(self.node))
                backoff = 0.2
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = json.loads(message["data"])
                    channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
                    if channel == self._reply_channel(self.node):
                        future = self._pending.get(data.get("id"))
                        if future is not None and not future.done():
                            if "error" in data:
                                future.set_exception(MediaRefused(data["error"]["message"], data["error"]["code"]))
                            else:
                                future.set_result(data.get("result"))
                    else:
                        task = asyncio.ensure_future(self._serve(data))
                        self._handlers.add(task)
                        task.add_done_callback(self._handlers.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("media forwarding lost Redis (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _serve(self, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request.get("id")}
        try:
            reply["result"] = await self.run_local(str(request.get("method")), request.get("params") or {})
        except MediaRefused as exc:
            reply["error"] = {"code": exc.code, "message": str(exc)}
        except Exception as exc:
            log.exception("forwarded media call failed")
            reply["error"] = {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}
        assert self.svc.redis is not None
        await self.svc.redis.publish(self._reply_channel(str(request.get("reply_to"))), json.dumps(reply))

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        close = getattr(self._media, "close", None)
        if close is not None and self._started:
            with contextlib.suppress(Exception):
                await close()


class _OwnerGone(Exception):
    pass


def make_backend(svc: Services, rooms: RoomStore, bridge: MediaBridge | None) -> Backend:
    key = svc.settings.signing_key()
    store = SqlChatStore(svc)
    chat_cfg = svc.settings.chat

    async def chat_allowed(key: str, *, rate: float, burst: int, cost: float = 1.0) -> bool:
        try:
            return await svc.limiter.allow(key, rate=rate, burst=burst, cost=cost)
        except ServiceUnavailable as exc:
            raise Unavailable(str(exc)) from exc

    chat = Chat(store, chat_allowed, ChatPolicy(chat_cfg.max_length, chat_cfg.rate_per_second, chat_cfg.burst))

    sessions: dict[int, tuple[float, SessionInfo | None]] = {}

    def lookup(s: Session, session_id: int) -> SessionInfo | None:
        row = s.get(SessionRecord, session_id)
        info = None if row is None else SessionInfo(row.id, row.title, row.kind, row.status, row.start_at, row.end_at)
        sessions[session_id] = (time.monotonic(), info)
        return info

    async def verify_token(token: str) -> JoinClaims:
        # one transaction: the revocation check (always fresh) and the session row (cached briefly)
        def run(s: Session) -> JoinClaims:
            claims = verify(token, key, session_id=None, now=time.time(),
                            is_revoked=lambda jti: s.get(RevokedGrant, jti) is not None)  # fmt: skip
            lookup(s, claims.session_id)
            return claims

        return await svc.db_call(run)

    async def session_info(session_id: int) -> SessionInfo | None:
        cached = sessions.get(session_id)
        if cached is not None and time.monotonic() - cached[0] < SESSION_CACHE_SECONDS:
            return cached[1]
        return await svc.db_call(lambda s: lookup(s, session_id))

    async def control(payload: dict[str, Any]) -> None:
        await svc.bus.publish("room.control", payload)

    async def write_audit(actor: int, action: str, target: str, detail: dict[str, Any]) -> None:
        await svc.db_call(lambda s: audit.record(s, actor, action, target, **detail))

    return Backend(verify_token, session_info, chat, store, rooms, bridge, control, write_audit, svc.node)


def attach(app: web.Application, svc: Services) -> None:
    """Mount Socket.IO at /socket.io/, wire chat, rooms, media and bus events; clean up on shutdown."""
    redis_url = svc.settings.redis_url
    manager = fanout.make_manager(
        None if redis_url is None else redis_url.get_secret_value(), channel="aulacast:socketio",
        redis_options={"socket_connect_timeout": 2, "health_check_interval": 5},
    )  # fmt: skip
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        max_http_buffer_size=256 * 1024,  # transport cap; the 64 KiB event limit answers with an error
        cors_allowed_origins=[svc.settings.effective_public_url],
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app, socketio_path="socket.io")
    if not fanout.stock() and not fanout.install(sio):
        log.warning("python-engineio's websocket wiring moved; chat fan-out runs without the direct path")
    rooms = make_room_store(svc.redis)
    server: SignalingServer | None = None

    def on_media_event(event: Any) -> Any:
        session_id = session_of_room(event.room_id)
        if session_id is None or server is None:
            return None
        peer = int(event.peer_id) if str(event.peer_id).isdigit() else None
        return server.on_media_event(event.type, session_id, peer, dict(event.data))

    bridge = MediaBridge(svc, rooms, lambda: make_media_server(svc), on_media_event)
    server = SignalingServer(sio, make_backend(svc, rooms, bridge))
    app[SIGNALING] = server
    svc.extras["signaling"] = server
    svc.extras["media_bridge"] = bridge

    async def opened(event: Event) -> None:
        sid, kind = int(event.payload["session_id"]), str(event.payload.get("kind", "consultation"))
        await server.open_room(sid, room_kind(kind))
        try:
            await bridge.place(sid, kind)
        except MediaRefused as exc:
            log.warning("media placement of session %s failed: %s", sid, exc)

    async def closed(event: Event) -> None:
        await server.end_session(int(event.payload["session_id"]), reason="the session's time is over", by=None)

    async def control(event: Event) -> None:
        await server.on_control(event.payload)

    svc.bus.subscribe("session.opened", opened)
    svc.bus.subscribe("session.closed", closed)
    svc.bus.subscribe("room.control", control)

    beat = heartbeat_seconds()

    async def heartbeat() -> None:
        """Every beat: alive mark first (so our re-asserted sockets never sit in Redis without it),
        media leases, refill (in full when our mark had lapsed: others may have swept us, and the
        people they announced as gone are announced again), sweep."""
        failing_since: float | None = None
        delay = beat
        while True:
            await asyncio.sleep(delay)
            try:
                lapsed = await rooms.mark_alive(svc.node, beat * ALIVE_BEATS)
                await rooms.renew_media(set(bridge.open), svc.node)
                await server.refill(lapsed)
                await server.sweep(beat * PRUNE_GRACE_BEATS)
            except (Unavailable, ServiceUnavailable, ConnectionError, TimeoutError, OSError) as exc:
                # Redis restarting: beat less often while it is away; the first beat back refills
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("room heartbeat failed (%s); retrying with backoff", exc)
                delay = min(delay * 2, beat * 2)
                continue
            if failing_since is not None:
                log.warning("room heartbeat back after %.1f s", time.monotonic() - failing_since)
                failing_since, delay = None, beat

    async def lifespan(_app: web.Application) -> AsyncIterator[None]:
        tasks = []
        if gcpolicy.enabled():
            tasks.append(asyncio.create_task(gcpolicy.keep_gc_pauses_short(), name="gc-freeze"))
        if svc.redis is not None:
            with contextlib.suppress(Exception):  # alive before the first socket arrives; else the first beat
                async with asyncio.timeout(2):
                    await rooms.mark_alive(svc.node, beat * ALIVE_BEATS)
            tasks.append(asyncio.create_task(bridge.listen(), name="media-forwarding"))
            tasks.append(asyncio.create_task(heartbeat(), name="room-heartbeat"))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await server.close()
        await bridge.close()

    app.cleanup_ctx.append(lifespan)
