"""An aiortc participant that negotiates through Socket.IO exactly as the browser client will.

    peer = MediaPeer(room_client, publish=("camera", "microphone"))
    ack = await peer.join()                      # media-join -> media-answer
    await until(lambda: peer.video_frames_from(other_id) >= 10, "frames")
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import av
import numpy
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from tests.helpers.rooms import RoomClient
from tests.helpers.sfu import cut_off
from tests.helpers.support import until  # noqa: F401  (re-exported: tests import it from here)

NO_ICE_SERVERS = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class SmallVideoTrack(VideoStreamTrack):
    """160x120 noise at 30 fps: cheap to encode, never trivially empty."""

    def __init__(self) -> None:
        super().__init__()
        self._rng = numpy.random.default_rng(1)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._rng.integers(0, 255, (120, 160, 3), dtype=numpy.uint8), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Incoming:
    person_id: int | None
    source: str
    kind: str
    frames: int = 0


@dataclass
class MediaPeer:
    rc: RoomClient
    publish: tuple[str, ...] = ("camera", "microphone")
    publish_pc: RTCPeerConnection | None = None
    subscribe_pc: RTCPeerConnection | None = None
    incoming: dict[str, Incoming] = field(default_factory=dict)  # track_id -> what arrived
    offers: int = 0
    errors: list[Any] = field(default_factory=list)
    _mids: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rc.listeners.append(self._on_event)

    async def offer(self, sources: tuple[str, ...] | None = None) -> tuple[str, dict[str, str]]:
        pc = self.publish_pc = RTCPeerConnection(NO_ICE_SERVERS)
        labels: dict[int, str] = {}
        for source in sources or self.publish:
            track = AudioStreamTrack() if source in ("microphone", "screen_audio") else SmallVideoTrack()
            t = pc.addTransceiver(track, direction="sendonly")
            labels[id(t)] = source
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp, {t.mid: labels[id(t)] for t in pc.getTransceivers()}

    async def join(self, sdp: str | None = None, sources: dict[str, str] | None = None) -> dict[str, Any]:
        if sdp is None and self.publish:
            sdp, labelled = await self.offer()
            sources = labelled if sources is None else sources
        ack = await self.rc.call("media-join", {"sdp": sdp, "sources": sources or {}})
        if ack.get("ok") and ack.get("sdp") and self.publish_pc is not None:
            await self.publish_pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
        return ack

    def _on_event(self, event: str, data: Any) -> None:
        if event == "media-tracks":  # the same m-lines carry other sources now (a presenter switch)
            self._mids.update({t["mid"]: t for t in data["tracks"]})
        if event == "media-offer":
            task = asyncio.ensure_future(self._answer(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: dict[str, Any]) -> None:
        async with self._lock:
            try:
                self.offers += 1
                self._mids.update({t["mid"]: t for t in data["tracks"]})
                if self.subscribe_pc is None:
                    pc = self.subscribe_pc = RTCPeerConnection(NO_ICE_SERVERS)
                    pc.on("track", lambda track: self._on_track(pc, track))
                pc = self.subscribe_pc
                await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                ack = await self.rc.call("media-answer", {"sdp": pc.localDescription.sdp})
                if not ack.get("ok"):
                    self.errors.append(ack)
            except Exception as exc:  # surfaced by the test
                self.errors.append(exc)

    def _on_track(self, pc: RTCPeerConnection, track: Any) -> None:
        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
        info = self._mids.get(transceiver.mid, {})
        track_id = info.get("track_id", f"mid:{transceiver.mid}")
        got = self.incoming.setdefault(track_id, Incoming(info.get("person_id"), info.get("source", "?"), track.kind))
        task = asyncio.ensure_future(self._read(track, got))
        self._tasks.add(task)

    @staticmethod
    async def _read(track: Any, got: Incoming) -> None:
        while True:
            try:
                await track.recv()  # decoded: the frames are real pictures/sound, not just packets
            except MediaStreamError:
                return
            got.frames += 1

    def video_frames_from(self, person_id: int) -> int:
        return sum(i.frames for i in self.incoming.values() if i.person_id == person_id and i.kind == "video")

    def audio_frames_from(self, person_id: int) -> int:
        return sum(i.frames for i in self.incoming.values() if i.person_id == person_id and i.kind == "audio")

    def vanish(self) -> None:
        """Cut this peer off the network without a goodbye (no DTLS close, no RTCP BYE)."""
        cut_off(self.publish_pc, self.subscribe_pc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


