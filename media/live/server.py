"""The media plane's interface to signaling: join, publish, subscribe, leave, events.

Usage::

    media = LocalMediaServer(MediaConfig(ice_servers=[IceServer(urls=["turn:turn.example:3478"])]))
    media.on_event(forward_to_socket)           # subscribe-offer, track-added/removed, peer-left ...
    await media.open_room("session-42", RoomKind.CONSULTATION)
    answer = await media.join("session-42", "alice", grant, offer_sdp, sources={"0": "camera"})
    await media.answer("session-42", "alice", answer_sdp_from_client)   # reply to a subscribe-offer

Each peer has two peer connections, each negotiated from one side only, so
offers never cross (no glare):

* the *publish* connection: the client offers its own tracks (``join``; later
  ``renegotiate`` to start/stop a screen share), the server answers;
* the *subscribe* connection: the server offers the tracks the room's fan-out
  policy gives this peer (event ``subscribe-offer``) and the client answers
  (``answer``). Whenever that set changes the server offers again.

Track sources (camera / microphone / screen / screen_audio) are named by the
client per m-line: ``sources`` maps the offer's ``a=mid`` values to source
names (signaling relays it next to the SDP). Without an entry, an m-line whose
``a=msid`` stream or track id starts with a source name ("screen-...") gets
that source; otherwise the first audio m-line is the microphone and the first
video m-line the camera. Any other unlabelled m-line is refused, as is a source
the grant does not allow.

Bitrate: aiortc has no simulcast and cannot re-encode on a forwarding path,
so publishers cap their own bitrate (``RTCRtpSender.setParameters`` with
``maxBitrate`` in the browser); the server forwards what it gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from media.live import aiortc_hooks
from media.live.egress import EgressTap, stopped_event
from media.live.fanout import RoomKind
from media.live.rtpforward import FanoutPump
from media.live.sfu import Room
from media.live.types import EgressFactory, EventCallback, MediaConfig, MediaEvent, MediaGrant, RoomMediaError

log = logging.getLogger(__name__)


class EventHub:
    """Fans MediaEvents out to registered callbacks (sync or async); a failing callback is logged."""

    def __init__(self) -> None:
        self._callbacks: list[EventCallback] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def on_event(self, callback: EventCallback) -> None:
        self._callbacks.append(callback)

    def emit(self, event: MediaEvent) -> None:
        for callback in self._callbacks:
            try:
                result = callback(event)
            except Exception:
                log.exception("media event callback failed for %s", event.type)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)


class LocalMediaServer:
    """Rooms held in this process (a media worker, or the whole service on one small machine)."""

    def __init__(self, config: MediaConfig | None = None, egress: EgressFactory | None = None) -> None:
        """``egress``: makes the sink of ``start_egress`` (the recorder, injected by whoever starts the server)."""
        aiortc_hooks.require_internals()  # refuse to start, naming what moved, rather than misbehave later
        self.config = config or MediaConfig()
        self._room_cls = Room
        # One pump per process: rooms share the event loop, so they share its slices fairly.
        self.pump = FanoutPump(self.config.fanout_slice_packets, self.config.fanout_backlog_packets)
        self._rooms: dict[str, Room] = {}
        self._events = EventHub()
        self._ice_settings: contextlib.ExitStack | None = None
        self._egress_factory = egress
        self._egress: dict[tuple[str, str], EgressTap] = {}
        self._events.on_event(self._egress_event)

    def _apply_ice_settings(self) -> None:
        """Put aioice's process-wide settings this server needs in force, from its first room until ``close``."""
        if self._ice_settings is not None:
            return
        config = self.config
        settings = contextlib.ExitStack()
        settings.enter_context(
            aiortc_hooks.set_consent_timing(config.consent_interval, config.consent_failures,
                                            config.consent_retransmissions)  # fmt: skip
        )
        if config.host_addresses:
            settings.enter_context(aiortc_hooks.restrict_host_addresses(config.host_addresses))
        self._ice_settings = settings

    def on_event(self, callback: EventCallback) -> None:
        self._events.on_event(callback)

    def room(self, room_id: str) -> Any:
        room = self._rooms.get(room_id)
        if room is None:
            raise RoomMediaError(f"media room {room_id!r} is not open on this server", code="room_not_open")
        return room

    @property
    def rooms(self) -> dict[str, Any]:
        return dict(self._rooms)

    async def open_room(self, room_id: str, kind: RoomKind) -> None:
        """Open a room; opening it again is a no-op (the same room)."""
        if room_id not in self._rooms:
            self._apply_ice_settings()
            self._rooms[room_id] = self._room_cls(room_id, RoomKind(kind), self.config, self._events.emit, self.pump)

    async def join(
        self,
        room_id: str,
        peer_id: str,
        grant: MediaGrant,
        offer_sdp: str | None,
        sources: Mapping[str, str] | None = None,
    ) -> str | None:
        """Add a peer; returns the SDP answer to its publish offer (None when it publishes nothing)."""
        return await self.room(room_id).join(peer_id, grant, offer_sdp, sources or {})

    async def renegotiate(
        self, room_id: str, peer_id: str, offer_sdp: str, sources: Mapping[str, str] | None = None
    ) -> str:
        """A new publish offer from a peer already in the room (screen share on/off); returns the answer."""
        return await self.room(room_id).publish(peer_id, offer_sdp, sources or {})

    async def answer(self, room_id: str, peer_id: str, answer_sdp: str) -> None:
        """The peer's answer to the last ``subscribe-offer`` it was sent."""
        await self.room(room_id).subscribe_answer(peer_id, answer_sdp)

    async def set_active_speaker(self, room_id: str, peer_id: str | None) -> None:
        await self.room(room_id).set_active_speaker(peer_id)

    async def set_floor(self, room_id: str, grants: Mapping[str, MediaGrant], speaker: str | None) -> None:
        """New grants for some peers and the active speaker, in one step (``sfu.Room.set_floor``)."""
        await self.room(room_id).set_floor(grants, speaker)

    async def leave(self, room_id: str, peer_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            await room.remove(peer_id, reason="left")

    async def close_room(self, room_id: str) -> None:
        for key in [k for k in self._egress if k[0] == room_id]:
            await self._finish_egress(key, "room closed")
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    # --- egress (recording) ----------------------------------------------------------------

    async def start_egress(self, room_id: str, egress_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Hand the room's encoded frames to a new sink (one more subscriber); returns what the sink says."""
        room = self.room(room_id)
        if self._egress_factory is None:
            raise RoomMediaError("this media server has no recorder configured", "egress_unavailable")
        if (room_id, egress_id) in self._egress:
            raise RoomMediaError(f"egress {egress_id!r} already runs in room {room_id!r}", "egress_exists")

        def stopped(reason: str) -> None:  # the sink gave up by itself (disk full): detach, tell signaling
            tap = self._egress.pop((room_id, egress_id), None)
            if tap is not None:
                tap.detach()
                self._events.emit(stopped_event(room_id, egress_id, reason, "interrupted"))

        sink = self._egress_factory(room_id, egress_id, dict(params), stopped)
        self._egress[(room_id, egress_id)] = EgressTap(room, sink)
        return {"egress_id": egress_id, "room_id": room_id}

    async def stop_egress(self, room_id: str, egress_id: str) -> dict[str, Any]:
        """Detach the sink and close it (files finished); returns its summary. Unknown ids are refused."""
        if (room_id, egress_id) not in self._egress:
            raise RoomMediaError(f"no egress {egress_id!r} in room {room_id!r}", "egress_not_found")
        return await self._finish_egress((room_id, egress_id), "stopped")

    async def _finish_egress(self, key: tuple[str, str], reason: str) -> dict[str, Any]:
        tap = self._egress.pop(key)
        tap.detach()
        try:
            return await tap.sink.close(reason)
        except Exception:
            log.exception("closing egress %s of room %s failed", key[1], key[0])
            return {"egress_id": key[1], "status": "failed"}

    def _egress_event(self, event: MediaEvent) -> None:
        for (room_id, _), tap in list(self._egress.items()):
            if room_id == event.room_id:
                tap.on_event(event)

    @property
    def egresses(self) -> list[tuple[str, str]]:
        return list(self._egress)

    async def close(self) -> None:
        """Close every room and take back the process-wide ICE settings this server applied."""
        for key in list(self._egress):
            await self._finish_egress(key, "shutdown")  # not "stopped": the recording did not end normally
        for room_id in list(self._rooms):
            await self.close_room(room_id)
        if self._ice_settings is not None:
            self._ice_settings.close()
            self._ice_settings = None
