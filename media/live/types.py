"""The media plane's vocabulary, shared by the SFU, its worker pool and whoever drives them.

Both sides of the media-server interface import this module and nothing heavier: it pulls in no
aiortc, so signaling-side code (TURN credentials, grants) stays light.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from media.errors import MediaError
from media.live.fanout import RoomKind, TrackSource


class RoomMediaError(MediaError):
    """A join/publish request the media server refuses; ``code`` is stable for clients."""

    def __init__(self, message: str, code: str = "media_refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MediaGrant:
    """The media half of a join grant. ``sees_all_cameras``/``featured`` feed the fan-out policy.

    ``standby``: what the peer publishes is received and held, never forwarded, recorded or
    announced, until a grant without it comes (a defense's next presenter, connected before their
    turn so the presenter switch needs no ICE/DTLS: ``sfu.Room.set_floor``).
    """

    can_publish_camera: bool = False
    can_publish_microphone: bool = False
    can_publish_screen: bool = False
    can_subscribe: bool = True
    sees_all_cameras: bool = True
    featured: bool = False
    standby: bool = False

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
    # holds the loop for long (media.live.rtpforward.FanoutPump)
    fanout_backlog_packets: int = 20_000  # beyond this many queued packets new frames are dropped (keyframe
    # requested): delay and memory stay bounded when the worker is short of CPU
    video_jitter_packets: int = 128  # a lost, unrecovered packet stalls a published video ~1 s, not ~4 s
    udp_receive_buffer: int = 2 * 2**20  # SO_RCVBUF per ICE socket (capped by net.core.rmem_max)
    consent_interval: float = 2.0  # ICE consent checks (RFC 7675); aioice default is 5 s
    consent_failures: int = 3  # checks without any reply before a peer counts as gone (~11-17 s)
    consent_retransmissions: int = 2  # each check is sent again after 0.5 and 1 s: a reply up to 3.5 s
    # late still counts, so a loaded host does not drop peers that answer (aioice: 0, i.e. 0.5 s)
    host_addresses: list[str] | None = None  # ICE host candidates only from these (multi-homed hosts, tests)


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
    "subscribe-tracks",  # data: {tracks: [...]} -> to peer_id: its m-lines carry new sources, no SDP change
    "track-added",  # data: {track_id, source, kind}; peer_id = publisher
    "track-removed",  # data: {track_id, source, kind, reason: "unpublished" | "ended" | <peer-left reason>}
    "peer-left",  # data: {reason: "left" | "failed" (ICE/DTLS gone) | "closed" | "rejoined"}
    "room-lost",  # peer_id "", data: {reason: "worker_restarted", worker, peers: [...]}: they must rejoin
    "egress-stopped",  # peer_id "", data: {egress_id, reason, status}: a sink stopped by itself (disk full)
)

EventCallback = Callable[[MediaEvent], Awaitable[None] | None]


@dataclass(frozen=True)
class EgressTrack:
    """A published track as an egress sink sees it; ``key`` is new for every publication (a rejoin is a new one)."""

    key: str
    track_id: str  # publisher_id:source, as in track-added events
    publisher_id: str
    kind: str  # audio | video
    source: str  # camera | microphone | screen | screen_audio
    codec: str  # vp8 | vp9 | h264 | opus
    clock_rate: int


class FrameSink(Protocol):
    """Where an egress (a recorder) receives a room's encoded frames, as one more subscriber would.

    Every method runs on the media server's event loop and must not block it. ``frame`` gets each
    encoded frame as received (after RTP depacketisation, nothing decoded), ``audio_level`` the
    RTP audio-level header extension of audio packets (RFC 6464: -dBov, 127 = silence).
    ``request_keyframe`` (given with the track) asks the publisher for a keyframe (PLI, throttled).
    """

    def track_started(self, track: EgressTrack, request_keyframe: Callable[[], None]) -> None: ...
    def frame(self, key: str, data: bytes, timestamp: int, keyframe: bool, arrival: float) -> None: ...
    def audio_level(self, key: str, level: int, voice: bool, arrival: float) -> None: ...
    def track_ended(self, key: str, reason: str) -> None: ...
    async def close(self, reason: str) -> dict[str, Any]: ...


# (room_id, egress_id, params, stopped) -> the sink; ``stopped(reason)`` is for a sink that stops by itself
EgressFactory = Callable[[str, str, Mapping[str, Any], Callable[[str], None]], FrameSink]


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
    async def set_floor(self, room_id: str, grants: Mapping[str, MediaGrant], speaker: str | None) -> None: ...
    async def leave(self, room_id: str, peer_id: str) -> None: ...
    async def close_room(self, room_id: str) -> None: ...
    async def start_egress(self, room_id: str, egress_id: str, params: Mapping[str, Any]) -> dict[str, Any]: ...
    async def stop_egress(self, room_id: str, egress_id: str) -> dict[str, Any]: ...
    def on_event(self, callback: EventCallback) -> None: ...
