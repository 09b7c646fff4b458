"""Real aiortc peers on loopback for the SFU tests: ICE limited to 127.0.0.1, small synthetic media.

Import the ``loopback_ice`` fixture into a test module (``from tests.helpers.sfu import
loopback_ice``) and drive :class:`Client` objects against a ``LocalMediaServer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import numpy
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from media.live import aiortc_hooks
from media.live.server import LocalMediaServer
from media.live.types import MediaEvent, MediaGrant
from tests.helpers.support import until  # noqa: F401  (re-exported: tests import it from here)

NO_ICE_SERVERS = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """aioice skips 127.0.0.1 when gathering; tests must use it and nothing else."""
    with aiortc_hooks.restrict_host_addresses(["127.0.0.1"]):
        yield


class SmallVideoTrack(VideoStreamTrack):
    """160x120 moving noise at 30 fps: cheap to encode, never trivially empty."""

    def __init__(self) -> None:
        super().__init__()
        self._rng = numpy.random.default_rng(1)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = self._rng.integers(0, 255, (120, 160, 3), dtype=numpy.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Received:
    """What one client got on one remote track."""

    kind: str
    frames: int = 0
    keyframes: int = 0
    first_is_keyframe: bool | None = None
    publisher_frames_at_first: int | None = None
    codec: str | None = None


@dataclass
class Client:
    """An aiortc participant: publishes on one connection, answers subscribe offers on another."""

    media: LocalMediaServer
    room_id: str
    peer_id: str
    grant: MediaGrant
    publish: tuple[str, ...] = ("camera", "microphone")
    decode: bool = False  # False: count encoded frames with a tap (cheap for large audiences)
    video_codec: str | None = None  # e.g. "video/H264": offer only this video codec
    publish_pc: RTCPeerConnection | None = None
    subscribe_pc: RTCPeerConnection | None = None
    received: dict[str, Received] = field(default_factory=dict)
    mids: dict[str, str] = field(default_factory=dict)
    senders: dict[str, RTCRtpSender] = field(default_factory=dict)
    frame_clock: Callable[[], int] | None = None  # publisher frame counter, read at first frame
    errors: list[BaseException] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def join(self, sources: dict[str, str] | None = None) -> None:
        offer = None
        if self.publish:
            pc = self.publish_pc = RTCPeerConnection(NO_ICE_SERVERS)
            labels = {}
            for source in self.publish:
                track = AudioStreamTrack() if source in ("microphone", "screen_audio") else SmallVideoTrack()
                transceiver = pc.addTransceiver(track, direction="sendonly")
                if self.video_codec and track.kind == "video":
                    caps = RTCRtpSender.getCapabilities("video").codecs
                    transceiver.setCodecPreferences([c for c in caps if c.mimeType == self.video_codec])
                self.senders[source] = transceiver.sender
                labels[id(transceiver)] = source
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription.sdp
            if sources is None:
                sources = {t.mid: labels[id(t)] for t in pc.getTransceivers()}
        answer = await self.media.join(self.room_id, self.peer_id, self.grant, offer, sources)
        if answer is not None:
            assert self.publish_pc is not None
            await self.publish_pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def handle(self, event: MediaEvent) -> None:
        if event.type == "subscribe-tracks" and event.peer_id == self.peer_id:  # same m-lines, new sources
            self.mids.update({t["mid"]: t["track_id"] for t in event.data["tracks"]})
        if event.type == "subscribe-offer" and event.peer_id == self.peer_id:
            task = asyncio.ensure_future(self._answer(event.data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: dict[str, Any]) -> None:
        try:
            self.mids.update({t["mid"]: t["track_id"] for t in data["tracks"]})
            if self.subscribe_pc is None:
                pc = self.subscribe_pc = RTCPeerConnection(NO_ICE_SERVERS)
                pc.on("track", lambda track: self._on_track(pc, track))
            pc = self.subscribe_pc
            await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.media.answer(self.room_id, self.peer_id, pc.localDescription.sdp)
        except BaseException as exc:  # surfaced by the test through .errors
            self.errors.append(exc)
            raise

    def _on_track(self, pc: RTCPeerConnection, track: Any) -> None:
        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
        negotiated = aiortc_hooks.negotiated_codec(transceiver)
        codec = negotiated.mimeType if negotiated is not None else None

        def got() -> Received:
            # An m-line the server reuses carries another track later: count under the current one.
            track_id = self.mids.get(transceiver.mid, f"mid:{transceiver.mid}")
            received = self.received.setdefault(track_id, Received(track.kind))
            received.codec = codec
            return received

        got()
        if self.decode:
            task = asyncio.ensure_future(self._read(track, got))
            self._tasks.add(task)
            return

        def on_frame(codec: Any, frame: Any) -> None:
            self._count(got(), aiortc_hooks.is_keyframe(codec, frame.data) and track.kind == "video")

        aiortc_hooks.tap_encoded_frames(transceiver.receiver, on_frame)

    def _count(self, got: Received, keyframe: bool) -> None:
        if got.first_is_keyframe is None:
            got.first_is_keyframe = keyframe
            if self.frame_clock is not None:
                got.publisher_frames_at_first = self.frame_clock()
        got.frames += 1
        got.keyframes += int(keyframe)

    async def _read(self, track: Any, got: Callable[[], Received]) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._count(got(), bool(getattr(frame, "key_frame", False)))

    def frames(self, track_id: str) -> int:
        got = self.received.get(track_id)
        return got.frames if got else 0

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


def wire(media: LocalMediaServer, clients: list[Client]) -> list[MediaEvent]:
    """Route the server's events to the clients; returns the list every event is appended to."""
    events: list[MediaEvent] = []

    def dispatch(event: MediaEvent) -> None:
        events.append(event)
        for client in clients:
            client.handle(event)

    media.on_event(dispatch)
    return events


def cut_off(*pcs: RTCPeerConnection | None) -> None:
    """Cut peer connections off the network without a goodbye (no DTLS close, no RTCP BYE): their sockets close."""
    for pc in pcs:
        if pc is None:
            continue
        for protocol in aiortc_hooks.ice_protocols(pc):
            if protocol.transport is not None:
                protocol.transport.close()


def vanish(client: Client) -> None:
    """Cut a client off the network without a goodbye: its sockets close."""
    cut_off(client.publish_pc, client.subscribe_pc)
