"""Every hook into aiortc's internals that passthrough forwarding needs, in one place.

Usage::

    tap = tap_encoded_frames(receiver, on_frame)     # in the pc's "track" handler
    track = EncodedTrack("video"); pc.addTrack(track) # then track.push(packet)
    observe_keyframe_requests(sender, on_pli)         # subscriber asked for a keyframe
    request_keyframe(receiver)                        # send PLI to the publisher

aiortc decodes every received frame on a thread and encodes every sent frame;
an SFU must do neither. aiortc 1.16.0 gives us two seams:

* receive side: ``RTCRtpReceiver._handle_rtp_packet`` depacketizes RTP into a
  ``JitterFrame`` (the whole encoded frame) and puts ``(codec, frame)`` on the
  private queue ``_RTCRtpReceiver__decoder_queue``, which the decoder thread
  started by ``receive()`` reads. We swap that queue for a :class:`FrameTap`
  before ``receive()`` runs: frames go to our callback on the event loop and the
  decoder thread idles until the receiver stops, so nothing is decoded.
* send side: ``RTCRtpSender._next_encoded_frame`` calls ``encoder.pack(packet)``
  instead of ``encoder.encode(frame)`` when the track yields an ``av.Packet``;
  the codec's ``pack`` only re-packetizes (VP8 descriptor, H.264 FU-A/STAP-A,
  Opus as is). :class:`EncodedTrack` yields such packets.

Keyframe requests: PLI/FIR from a subscriber end in ``RTCRtpSender._send_keyframe()``
which we replace per sender instance; PLI to a publisher goes out through
``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.

aiortc is pinned to ``==1.16.0``. :func:`check_internals` lists whatever moved;
tests/media/test_aiortc_hooks.py calls it and drives each hook on real peers.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import aioice.ice
import aiortc
import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import h264, opus, vpx
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

log = logging.getLogger(__name__)

PINNED_AIORTC = "1.16.0"

_RX_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RX_STARTED = "_RTCRtpReceiver__started"
_RX_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
_RX_JITTER = "_RTCRtpReceiver__jitter_buffer"
_RX_SEND_PLI = "_send_rtcp_pli"
_TX_KEYFRAME = "_send_keyframe"

OnFrame = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class AiortcHookError(RuntimeError):
    """aiortc's internals no longer look like 1.16.0's: the named attribute moved."""


def check_internals() -> list[str]:
    """Return one line per aiortc internal this module relies on that is missing or changed."""
    problems: list[str] = []
    if aiortc.__version__ != PINNED_AIORTC:
        problems.append(f"aiortc {aiortc.__version__} installed, hooks written for {PINNED_AIORTC}")
    init_src = inspect.getsource(RTCRtpReceiver.__init__)
    if "self.__decoder_queue" not in init_src:
        problems.append(f"RTCRtpReceiver.__init__ no longer creates {_RX_QUEUE}")
    if "self.__started" not in init_src:
        problems.append(f"RTCRtpReceiver.__init__ no longer sets {_RX_STARTED}")
    rx_src = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    if "self.__decoder_queue.put((codec, encoded_frame))" not in rx_src:
        problems.append(
            f"RTCRtpReceiver._handle_rtp_packet no longer puts (codec, encoded_frame) on {_RX_QUEUE}"
        )
    recv_src = inspect.getsource(RTCRtpReceiver.receive)
    if "self.__decoder_queue" not in recv_src:
        problems.append(f"RTCRtpReceiver.receive no longer hands {_RX_QUEUE} to the decoder thread")
    if "self.__jitter_buffer = JitterBuffer(capacity=512, is_video=True)" not in init_src:
        problems.append(f"RTCRtpReceiver.__init__ no longer builds {_RX_JITTER} as JitterBuffer(512, video)")
    if not callable(getattr(RTCRtpReceiver, _RX_SEND_PLI, None)):
        problems.append(f"RTCRtpReceiver.{_RX_SEND_PLI}(media_ssrc) is gone")
    if not callable(getattr(RTCRtpSender, _TX_KEYFRAME, None)):
        problems.append(f"RTCRtpSender.{_TX_KEYFRAME}() is gone")
    else:
        rtcp_src = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
        if "self._send_keyframe()" not in rtcp_src or "RTCP_PSFB_FIR" not in rtcp_src:
            problems.append(f"RTCRtpSender._handle_rtcp_packet no longer calls {_TX_KEYFRAME}() on PLI/FIR")
    tx_src = inspect.getsource(RTCRtpSender._next_encoded_frame)
    if ".pack(data)" not in tx_src or "isinstance(data, Frame)" not in tx_src:
        problems.append("RTCRtpSender._next_encoded_frame no longer calls encoder.pack(packet) for non-Frames")
    for cls in (vpx.Vp8Encoder, h264.H264Encoder, opus.OpusEncoder):
        if "pack" not in cls.__dict__:
            problems.append(f"aiortc.codecs {cls.__name__}.pack(packet) is gone")
    for name in ("CONSENT_INTERVAL", "CONSENT_FAILURES"):
        if not isinstance(getattr(aioice.ice, name, None), int | float):
            problems.append(f"aioice.ice.{name} is gone (ICE consent timing)")
    if not callable(getattr(aioice.ice, "get_host_addresses", None)) or "get_host_addresses(" not in (
        inspect.getsource(aioice.ice.Connection.gather_candidates)
    ):
        problems.append("aioice.ice.Connection.gather_candidates no longer calls get_host_addresses()")
    if "self._protocols" not in inspect.getsource(aioice.ice.Connection.__init__):
        problems.append("aioice.ice.Connection._protocols (gathered UDP sockets) is gone")
    if not {"data", "timestamp"} <= set(inspect.signature(JitterFrame.__init__).parameters):
        problems.append("aiortc.jitterbuffer.JitterFrame no longer has data/timestamp")
    return problems


def _require(obj: object, attr: str) -> Any:
    if not hasattr(obj, attr):
        owner = getattr(obj, "__name__", type(obj).__name__)
        raise AiortcHookError(
            f"aiortc internal {owner}.{attr} is missing (hooks written for aiortc "
            f"{PINNED_AIORTC}, found {aiortc.__version__}); see media/aiortc_hooks.py"
        )
    return getattr(obj, attr)


class FrameTap:
    """Stands in for a receiver's decoder queue: encoded frames go to a callback, never a decoder.

    ``put`` runs on the event loop (called by ``_handle_rtp_packet``); ``get`` runs
    on aiortc's decoder thread and blocks until the receiver stops, then returns
    ``None`` so aiortc ends the remote track as it normally would.
    """

    def __init__(self, on_frame: OnFrame, on_end: Callable[[], None] | None = None) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self._ended = threading.Event()
        self.frames = 0
        self.decoder_tasks = 0  # stays 0: nothing handed to a decoder

    def put(self, task: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if task is None:
            if not self._ended.is_set():
                self._ended.set()
                if self._on_end is not None:
                    self._on_end()
            return
        self.frames += 1
        codec, frame = task
        try:
            self._on_frame(codec, frame)
        except Exception:  # one bad subscriber must not stop the publisher's receiver
            log.exception("forwarding an encoded %s frame failed", codec.mimeType)

    def get(self) -> None:
        self._ended.wait()
        return None

    @property
    def ended(self) -> bool:
        return self._ended.is_set()


def tap_encoded_frames(
    receiver: RTCRtpReceiver,
    on_frame: OnFrame,
    on_end: Callable[[], None] | None = None,
    video_jitter_packets: int | None = None,
) -> FrameTap:
    """Make ``receiver`` hand out encoded frames to ``on_frame`` instead of decoding them.

    Call before ``receive()`` runs, i.e. in the peer connection's ``track`` handler
    (aiortc starts receivers only once DTLS connects). ``video_jitter_packets``
    (a power of two) shrinks aiortc's 512-packet video jitter buffer: a packet
    that NACK never recovers stalls every frame behind it until the buffer
    overflows, ~4 s of 1 Mbps video at 512, ~1 s at 128; then aiortc sends PLI.
    """
    _require(receiver, _RX_QUEUE)
    if video_jitter_packets is not None and receiver.track is not None and receiver.track.kind == "video":
        _require(receiver, _RX_JITTER)
        setattr(receiver, _RX_JITTER, JitterBuffer(capacity=video_jitter_packets, is_video=True))
    if _require(receiver, _RX_STARTED):
        raise AiortcHookError(
            f"RTCRtpReceiver already started: {_RX_QUEUE} must be replaced before receive(); "
            "install the tap in the 'track' event handler"
        )
    tap = FrameTap(on_frame, on_end)
    setattr(receiver, _RX_QUEUE, tap)
    return tap


def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Send an RTCP PLI to the publisher behind ``receiver``; False if it has sent nothing yet."""
    send_pli = _require(receiver, _RX_SEND_PLI)
    if _require(receiver, _RX_RTCP_SSRC) is None:
        return False
    sources = receiver.getSynchronizationSources()
    if not sources:
        return False
    for source in sources:
        asyncio.ensure_future(send_pli(source.source))
    return True


def observe_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the subscriber behind ``sender`` sends PLI or FIR.

    The sender's own handling (forcing its encoder) is useless for a forwarded
    track, so it is replaced rather than wrapped.
    """
    _require(sender, _TX_KEYFRAME)
    setattr(sender, _TX_KEYFRAME, callback)


def set_consent_timing(interval: float, failures: int) -> None:
    """Detect a vanished peer sooner than aioice's 6 x 5 s (process-wide: aioice reads module globals)."""
    _require(aioice.ice, "CONSENT_INTERVAL")
    _require(aioice.ice, "CONSENT_FAILURES")
    aioice.ice.CONSENT_INTERVAL = interval
    aioice.ice.CONSENT_FAILURES = failures


def restrict_host_addresses(addresses: list[str]) -> None:
    """Gather ICE host candidates only from ``addresses`` (process-wide, like aioice's own lookup).

    For multi-homed media hosts (advertise the public interface only) and for tests
    on loopback, which aioice otherwise skips.
    """
    _require(aioice.ice, "get_host_addresses")
    chosen = list(addresses)
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(chosen)


def enlarge_receive_buffers(pc: Any, size: int) -> int:
    """Set SO_RCVBUF on every UDP socket ICE gathered for ``pc``; returns how many were set.

    A media worker that stalls for a few hundred ms (GC, a busy core) must not
    lose a publisher's burst in a 208 KiB default buffer: every lost packet that
    NACK does not recover freezes that video in aiortc's jitter buffer. Linux caps
    the value at net.core.rmem_max. Call after setLocalDescription (gathering done).
    """
    done = 0
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        connection = _require(ice, "_connection")
        for protocol in list(_require(connection, "_protocols")):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                done += 1
    return done


def is_keyframe(codec: RTCRtpCodecParameters, data: bytes) -> bool:
    """True when an encoded frame can start decoding (VP8 key frame, H.264 IDR/SPS, any audio)."""
    name = codec.mimeType.lower()
    if name == "video/vp8":
        return bool(data) and not data[0] & 0x01  # RFC 6386 9.1: P bit clear = key frame
    if name == "video/h264":
        return _h264_has_idr(data)
    return True


def _h264_has_idr(data: bytes) -> bool:
    # aiortc's H.264 depayloader yields Annex-B NAL units with 4-byte start codes.
    start = 0
    while True:
        start = data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 3 >= len(data):
            return False
        if data[start + 3] & 0x1F in (5, 7):
            return True
        start += 3


def to_packet(codec: RTCRtpCodecParameters, frame: JitterFrame) -> av.Packet:
    """Wrap an encoded frame as the ``av.Packet`` the sender's ``pack`` path expects.

    One packet is shared by every subscriber: ``pack`` only reads it.
    """
    packet = av.Packet(frame.data)
    packet.pts = frame.timestamp
    packet.time_base = fractions.Fraction(1, codec.clockRate)
    return packet


class EncodedTrack(MediaStreamTrack):
    """A track whose ``recv`` yields encoded ``av.Packet``s, which aiortc's sender packs, never encodes.

    Bounded: a subscriber that falls ``max_queue`` frames behind loses the backlog
    and (video) waits for the next keyframe, so one slow viewer never grows memory.
    """

    def __init__(self, kind: str, max_queue: int = 64, track_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        if track_id is not None:
            self._id = track_id
        self._queue: deque[av.Packet | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._max_queue = max_queue
        self.needs_keyframe = kind == "video"
        self.started = False  # set when the sender first asks for a frame (DTLS is up)
        self.on_start: Callable[[], None] | None = None
        self.forwarded = 0
        self.dropped = 0

    def push(self, packet: av.Packet, keyframe: bool) -> bool:
        """Queue one encoded frame; returns False when it had to wait for a keyframe instead."""
        if self.readyState != "live":
            return True
        if not self.started:
            # Nobody is sending yet: queueing would only burst stale frames on connect.
            return True
        if self.needs_keyframe:
            if not keyframe:
                self.dropped += 1
                return False
            self.needs_keyframe = False
        if len(self._queue) >= self._max_queue:
            self.dropped += len(self._queue)
            self._queue.clear()
            if self.kind == "video" and not keyframe:
                self.needs_keyframe = True
                self.dropped += 1
                return False
        self._queue.append(packet)
        self.forwarded += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    async def recv(self) -> av.Packet:
        if not self.started:
            self.started = True
            if self.on_start is not None:
                self.on_start()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        packet = self._queue.popleft()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.append(None)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
