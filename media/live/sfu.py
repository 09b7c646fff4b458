"""A room of aiortc peers that forwards encoded frames from publishers to subscribers.

Usage (through :class:`media.live.server.LocalMediaServer`, which signaling calls)::

    room = Room("s42", RoomKind.CONSULTATION, MediaConfig(), emit)
    answer = await room.join("alice", grant, offer_sdp, {"0": "microphone", "1": "camera"})
    await room.subscribe_answer("alice", answer_to_the_subscribe_offer_event)

Nothing on the live path is decoded or encoded: each published track's receiver
is tapped (``media.live.aiortc_hooks``); each encoded frame is packetized once
(``media.live.rtpforward.Packetizer``) and the same RTP payloads go to every
subscriber the fan-out policy allows, behind that subscriber's own RTP header,
written synchronously into its sender's SRTP session and socket
(``ForwardedStream``, spread over event-loop turns by the ``FanoutPump``).
aiortc still negotiates and starts each subscriber's ``RTCRtpSender`` (SSRC,
RTCP sender reports, PLI/FIR/NACK routing), but its RTP loop stays parked.

An m-line of a subscriber's connection, once made, is reused for later
subscriptions of the same codec (a speaker change, a publisher who rejoins);
its stream stays continuous (one SSRC, sequence numbers, timestamps, VP8
picture ids) and restarts at a keyframe.

Keyframes: a video subscriber receives nothing until a keyframe, so whenever a
subscription starts (its sender is up and the subscriber applied the offer),
falls behind, or sends PLI/FIR, the room asks the publisher for a keyframe
with a PLI, at most one per ``pli_interval`` per published track (later
requests inside the window are coalesced into one PLI at its end, so none is
lost).

Standby (a defense's next presenter, ``MediaGrant.standby``): the peer's tracks are
received but not announced, listed, forwarded or handed to frame listeners
(recorders) until ``set_floor`` gives it a grant without standby; then they go
live in the same locked step, and every subscriber whose only change is one source
replaced by another of the same codec gets it on the m-line it already has (no
offer/answer: a ``subscribe-tracks`` event relabels it), starting at a keyframe
asked for at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from media.live import aiortc_hooks
from media.live.fanout import Publication, RoomKind, TrackSource, Viewer, select_tracks
from media.live.rtpforward import TOTALS, FanoutPump, ForwardedStream, Packetizer
from media.live.types import IceServer, MediaConfig, MediaEvent, MediaGrant, RoomMediaError

log = logging.getLogger(__name__)

# What we forward: what browsers send and recorders can write without transcoding.
FORWARDED_MIME = {"audio": ("audio/opus",), "video": ("video/VP8", "video/H264")}
SENDING = ("sendonly", "sendrecv")


def rtc_configuration(config: MediaConfig) -> RTCConfiguration:
    """aiortc's peer configuration for the media plane's settings."""
    # max-bundle: aiortc 1.16's default "balanced" policy leaves the second m-line of a kind
    # on a transport it then stops (the peer's second microphone/camera never flows).
    return RTCConfiguration(
        iceServers=[aiortc_ice_server(s) for s in config.ice_servers], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
    )


def aiortc_ice_server(server: IceServer) -> RTCIceServer:
    return RTCIceServer(urls=list(server.urls), username=server.username, credential=server.credential)


@dataclass(frozen=True)
class OfferedTrack:
    """One m-line of a publish offer: the client sends ``source`` on ``mid``."""

    mid: str
    kind: str
    source: TrackSource
    sending: bool


def parse_publish_offer(offer_sdp: str, sources: Mapping[str, str], grant: MediaGrant) -> list[OfferedTrack]:
    """Validate a publish offer against codecs and the grant; return its tracks or raise RoomMediaError."""
    text = offer_sdp.strip() if isinstance(offer_sdp, str) else ""
    if not text.startswith("v=0"):
        raise RoomMediaError("the SDP offer is not an SDP document (it must start with 'v=0')", "bad_sdp")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:
        raise RoomMediaError(f"the SDP offer could not be parsed: {exc}", "bad_sdp") from exc
    media = [m for m in description.media if m.kind in ("audio", "video")]
    if not media:
        raise RoomMediaError("the SDP offer has no audio or video m-line", "bad_sdp")
    declared = {str(k): _source(v) for k, v in sources.items()}
    tracks: list[OfferedTrack] = []
    defaults = {"audio": TrackSource.MICROPHONE, "video": TrackSource.CAMERA}
    for index, m in enumerate(media):
        mid = m.rtp.muxId
        if not mid:
            raise RoomMediaError(f"m-line {index} ({m.kind}) of the offer has no a=mid", "bad_sdp")
        names = {c.mimeType.lower() for c in m.rtp.codecs}
        usable = [c for c in FORWARDED_MIME[m.kind] if c.lower() in names]
        sending = m.direction in SENDING
        if sending and not usable:
            offered = ", ".join(sorted({c.mimeType for c in m.rtp.codecs})) or "none"
            wanted = " or ".join(FORWARDED_MIME[m.kind])
            raise RoomMediaError(
                f"no common codec for {m.kind} m-line {mid!r}: offered {offered}; this server forwards {wanted}",
                "no_common_codec",
            )
        source = declared.get(mid) or _label_source(m.msid) or defaults.pop(m.kind, None)
        if source is None:
            raise RoomMediaError(
                f"{m.kind} m-line {mid!r} is not labelled: send sources={{'{mid}': 'screen'}} "
                "(or camera/microphone/screen_audio) with the offer",
                "unlabelled_track",
            )
        if _kind_of(source) != m.kind:
            raise RoomMediaError(f"m-line {mid!r} is {m.kind} but was labelled {source.value}", "bad_sources")
        if sending and not grant.allows(source):
            raise RoomMediaError(f"your join grant does not allow publishing {source.value}", "not_allowed")
        tracks.append(OfferedTrack(mid, m.kind, source, sending))
    seen: set[TrackSource] = set()
    for t in tracks:
        if t.sending and t.source in seen:
            raise RoomMediaError(f"the offer publishes {t.source.value} twice; one track per source", "bad_sources")
        if t.sending:
            seen.add(t.source)
    return tracks


def _source(value: str) -> TrackSource:
    try:
        return TrackSource(value)
    except ValueError:
        allowed = ", ".join(s.value for s in TrackSource)
        raise RoomMediaError(f"unknown track source {value!r}; use one of {allowed}", "bad_sources") from None


def _label_source(msid: str | None) -> TrackSource | None:
    for label in (msid or "").split():
        for source in sorted(TrackSource, key=lambda s: -len(s.value)):
            if label.lower().startswith(source.value):
                return source
    return None


def _kind_of(source: TrackSource) -> str:
    return "video" if source in (TrackSource.CAMERA, TrackSource.SCREEN) else "audio"


def _forwarded_capabilities(kind: str) -> list[RTCRtpCodecCapability]:
    caps = RTCRtpReceiver.getCapabilities(kind).codecs
    order = [m.lower() for m in FORWARDED_MIME[kind]] + ["video/rtx"]
    chosen = [c for c in caps if c.mimeType.lower() in order]
    return sorted(chosen, key=lambda c: order.index(c.mimeType.lower()))


def _capabilities_for(codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """The one codec (plus RTX) a subscriber must take: the publisher's, since nothing is transcoded."""
    caps = RTCRtpReceiver.getCapabilities(codec.mimeType.split("/")[0]).codecs
    same = [
        c for c in caps if c.mimeType.lower() == codec.mimeType.lower() and c.parameters == codec.parameters
    ]
    if not same:
        same = [c for c in caps if c.mimeType.lower() == codec.mimeType.lower()][:1]
    rtx = [c for c in caps if c.mimeType.lower() == "video/rtx"]
    return same + rtx


FrameListener = Callable[["PublishedTrack", RTCRtpCodecParameters, JitterFrame, bool], None]


class PublishedTrack:
    """One track a participant publishes, tapped for encoded frames and fanned out to subscribers."""

    def __init__(
        self,
        publisher_id: str,
        mid: str,
        kind: str,
        source: TrackSource,
        receiver: RTCRtpReceiver,
        pli_interval: float,
        on_end: Callable[[PublishedTrack], None],
        video_jitter_packets: int | None = None,
        pump: FanoutPump | None = None,
    ) -> None:
        self.publisher_id = publisher_id
        self.mid = mid
        self.kind = kind
        self.source = source
        self.track_id = f"{publisher_id}:{source.value}"
        self.receiver = receiver
        self.codec: RTCRtpCodecParameters | None = None
        self.active = True
        self.standby = False  # received but held: nobody gets a frame (see the module doc)
        self.subscribers: dict[str, ForwardedStream] = {}
        self._streams: tuple[ForwardedStream, ...] = ()
        self._packetizer: Packetizer | None = None
        self._pump = pump or FanoutPump()
        self.listeners: list[FrameListener] = []  # e.g. a recorder writing packets as received
        self.frames = 0
        self.keyframes = 0
        self.pli_requests = 0
        self.plis_sent = 0
        self._pli_interval = pli_interval
        self._last_pli = -math.inf
        self._pli_timer: asyncio.TimerHandle | None = None
        self._keyframe_wanted = False  # a request came since the last keyframe arrived
        self._keyframe_waiters: list[asyncio.Future[None]] = []
        self._on_end = on_end
        self.tap = aiortc_hooks.tap_encoded_frames(
            receiver, self._on_frame, lambda: on_end(self), video_jitter_packets
        )

    def describe(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "source": self.source.value, "kind": self.kind}

    def _on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        self.frames += 1
        if self.codec is None:
            self.codec = codec
        key = aiortc_hooks.is_keyframe(codec, frame.data)
        if key and self.kind == "video":
            self.keyframes += 1
            self._keyframe_wanted = False  # every request made before now is served by this keyframe
            if self._pli_timer is not None:
                self._pli_timer.cancel()
                self._pli_timer = None
            if self._keyframe_waiters and not self.standby:
                for waiter in self._keyframe_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                self._keyframe_waiters.clear()
        if self.standby:
            return  # held: not recorded, not forwarded
        for listener in self.listeners:
            listener(self, codec, frame, key)
        if not self._streams or not self.active:
            return
        if self._packetizer is None or self._packetizer.codec is not codec:
            self._packetizer = Packetizer(codec)
        self._pump.submit(self._packetizer.pack(frame, key), self, self._streams, self.request_keyframe)

    def add_subscriber(self, peer_id: str, stream: ForwardedStream) -> None:
        self.subscribers[peer_id] = stream
        self._streams = tuple(self.subscribers.values())

    def remove_subscriber(self, peer_id: str) -> None:
        if self.subscribers.pop(peer_id, None) is not None:
            self._streams = tuple(self.subscribers.values())

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (PLI), throttled per track; extra requests coalesce.

        A request held back by the throttle is sent when the interval is over only if no
        keyframe arrived meanwhile: the frames after a PLI (sent before the keyframe could
        come back) ask again, and a PLI sent for them would be spent on nobody and hold the
        next joiner's keyframe back by a whole interval.
        """
        if self.kind != "video" or not self.active or self.standby:
            return
        self.pli_requests += 1
        TOTALS.keyframe_requests += 1
        self._keyframe_wanted = True
        loop = asyncio.get_running_loop()
        wait = self._last_pli + self._pli_interval - loop.time()
        if wait <= 0:
            self._send_pli()
        elif self._pli_timer is None:
            self._pli_timer = loop.call_later(wait, self._deferred_pli)

    def next_keyframe(self) -> asyncio.Future[None]:
        """Done when the next keyframe has arrived (and was handed on)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._keyframe_waiters.append(waiter)
        return waiter

    def go_live(self) -> None:
        """Standby ends: frames flow from now on, and the next keyframe request is not held back."""
        self.standby = False
        self.unthrottle()

    def unthrottle(self) -> None:
        """The next keyframe request is sent at once (a floor switch is never held back by an earlier PLI)."""
        self._last_pli = -math.inf

    def _deferred_pli(self) -> None:
        self._pli_timer = None
        if self._keyframe_wanted and self.active:
            self._send_pli()

    def _send_pli(self) -> None:
        if aiortc_hooks.request_keyframe(self.receiver):
            self.plis_sent += 1
            TOTALS.plis_sent += 1
            self._last_pli = asyncio.get_running_loop().time()

    def close(self) -> None:
        self.active = False
        if self._pli_timer is not None:
            self._pli_timer.cancel()
            self._pli_timer = None
        for stream in self.subscribers.values():
            if stream.source is self:
                stream.detach()
        self.subscribers.clear()
        self._streams = ()


@dataclass(eq=False)
class Slot:
    """One sendonly m-line of a subscriber's connection and the RTP stream it carries, reused across sources."""

    transceiver: RTCRtpTransceiver
    stream: ForwardedStream
    key: str  # the codec capabilities it was negotiated for; reused only for the same


@dataclass
class Outgoing:
    """A published track as one subscriber receives it."""

    published: PublishedTrack
    slot: Slot

    @property
    def transceiver(self) -> RTCRtpTransceiver:
        return self.slot.transceiver

    @property
    def stream(self) -> ForwardedStream:
        return self.slot.stream


@dataclass
class Participant:
    peer_id: str
    grant: MediaGrant
    publish_pc: RTCPeerConnection | None = None
    subscribe_pc: RTCPeerConnection | None = None
    published: dict[str, PublishedTrack] = field(default_factory=dict)  # by mid
    outgoing: dict[str, Outgoing] = field(default_factory=dict)  # by track id
    pending_sources: dict[str, OfferedTrack] = field(default_factory=dict)
    idle: list[Slot] = field(default_factory=list)  # inactive m-lines, reused by codec key
    awaiting_answer: bool = False
    dirty: bool = False
    gone: bool = False


class Room:
    """Publishers and subscribers of one session on this media worker."""

    def __init__(
        self,
        room_id: str,
        kind: RoomKind,
        config: MediaConfig,
        emit: Callable[[MediaEvent], None],
        pump: FanoutPump | None = None,
    ) -> None:
        self.room_id = room_id
        self.kind = kind
        self.config = config
        self.participants: dict[str, Participant] = {}
        self.active_speaker: str | None = None
        self._emit = emit
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[FrameListener] = []
        self._swaps = 0  # subscribers switched in place (no offer), ever
        self.pump = pump or FanoutPump(config.fanout_slice_packets, config.fanout_backlog_packets)

    def add_frame_listener(self, listener: FrameListener) -> None:
        """Also hand every encoded frame of every published track (now and later) to ``listener``.

        Called on the event loop for each frame, with (track, codec, frame, is_keyframe): the seam
        for a recorder that writes packets as received. It must not block.
        """
        self._listeners.append(listener)
        for participant in self.participants.values():
            for published in participant.published.values():
                published.listeners.append(listener)

    def remove_frame_listener(self, listener: FrameListener) -> None:
        """Stop handing frames to ``listener`` (every track, now and later)."""
        if listener in self._listeners:
            self._listeners.remove(listener)
        for participant in self.participants.values():
            for published in participant.published.values():
                if listener in published.listeners:
                    published.listeners.remove(listener)

    # --- signaling-facing operations -------------------------------------------------------

    async def join(
        self, peer_id: str, grant: MediaGrant, offer_sdp: str | None, sources: Mapping[str, str]
    ) -> str | None:
        """Add (or re-add, after a reload) a peer; returns the answer to its publish offer."""
        if peer_id in self.participants:
            await self.remove(peer_id, reason="rejoined")
        async with self._lock:
            if offer_sdp is not None:
                offered = parse_publish_offer(offer_sdp, sources, grant)
            participant = Participant(peer_id, grant)
            self.participants[peer_id] = participant
            answer = None
            try:
                if offer_sdp is not None:
                    answer = await self._apply_publish_offer(participant, offer_sdp, offered)
            except Exception:
                self.participants.pop(peer_id, None)
                await self._close_participant(participant)
                raise
            if offer_sdp is None:
                # Nothing new is published: only the newcomer's subscriptions change (the others'
                # depend on the publications and the speaker alone). A class of 200 viewers joining
                # costs 200 syncs instead of 20,000, and the event loop does not stall at each join.
                await self._sync(participant)
            else:
                await self._sync_all()
            return answer

    async def publish(self, peer_id: str, offer_sdp: str, sources: Mapping[str, str]) -> str:
        """Apply a new publish offer from a peer already in the room; returns the answer."""
        async with self._lock:
            participant = self._participant(peer_id)
            offered = parse_publish_offer(offer_sdp, sources, participant.grant)
            answer = await self._apply_publish_offer(participant, offer_sdp, offered)
            await self._sync_all()
            return answer

    async def subscribe_answer(self, peer_id: str, answer_sdp: str) -> None:
        """Apply the peer's answer to the last subscribe offer; re-offers if the room changed meanwhile."""
        async with self._lock:
            participant = self._participant(peer_id)
            pc = participant.subscribe_pc
            if pc is None or not participant.awaiting_answer:
                raise RoomMediaError("no subscribe offer is waiting for an answer", "no_offer_pending")
            if not isinstance(answer_sdp, str) or not answer_sdp.strip().startswith("v=0"):
                raise RoomMediaError("the SDP answer is not an SDP document", "bad_sdp")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
            except Exception as exc:
                raise RoomMediaError(f"the SDP answer was refused: {exc}", "bad_sdp") from exc
            participant.awaiting_answer = False
            # Reused m-lines are already started: they carry their new source from now on.
            for out in participant.outgoing.values():
                self._arm(out.slot.stream)
            if participant.dirty:
                await self._sync(participant)

    async def set_floor(self, grants: Mapping[str, MediaGrant], speaker: str | None) -> None:
        """Give peers new grants and name the active speaker in one step (a defense's presenter switch).

        Tracks a peer may no longer publish are unpublished at once; standby tracks of a peer whose
        grant no longer says standby go live (announced, forwarded, recorded); every subscriber is
        brought in line once, under the room's lock, so nobody sees a moment with two presenters or
        none. A grant that says standby again takes a peer's live tracks off the air (unpublished).
        """
        async with self._lock:
            for peer_id, grant in grants.items():
                participant = self.participants.get(peer_id)
                if participant is None or participant.gone:
                    continue
                participant.grant = grant
                for published in participant.published.values():
                    if not published.active:
                        continue
                    if not grant.allows(published.source) or (grant.standby and not published.standby):
                        self._unpublish(published, "floor")
                    elif published.standby and not grant.standby:
                        published.go_live()
                        self._emit(MediaEvent("track-added", self.room_id, peer_id, published.describe()))
            if speaker is not None and speaker != self.active_speaker and speaker in self.participants:
                for published in self.participants[speaker].published.values():
                    published.unthrottle()  # the new speaker's camera reaches its new viewers at once
            self.active_speaker = speaker
            swaps = self._swaps
            plans = self._plan_all()
            speaking = self.participants.get(speaker) if speaker is not None else None
            video = [t for t in speaking.published.values() if t.kind == "video" and t.active and not t.standby
                     ] if speaking is not None else []  # fmt: skip
            if plans and video and self._swaps > swaps:
                # The switch is made; the offers it still needs (a new microphone m-line, a screen going
                # idle) wait until the new speaker's keyframe has gone out, so their CPU does not hold it.
                self._spawn(self._offers_after([t.next_keyframe() for t in video]))
                return
            for participant, plan in plans:
                await self._offer(participant, *plan)

    async def _offers_after(self, keyframes: list[asyncio.Future[None]]) -> None:
        await asyncio.wait(keyframes, timeout=max(self.config.pli_interval, 0.1))
        await asyncio.sleep(0.02)  # the keyframe's fan-out slices run first
        for waiter in keyframes:
            waiter.cancel()
        async with self._lock:
            await self._sync_all()

    async def set_active_speaker(self, peer_id: str | None) -> None:
        """Name the speaking participant; in a defense the audience then receives their camera."""
        async with self._lock:
            self.active_speaker = peer_id
            await self._sync_all()

    async def remove(self, peer_id: str, reason: str) -> None:
        """Take a peer and its tracks out of the room and tell the others."""
        async with self._lock:
            participant = self.participants.pop(peer_id, None)
            if participant is None:
                return
            participant.gone = True
            published_any = False
            for published in participant.published.values():
                if published.active:
                    published_any = True
                    self._unpublish(published, reason)
            self._emit(MediaEvent("peer-left", self.room_id, peer_id, {"reason": reason}))
            self._detach(participant)
            if published_any:  # a viewer leaving changes nobody else's subscriptions
                await self._sync_all()
        # Closing a dead peer's connections can take a while (DTLS/RTCP teardown): not under the lock.
        await self._close_participant(participant)

    async def close(self) -> None:
        for peer_id in list(self.participants):
            await self.remove(peer_id, reason="closed")
        for task in list(self._tasks):
            task.cancel()

    def stats(self) -> dict[str, Any]:
        """Counters per published track and per subscription (tests and benchmarks read them)."""
        tracks = {}
        for p in self.participants.values():
            for t in p.published.values():
                tracks[t.track_id] = {
                    "frames": t.frames,
                    "keyframes": t.keyframes,
                    "standby": t.standby,
                    "pli_requests": t.pli_requests,
                    "plis_sent": t.plis_sent,
                    "subscribers": sorted(t.subscribers),
                    "decoder_tasks": t.tap.decoder_tasks,
                }
        return {
            "room_id": self.room_id,
            "peers": sorted(self.participants),
            "tracks": tracks,
            "subscriptions": {p.peer_id: sorted(p.outgoing) for p in self.participants.values()},
            "forwarding": {
                p.peer_id: {tid: [o.stream.frames, o.stream.dropped] for tid, o in p.outgoing.items()}
                for p in self.participants.values()
            },
            "fanout": self.pump.stats(),
            "packets_sent": sum(
                o.stream.packets + o.stream.retransmitted for p in self.participants.values() for o in p.outgoing.values()
            ),
        }

    # --- publish side ------------------------------------------------------------------------

    async def _apply_publish_offer(
        self, participant: Participant, offer_sdp: str, offered: list[OfferedTrack]
    ) -> str:
        pc = participant.publish_pc
        if pc is None:
            pc = participant.publish_pc = self._new_pc(participant)

            @pc.on("track")
            def on_track(track: Any) -> None:
                self._on_remote_track(participant, pc, track)

        known = {t.mid for t in pc.getTransceivers() if t.mid is not None}
        for track in offered:
            if track.mid not in known:
                # Pre-created so our codec preference (VP8 > H.264, Opus) shapes the answer.
                transceiver = pc.addTransceiver(track.kind, direction="recvonly")
                transceiver.setCodecPreferences(_forwarded_capabilities(track.kind))
        participant.pending_sources = {t.mid: t for t in offered}
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except RoomMediaError:
            raise
        except Exception as exc:
            raise RoomMediaError(f"the SDP offer was refused: {exc}", "bad_sdp") from exc
        aiortc_hooks.enlarge_receive_buffers(pc, self.config.udp_receive_buffer)
        answer = pc.localDescription.sdp
        codecs = {m.rtp.muxId: m.rtp.codecs for m in aiortc_sdp.SessionDescription.parse(answer).media}
        for track in offered:
            published = participant.published.get(track.mid)
            if published is None:
                continue
            if codecs.get(track.mid):
                published.codec = codecs[track.mid][0]
            if track.sending and not published.active:
                published.active = True
                if not published.standby:
                    self._emit(MediaEvent("track-added", self.room_id, participant.peer_id, published.describe()))
            elif not track.sending and published.active:
                self._unpublish(published, "unpublished")
        return answer

    def _on_remote_track(self, participant: Participant, pc: RTCPeerConnection, track: Any) -> None:
        transceiver = next((t for t in pc.getTransceivers() if t.receiver.track is track), None)
        offered = participant.pending_sources.get(transceiver.mid) if transceiver else None
        if transceiver is None or offered is None:
            return
        published = PublishedTrack(
            participant.peer_id,
            offered.mid,
            offered.kind,
            offered.source,
            transceiver.receiver,
            self.config.pli_interval,
            self._on_track_end,
            self.config.video_jitter_packets,
            self.pump,
        )
        published.active = False  # becomes active once the answer is made (emits track-added)
        published.standby = participant.grant.standby
        published.listeners.extend(self._listeners)
        participant.published[offered.mid] = published

    def _on_track_end(self, published: PublishedTrack) -> None:
        participant = self.participants.get(published.publisher_id)
        if participant is None or participant.gone or not published.active:
            return
        self._spawn(self._end_track(published))

    async def _end_track(self, published: PublishedTrack) -> None:
        async with self._lock:
            if published.active:
                self._unpublish(published, "ended")
                await self._sync_all()

    def _unpublish(self, published: PublishedTrack, reason: str) -> None:
        published.close()
        if published.standby:
            return  # never announced: nothing to take back
        data = published.describe() | {"reason": reason}
        self._emit(MediaEvent("track-removed", self.room_id, published.publisher_id, data))

    # --- subscribe side ----------------------------------------------------------------------

    def _publications(self) -> dict[str, PublishedTrack]:
        return {
            t.track_id: t
            for p in self.participants.values()
            for t in p.published.values()
            if t.active and not t.standby and t.codec is not None
        }

    async def _sync_all(self) -> None:
        # Every subscriber's change that needs no offer (a presenter switch on running m-lines) is
        # made first, then the offers, each an await: the hundredth viewer of a switch does not
        # wait behind 99 createOffer calls.
        for participant, plan in self._plan_all():
            await self._offer(participant, *plan)

    def _plan_all(self) -> list[tuple[Participant, tuple[Any, ...]]]:
        return [(p, plan) for p in list(self.participants.values()) if (plan := self._plan(p)) is not None]

    async def _sync(self, participant: Participant) -> None:
        """Bring one subscriber's outgoing tracks in line with the fan-out policy; offer if changed."""
        plan = self._plan(participant)
        if plan is not None:
            await self._offer(participant, *plan)

    def _plan(
        self, participant: Participant
    ) -> tuple[RTCPeerConnection, set[str], set[str], dict[str, PublishedTrack]] | None:
        """What changes for one subscriber; swaps in place at once; returns what needs an offer (or None)."""
        if participant.gone or not participant.grant.can_subscribe:
            return None
        available = self._publications()
        viewer = Viewer(participant.peer_id, participant.grant.can_subscribe, participant.grant.sees_all_cameras)
        pubs = [
            Publication(t.track_id, t.publisher_id, t.source, self._featured(t.publisher_id))
            for t in available.values()
        ]
        wanted = select_tracks(self.kind, viewer, pubs, self.active_speaker)
        stale = {tid for tid, out in participant.outgoing.items() if not out.published.active}
        remove = (set(participant.outgoing) - wanted) | stale
        add = {tid for tid in wanted if tid not in participant.outgoing or tid in stale}
        if not add and not remove and not participant.dirty:
            return None
        if participant.awaiting_answer:
            participant.dirty = True
            return None
        pc = participant.subscribe_pc
        if pc is None:
            pc = participant.subscribe_pc = self._new_pc(participant)
        if pc.signalingState == "closed":
            return None
        remove, add = self._swap_in_place(participant, remove, add, available)
        if not add and not remove and not participant.dirty:
            return None  # the switch needed no offer
        return pc, remove, add, available

    async def _offer(
        self, participant: Participant, pc: RTCPeerConnection, remove: set[str], add: set[str],
        available: dict[str, PublishedTrack],
    ) -> None:  # fmt: skip
        """Idle the removed m-lines, add (or reuse) m-lines for the added tracks, send the offer."""
        if participant.gone or pc.signalingState == "closed" or participant.awaiting_answer:
            return
        for tid in remove:
            # The m-line goes idle; its sender keeps running (stopping its track would end aiortc's
            # sender for good, and a later subscription reusing the m-line would stay silent).
            out = participant.outgoing.pop(tid)
            out.published.remove_subscriber(participant.peer_id)
            out.stream.detach()
            # A fresh a=msid track id: the source may come back on another m-line of this offer, and
            # browsers refuse an offer whose m-lines repeat an msid ("Duplicate a=msid lines").
            out.transceiver.sender.replaceTrack(aiortc_hooks.ParkedTrack(out.published.kind))
            out.transceiver.direction = "inactive"
            participant.idle.append(out.slot)
        for tid in sorted(add):
            self._add_outgoing(participant, pc, available[tid])
        participant.dirty = False
        await pc.setLocalDescription(await pc.createOffer())
        participant.awaiting_answer = True
        data = {"sdp": pc.localDescription.sdp, "tracks": self._tracks_of(participant)}
        self._emit(MediaEvent("subscribe-offer", self.room_id, participant.peer_id, data))

    @staticmethod
    def _tracks_of(participant: Participant) -> list[dict[str, Any]]:
        return [
            {
                "mid": out.transceiver.mid,
                "track_id": tid,
                "publisher_id": out.published.publisher_id,
                "source": out.published.source.value,
                "kind": out.published.kind,
            }
            for tid, out in sorted(participant.outgoing.items())
        ]

    def _swap_in_place(
        self, participant: Participant, remove: set[str], add: set[str], available: Mapping[str, PublishedTrack]
    ) -> tuple[set[str], set[str]]:
        """Carry new sources on the running m-lines of sources they replace (same codec); the rest is left.

        A presenter switch: the m-lines' SDP stays as negotiated, their streams go on (same SSRC,
        continuous numbering) from the new source's next keyframe, asked for at once, and the
        subscriber is told the new labels (``subscribe-tracks``). Returns the removals and additions
        that still need an offer (none when every change paired up, e.g. camera+microphone for
        camera+microphone; the previous presenter's screen, say, still goes idle by an offer).
        """
        free = {tid: participant.outgoing[tid] for tid in sorted(remove)}
        left: set[str] = set()
        pairs: list[tuple[Outgoing, PublishedTrack]] = []
        for tid in sorted(add):
            published = available[tid]
            key = repr(_capabilities_for(published.codec)) if published.codec is not None else None
            fits = [(o.published.source is not published.source, otid) for otid, o in free.items()
                    if o.slot.key == key and o.stream.outlet is not None]  # fmt: skip
            if fits:
                pairs.append((free.pop(min(fits)[1]), published))
            else:
                left.add(tid)
        for out, published in pairs:
            del participant.outgoing[out.published.track_id]
            out.published.remove_subscriber(participant.peer_id)
            out.stream.detach()
            # the a=msid of a later offer names the new source
            out.transceiver.sender.replaceTrack(aiortc_hooks.ParkedTrack(published.kind, track_id=published.track_id))
            out.stream.attach(published, published.request_keyframe)
            published.add_subscriber(participant.peer_id, out.stream)
            participant.outgoing[published.track_id] = Outgoing(published, out.slot)
            self._arm(out.stream)
        if pairs:
            self._swaps += 1
            data = {"tracks": self._tracks_of(participant)}
            self._emit(MediaEvent("subscribe-tracks", self.room_id, participant.peer_id, data))
        return set(free), left

    def _add_outgoing(self, participant: Participant, pc: RTCPeerConnection, published: PublishedTrack) -> None:
        assert published.codec is not None
        caps = _capabilities_for(published.codec)
        key = repr(caps)
        parked = aiortc_hooks.ParkedTrack(published.kind, track_id=published.track_id)
        # An m-line freed by an earlier unsubscription is reused if it carries the same codec,
        # so a long session's SDP does not grow by one m-line per speaker change.
        slot = next((s for s in participant.idle if s.key == key), None)
        if slot is None:
            transceiver = pc.addTransceiver(parked, direction="sendonly")
            transceiver.setCodecPreferences(caps)
            slot = Slot(transceiver, ForwardedStream(published.kind), key)
            self._wire(participant, slot)
        else:
            participant.idle.remove(slot)
            slot.transceiver.sender.replaceTrack(parked)  # a=msid names the new source; the loop stays parked
            slot.transceiver.direction = "sendonly"
        slot.stream.attach(published, published.request_keyframe)
        published.add_subscriber(participant.peer_id, slot.stream)
        participant.outgoing[published.track_id] = Outgoing(published, slot)

    def _wire(self, participant: Participant, slot: Slot) -> None:
        """Hook a new m-line's sender: RTP written by its stream, PLI/FIR and NACK handled by it."""
        sender = slot.transceiver.sender
        stream = slot.stream

        def started(parameters: Any) -> None:
            # Runs inside aiortc's connect task: an exception here would leave this connection's
            # other m-lines unstarted, so it is logged, never raised.
            try:
                stream.open(aiortc_hooks.RtpOutlet(sender), parameters)
                self._arm(stream)
            except Exception:
                log.exception("room %s: cannot send to %s", self.room_id, participant.peer_id)

        aiortc_hooks.on_sender_start(sender, started)
        aiortc_hooks.observe_keyframe_requests(sender, stream.request_keyframe)
        aiortc_hooks.on_nack(sender, stream.retransmit)

    @staticmethod
    def _arm(stream: ForwardedStream) -> None:
        """Start sending on a stream whose subscriber can now receive it; video asks for a keyframe."""
        if stream.arm() and stream.video:
            stream.request_keyframe()

    def _featured(self, peer_id: str) -> bool:
        participant = self.participants.get(peer_id)
        return participant is not None and participant.grant.featured

    # --- connections -------------------------------------------------------------------------

    def _new_pc(self, participant: Participant) -> RTCPeerConnection:
        pc = RTCPeerConnection(rtc_configuration(self.config))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not participant.gone:
                log.info("room %s: peer %s connection %s", self.room_id, participant.peer_id, pc.connectionState)
                self._spawn(self.remove(participant.peer_id, reason="failed"))

        return pc

    def _detach(self, participant: Participant) -> None:
        """Stop forwarding to and from a participant (synchronously, so no frame reaches it after)."""
        participant.gone = True
        for out in participant.outgoing.values():
            out.published.remove_subscriber(participant.peer_id)
            out.stream.detach()
        participant.outgoing.clear()
        for published in participant.published.values():
            published.close()

    async def _close_participant(self, participant: Participant) -> None:
        self._detach(participant)
        for pc in (participant.publish_pc, participant.subscribe_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()

    def _participant(self, peer_id: str) -> Participant:
        participant = self.participants.get(peer_id)
        if participant is None:
            raise RoomMediaError(f"peer {peer_id!r} is not in media room {self.room_id!r}", "not_joined")
        return participant

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
