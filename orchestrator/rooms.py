"""Live rooms composed: Socket.IO signaling, durable chat, room state and the media plane.

    attach(app, svc)     # called by create_app for every EXTENSION; mounts /socket.io/

With ``redis_url`` set, python-socketio's ``AsyncRedisManager`` carries emits between nodes,
room state lives in Redis hashes (``signaling.room.RedisRoomStore``), chat limits are Redis
token buckets, and the bus carries control messages (admit, remove, end...). Redis must stay
private to the nodes: it carries every room's traffic and room state (python-socketio 5.18
sends JSON; its older releases pickled, so an exposed Redis meant remote code execution).

Media placement (``media.live.placement.MediaRouter``): a room's media lives on ONE node, the
first to claim its lease (kept in the room store) when the session opens or at the first media
join; calls arriving on other nodes are forwarded to it over Redis (``orchestrator.nodelink``).
This module only wires them: leases over the room store, signaling's ``MediaPlane`` over the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import socketio
from aiohttp import web
from sqlalchemy.orm import Session

from media.errors import MediaError
from media.live.fanout import RoomKind
from media.live.placement import MediaRouter
from media.live.types import IceServer, MediaConfig, MediaServer, RoomMediaError
from orchestrator import audit
from orchestrator.bus import Event
from orchestrator.chatstore import SqlChatStore
from orchestrator.errors import ServiceUnavailable
from orchestrator.nodelink import RedisNodeLink
from orchestrator.services import Services
from orchestrator.store.models import RevokedGrant, SessionRecord
from signaling import fanout, gcpolicy
from signaling.backend import Backend, MediaRefused, SessionInfo
from signaling.chat import Chat, ChatPolicy
from signaling.errors import Unavailable
from signaling.grants import GrantError, JoinClaims, room_kind, verify
from signaling.protocol import LEAVE_REASONS
from signaling.room import RoomStore, make_room_store
from signaling.server import SignalingServer

log = logging.getLogger("aulacast.rooms")

SIGNALING = web.AppKey("signaling", SignalingServer)
ALIVE_BEATS = 3  # a node's alive mark lives this many heartbeats: one or two missed beats do not kill it
PRUNE_GRACE_BEATS = 2  # and a missing mark must stay missing this long before its sockets are swept
SESSION_CACHE_SECONDS = 5.0  # session rows change rarely; ended rooms are also flagged in room state


def media_room_id(session_id: int) -> str:
    return f"session-{session_id}"


def session_of_room(room_id: str) -> int | None:
    prefix = "session-"
    return int(room_id[len(prefix):]) if room_id.startswith(prefix) and room_id[len(prefix):].isdigit() else None


def make_media_server(svc: Services) -> MediaServer:
    """The media server this node runs: injected (tests, benches), else worker processes (0 = one per core)."""
    if svc.media_server is not None:
        return svc.media_server
    from media.live.workers import WorkerPool
    from orchestrator import worker
    from orchestrator.metrics import worker_env, worker_exited

    settings = svc.settings
    ice = settings.ice
    config = MediaConfig(
        ice_servers=[IceServer(urls=list(ice.stun_urls))] if ice.stun_urls else [],
        host_addresses=list(ice.host_addresses) or None,
        **settings.media.model_dump(),
    )
    launcher = worker.launcher("media.live.workers", settings.log_level)
    return WorkerPool(config, workers=settings.media_workers, launcher=launcher, env=worker_env(settings),
                      on_exit=worker_exited(settings))  # fmt: skip


class RoomLeases:
    """The media router's leases, kept where room state is (``RoomStore``: a dict, or Redis)."""

    def __init__(self, rooms: RoomStore) -> None:
        self._rooms = rooms

    @staticmethod
    def _session(room_id: str) -> int:
        session_id = session_of_room(room_id)
        if session_id is None:
            raise RoomMediaError(f"{room_id!r} is not a session's media room", "bad_request")
        return session_id

    async def claim(self, room_id: str, node: str) -> str:
        return await self._rooms.claim_media(self._session(room_id), node)

    async def owner(self, room_id: str) -> str | None:
        return await self._rooms.media_owner(self._session(room_id))

    async def release(self, room_id: str, node: str) -> None:
        await self._rooms.release_media(self._session(room_id), node)

    async def renew(self, room_ids: set[str], node: str) -> None:
        await self._rooms.renew_media({self._session(r) for r in room_ids}, node)


class MediaPlaneAdapter:
    """``signaling.backend.MediaPlane`` (sessions, people, MediaRefused) over the media router."""

    def __init__(self, router: MediaRouter) -> None:
        self.router = router

    async def _call(self, session_id: int, method: str, params: dict[str, Any], kind: str | None = None) -> Any:
        try:
            return await self.router.call(media_room_id(session_id), method,
                                          {"room_id": media_room_id(session_id), **params},
                                          kind=None if kind is None else RoomKind(room_kind(kind)))  # fmt: skip
        except RoomMediaError as exc:
            raise MediaRefused(str(exc), exc.code) from None
        except MediaError as exc:
            raise MediaRefused(str(exc), "media_refused") from None

    async def place(self, session_id: int, kind: str) -> str:
        return await self.router.place(media_room_id(session_id), RoomKind(room_kind(kind)))

    async def join(self, session_id: int, person_id: int, kind: str, grant: dict[str, bool], sdp: str | None,
                   sources: Mapping[str, str]) -> str | None:  # fmt: skip
        params = {"peer_id": str(person_id), "grant": grant, "offer_sdp": sdp, "sources": dict(sources)}
        return await self._call(session_id, "join", params, kind)

    async def renegotiate(self, session_id: int, person_id: int, sdp: str, sources: Mapping[str, str]) -> str:
        params = {"peer_id": str(person_id), "offer_sdp": sdp, "sources": dict(sources)}
        return await self._call(session_id, "renegotiate", params)

    async def answer(self, session_id: int, person_id: int, sdp: str) -> None:
        await self._call(session_id, "answer", {"peer_id": str(person_id), "answer_sdp": sdp})

    async def leave(self, session_id: int, person_id: int) -> None:
        await self._call(session_id, "leave", {"peer_id": str(person_id)})

    async def set_active_speaker(self, session_id: int, person_id: int | None) -> None:
        await self._call(session_id, "set_active_speaker", {"peer_id": None if person_id is None else str(person_id)})

    async def close_room(self, session_id: int) -> None:
        await self._call(session_id, "close_room", {})

    async def set_floor(self, session_id: int, grants: Mapping[int, dict[str, bool]], speaker: int | None) -> None:
        params = {"grants": {str(p): g for p, g in grants.items()}, "peer_id": None if speaker is None else str(speaker)}
        await self._call(session_id, "set_floor", params)


class CountedChatStore(SqlChatStore):
    """The chat store, counting each stored message for /metrics (live or off-line)."""

    async def add(self, session_id: int, sender_id: int, sender_name: str, body: str, offline: bool) -> Any:
        from orchestrator.metrics import count_chat

        record = await super().add(session_id, sender_id, sender_name, body, offline)
        count_chat("offline" if offline else "live")
        return record


def make_backend(svc: Services, rooms: RoomStore, media: MediaPlaneAdapter | None) -> Backend:
    key = svc.settings.signing_key()
    store = CountedChatStore(svc)
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
            claims = verify(token, key, session_id=None, now=time.time())
            revoked = s.get(RevokedGrant, claims.jti)  # bound to its session (NULL: revoked before 0007, any)
            if revoked is not None and revoked.session_id in (None, claims.session_id):
                raise GrantError("this join link was revoked by the host or staff", "revoked")
            lookup(s, claims.session_id)
            return claims

        return await svc.db_call(run)

    async def session_info(session_id: int) -> SessionInfo | None:
        cached = sessions.get(session_id)
        if cached is not None and time.monotonic() - cached[0] < SESSION_CACHE_SECONDS:
            return cached[1]
        return await svc.db_call(lambda s: lookup(s, session_id))

    async def control(payload: dict[str, Any]) -> None:
        if payload.get("action") == "end" and payload.get("by") is not None:
            # a host ended it early: the session record follows (schedule, /join, GET /api/sessions/{id})
            from orchestrator.lifecycle import close_now

            try:
                await close_now(svc, int(payload["session_id"]), by=int(payload["by"]))
            except Exception:  # the room is ended either way; the planned end closes the record later
                log.exception("closing session %s after its end for all failed", payload.get("session_id"))
        await svc.bus.publish("room.control", payload)

    async def write_audit(actor: int, action: str, target: str, detail: dict[str, Any]) -> None:
        await svc.db_call(lambda s: audit.record(s, actor, action, target, **detail))

    from orchestrator.defenses.desk import Desk

    async def presence(session_id: int, person_id: int, role: str, joined: bool) -> None:
        from orchestrator.defenses.attendance import record_presence

        await svc.db_call(lambda s: record_presence(s, session_id, person_id, role, joined))

    return Backend(verify_token, session_info, chat, store, rooms, media, control, write_audit, svc.node,
                   desk=Desk(svc), presence=presence,
                   max_sockets_per_person=svc.settings.signaling.max_sockets_per_person)


def attach(app: web.Application, svc: Services) -> None:
    """Mount Socket.IO at /socket.io/, wire chat, rooms, media and bus events; clean up on shutdown."""
    redis_url = svc.settings.redis_url
    stock_fanout = svc.settings.signaling.stock_fanout
    manager = fanout.make_manager(
        None if redis_url is None else redis_url.get_secret_value(), stock_fanout, channel="aulacast:socketio",
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
    if not stock_fanout and not fanout.install(sio):
        log.warning("python-engineio's websocket wiring moved; chat fan-out runs without the direct path")
    rooms = make_room_store(svc.redis)
    server: SignalingServer | None = None

    def on_media_event(event: Any) -> Any:
        session_id = session_of_room(event.room_id)
        if session_id is None or server is None:
            return None
        peer = int(event.peer_id) if str(event.peer_id).isdigit() else None
        return server.on_media_event(event.type, session_id, peer, dict(event.data))

    link = None if svc.redis is None else RedisNodeLink(svc.redis, svc.node)
    router = MediaRouter(svc.node, lambda: make_media_server(svc), RoomLeases(rooms), link)
    router.on_event(on_media_event)
    media = MediaPlaneAdapter(router)
    server = SignalingServer(sio, make_backend(svc, rooms, media))
    app[SIGNALING] = server
    svc.signaling = server
    svc.media_router = router

    async def opened(event: Event) -> None:
        sid, kind = int(event.payload["session_id"]), str(event.payload.get("kind", "consultation"))
        await server.open_room(sid, room_kind(kind))
        try:
            await media.place(sid, kind)
        except (RoomMediaError, MediaError) as exc:
            log.warning("media placement of session %s failed: %s", sid, exc)

    async def closed(event: Event) -> None:
        await server.end_session(int(event.payload["session_id"]), reason=LEAVE_REASONS.make("time_over").text, by=None)

    async def control(event: Event) -> None:
        await server.on_control(event.payload)

    svc.bus.subscribe("session.opened", opened)
    svc.bus.subscribe("session.closed", closed)
    svc.bus.subscribe("room.control", control)

    beat = svc.settings.signaling.heartbeat_seconds

    async def heartbeat() -> None:
        """Every beat: alive mark first (so our re-asserted sockets never sit in Redis without it),
        media leases, refill (in full when our mark had lapsed: others may have swept us, and the
        people they announced as gone are announced again), sweep."""
        failing_since: float | None = None
        failures = 0
        while True:
            await asyncio.sleep(beat)
            try:
                lapsed = await rooms.mark_alive(svc.node, beat * ALIVE_BEATS)
                await router.renew()
                await server.refill(lapsed)
                await server.sweep(beat * PRUNE_GRACE_BEATS)
            except (Unavailable, ServiceUnavailable, ConnectionError, TimeoutError, OSError) as exc:
                # Redis restarting: keep beating (the first beat back refills), but warn with backoff:
                # at the 1st, 2nd, 4th, 8th ... failure in a row
                failures += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                if failures & (failures - 1) == 0:
                    log.warning("room heartbeat failed %d time(s) in a row (%s)", failures, exc)
                continue
            if failing_since is not None:
                log.warning("room heartbeat back after %.1f s", time.monotonic() - failing_since)
                failing_since, failures = None, 0

    async def lifespan(_app: web.Application) -> AsyncIterator[None]:
        tasks = []
        if svc.settings.signaling.gc_freeze:
            tasks.append(asyncio.create_task(gcpolicy.keep_gc_pauses_short(), name="gc-freeze"))
        if svc.redis is not None:
            with contextlib.suppress(Exception):  # alive before the first socket arrives; else the first beat
                async with asyncio.timeout(2):
                    await rooms.mark_alive(svc.node, beat * ALIVE_BEATS)
            assert link is not None
            tasks.append(asyncio.create_task(link.listen(router.serve), name="media-forwarding"))
            tasks.append(asyncio.create_task(heartbeat(), name="room-heartbeat"))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await server.close()
        await router.close()

    app.cleanup_ctx.append(lifespan)
