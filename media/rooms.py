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
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from media.errors import MediaError
from media.fanout import RoomKind, TrackSource

log = logging.getLogger(__name__)


class RoomMediaError(MediaError):
    """A join/publish request the media server refuses; ``code`` is stable for clients."""

    def __init__(self, message: str, code: str = "media_refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MediaGrant:
    """The media half of a join grant. ``sees_all_cameras``/``featured`` feed the fan-out policy."""

    can_publish_camera: bool = False
    can_publish_microphone: bool = False
    can_publish_screen: bool = False
    can_subscribe: bool = True
    sees_all_cameras: bool = True
    featured: bool = False

    def allows(self, source: TrackSource) -> bool:
        if source is TrackSource.CAMERA:
            return self.can_publish_camera
        if source is TrackSource.MICROPHONE:
            return self.can_publish_microphone
        return self.can_publish_screen  # screen and its audio

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MediaGrant:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: bool(v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class IceServer:
    """One STUN/TURN entry, as handed both to aiortc and to the browser."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def to_aiortc(self) -> RTCIceServer:
        return RTCIceServer(urls=list(self.urls), username=self.username, credential=self.credential)

    def to_browser(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
            out["credential"] = self.credential
        return out


@dataclass(frozen=True)
class MediaConfig:
    """Media server settings; the empty ICE list means host candidates only, never a public STUN."""

    ice_servers: list[IceServer] = field(default_factory=list)
    pli_interval: float = 0.5  # at most one PLI per published track per interval
    fanout_slice_packets: int = 256  # packets sent per event-loop turn: a keyframe to 200 viewers never
    # holds the loop for long (media.rtpforward.FanoutPump)
    fanout_backlog_packets: int = 20_000  # beyond this many queued packets new frames are dropped (keyframe
    # requested): delay and memory stay bounded when the worker is short of CPU
    video_jitter_packets: int = 128  # a lost, unrecovered packet stalls a published video ~1 s, not ~4 s
    udp_receive_buffer: int = 2 * 2**20  # SO_RCVBUF per ICE socket (capped by net.core.rmem_max)
    consent_interval: float = 2.0  # ICE consent checks (RFC 7675); aioice default is 5 s
    consent_failures: int = 3  # checks without any reply before a peer counts as gone (~11-17 s)
    consent_retransmissions: int = 2  # each check is sent again after 0.5 and 1 s: a reply up to 3.5 s
    # late still counts, so a loaded host does not drop peers that answer (aioice: 0, i.e. 0.5 s)
    host_addresses: list[str] | None = None  # ICE host candidates only from these (multi-homed hosts, tests)

    def rtc_configuration(self) -> RTCConfiguration:
        # max-bundle: aiortc 1.16's default "balanced" policy leaves the second m-line of a kind
        # on a transport it then stops (the peer's second microphone/camera never flows).
        return RTCConfiguration(
            iceServers=[s.to_aiortc() for s in self.ice_servers], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )


@dataclass(frozen=True)
class MediaEvent:
    """Something signaling must tell clients. ``type`` is one of EVENT_TYPES; ``data`` is JSON-ready."""

    type: str
    room_id: str
    peer_id: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EVENT_TYPES = (
    "subscribe-offer",  # data: {sdp, tracks: [{mid, track_id, publisher_id, source, kind}]} -> to peer_id
    "track-added",  # data: {track_id, source, kind}; peer_id = publisher
    "track-removed",  # data: {track_id, source, kind, reason: "unpublished" | "ended" | <peer-left reason>}
    "peer-left",  # data: {reason: "left" | "failed" (ICE/DTLS gone) | "closed" | "rejoined"}
    "room-lost",  # peer_id "", data: {reason: "worker_restarted", worker, peers: [...]}: they must rejoin
)

EventCallback = Callable[[MediaEvent], Awaitable[None] | None]


class MediaServer(Protocol):
    """What signaling calls. ``LocalMediaServer`` (one process) and ``workers.WorkerPool`` implement it."""

    async def open_room(self, room_id: str, kind: RoomKind) -> None: ...
    async def join(
        self,
        room_id: str,
        peer_id: str,
        grant: MediaGrant,
        offer_sdp: str | None,
        sources: Mapping[str, str] | None = None,
    ) -> str | None: ...
    async def renegotiate(
        self, room_id: str, peer_id: str, offer_sdp: str, sources: Mapping[str, str] | None = None
    ) -> str: ...
    async def answer(self, room_id: str, peer_id: str, answer_sdp: str) -> None: ...
    async def set_active_speaker(self, room_id: str, peer_id: str | None) -> None: ...
    async def leave(self, room_id: str, peer_id: str) -> None: ...
    async def close_room(self, room_id: str) -> None: ...
    def on_event(self, callback: EventCallback) -> None: ...


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

    def __init__(self, config: MediaConfig | None = None) -> None:
        from media import aiortc_hooks
        from media.rtpforward import FanoutPump
        from media.sfu import Room

        self.config = config or MediaConfig()
        self._room_cls = Room
        # One pump per process: rooms share the event loop, so they share its slices fairly.
        self.pump = FanoutPump(self.config.fanout_slice_packets, self.config.fanout_backlog_packets)
        self._rooms: dict[str, Room] = {}
        self._events = EventHub()
        aiortc_hooks.set_consent_timing(
            self.config.consent_interval, self.config.consent_failures, self.config.consent_retransmissions
        )
        if self.config.host_addresses:
            aiortc_hooks.restrict_host_addresses(self.config.host_addresses)

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

    async def leave(self, room_id: str, peer_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            await room.remove(peer_id, reason="left")

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        for room_id in list(self._rooms):
            await self.close_room(room_id)
