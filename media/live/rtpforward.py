"""RTP fan-out: packetize each encoded frame once, then rewrite only the header for each subscriber.

Usage::

    pump = FanoutPump()                                    # one per event loop (media worker)
    packetizer = Packetizer(codec)                         # one per published track
    stream = ForwardedStream("video")                      # one per subscriber m-line, for its lifetime
    stream.open(aiortc_hooks.RtpOutlet(sender), params)    # aiortc started the sender (DTLS up)
    stream.attach(source, on_keyframe_request)             # this m-line now carries ``source``
    pump.submit(packetizer.pack(frame, keyframe), source, [stream, ...], ask_publisher_for_keyframe)

Why: aiortc's ``RTCRtpSender`` packetizes every frame again and wakes one task
per frame for each subscriber, then awaits three nested coroutines per
packet. Here the payloads (VP8 descriptor, H.264 FU-A, Opus) are made once per
frame; each subscriber gets the same payload bytes behind its own 12-byte
header (its SSRC, sequence number, timestamp offset, payload type) and its own
header extensions (mid, abs-send-time), SRTP-protected with its key and
written to its socket in a plain loop. The :class:`FanoutPump` cuts a frame's
fan-out into slices of ``slice_packets`` so that a keyframe for 200 viewers
(thousands of packets) never holds the event loop for more than a few
milliseconds, and it drops whole frames (never parts) when it falls behind.

Continuity: an m-line keeps one SSRC and one sequence-number space for its
whole life. When it starts carrying another source (a reused m-line after a
speaker change or a rejoin), the first frame it sends is a keyframe, its RTP
timestamp continues from the last one sent (plus the wall-clock gap), and
VP8 picture ids continue from the last one sent, so a receiver sees one
unbroken stream.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpSendParameters

from media.live import aiortc_hooks

log = logging.getLogger(__name__)

HISTORY = 128  # packets kept per video m-line for NACK (aiortc's RTP_HISTORY_SIZE): ~1 s at 1 Mbps
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

_HEADER = struct.Struct("!BBHII").pack
_PICTURE_ID = struct.Struct("!H").pack


@dataclass(slots=True)
class Totals:
    """Process-wide running totals of the forwarding path (plain ints: the hot path only adds).

    A media worker's metrics sampler reads them about once a second (``media.live.worker_metrics``);
    unlike a stream's own counters they never restart, so they make Prometheus counters.
    """

    packets: int = 0
    payload_bytes: int = 0
    retransmitted: int = 0
    keyframe_requests: int = 0  # asked of a publisher (joins, PLI/FIR from subscribers, a stream behind)
    plis_sent: int = 0  # PLIs actually sent to publishers (requests are throttled and coalesced)


TOTALS = Totals()


def ntp_now(now: float) -> int:
    """64-bit NTP time of a ``time.time()`` value (what aiortc's RTCP SR carries)."""
    return int((now + NTP_EPOCH_OFFSET) * (1 << 32))


@dataclass(slots=True)
class PacketizedFrame:
    """One encoded frame as RTP payloads, shared by every subscriber of its track."""

    payloads: list[bytes]
    timestamp: int  # the publisher's RTP timestamp
    keyframe: bool
    picture_id: int | None  # VP8: the 15-bit id written in every payload descriptor
    octets: int


class Packetizer:
    """Packs a published track's encoded frames into RTP payloads, once per frame, with aiortc's codecs."""

    def __init__(self, codec: RTCRtpCodecParameters) -> None:
        self.codec = codec
        self.vp8 = codec.mimeType.lower() == "video/vp8"
        self._packer = aiortc_hooks.packer_for(codec)

    def pack(self, frame: JitterFrame, keyframe: bool) -> PacketizedFrame:
        picture_id = self._packer.picture_id if self.vp8 else None
        payloads, _ = self._packer.pack(aiortc_hooks.to_packet(self.codec, frame))
        return PacketizedFrame(payloads, frame.timestamp, keyframe, picture_id, sum(map(len, payloads)))


def _extension_block(elements: list[tuple[int, bytes | None]]) -> tuple[bytes, bytes]:
    """RFC 8285 header extension block split around the one ``None`` (3-byte abs-send-time) element.

    Returns ``(head, tail)``: the block is ``head + value + tail``, or ``head``
    alone when no element is left open.
    """
    if not elements:
        return b"", b""
    one_byte = all(0 < i < 15 and (v is None or 0 < len(v) <= 16) for i, v in elements)
    parts: list[bytes] = []
    split = -1
    for ext_id, value in elements:
        size = 3 if value is None else len(value)
        parts.append(bytes([(ext_id << 4) | (size - 1)]) if one_byte else bytes([ext_id, size]))
        if value is None:
            split = len(parts)
            parts.append(b"\0\0\0")
        else:
            parts.append(value)
    body = b"".join(parts)
    padding = -len(body) % 4
    prefix = struct.pack("!HH", 0xBEDE if one_byte else 0x1000, (len(body) + padding) // 4)
    if split < 0:
        return prefix + body + b"\0" * padding, b""
    before = prefix + b"".join(parts[:split])
    after = b"".join(parts[split + 1 :]) + b"\0" * padding
    return before, after


class ForwardedStream:
    """One subscriber m-line's outgoing RTP: its SSRC, sequence numbers, timestamps and picture ids.

    Lives as long as the m-line (the RTCRtpSender); ``attach`` starts carrying a
    source, ``detach`` stops. Nothing is sent until the sender started
    (``open``) and the subscriber applied the offer that carries the source
    (``arm``); then video waits for a keyframe.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.video = kind == "video"
        self.outlet: aiortc_hooks.RtpOutlet | None = None
        self.source: object | None = None  # what this m-line carries now (a published track)
        self.keyframe_request: Callable[[], None] | None = None
        self.armed = False
        self.waiting_keyframe = self.video
        self._rebase = True
        self.seq = random.getrandbits(15)  # lower half: no early wrap (aiortc does the same for SRTP)
        self.ssrc = 0
        self._rtx_ssrc = 0
        self._rtx_pt: int | None = None
        self._rtx_seq = random.getrandbits(15)
        self._pt = 0
        self._b0 = 0x80
        self._ext_head = b""
        self._ext_tail = b""
        self._abs = False
        self._header_len = 12
        self._ts_offset = 0
        self._pid_offset = 0
        self.last_timestamp: int | None = None
        self.last_picture_id: int | None = None
        self._last_sent_at = 0.0
        self._clock_rate = 90000 if self.video else 48000
        self.history: list[bytes | None] | None = [None] * HISTORY if self.video else None
        # per subscription (reset by attach)
        self.frames = 0
        self.dropped = 0
        # per m-line life
        self.packets = 0
        self.retransmitted = 0

    # --- life cycle ------------------------------------------------------------------------

    def open(self, outlet: aiortc_hooks.RtpOutlet, parameters: RTCRtpSendParameters) -> None:
        """The sender started: learn its SSRC, payload types and header extension ids."""
        codec = parameters.codecs[0]
        self._pt = codec.payloadType
        self._clock_rate = codec.clockRate
        for other in parameters.codecs[1:]:
            if other.mimeType.lower().endswith("/rtx") and other.parameters.get("apt") == codec.payloadType:
                self._rtx_pt = other.payloadType
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        elements: list[tuple[int, bytes | None]] = []
        if MID_URI in ids and parameters.muxId:
            elements.append((ids[MID_URI], parameters.muxId.encode()))
        self._abs = self.video and ABS_SEND_TIME_URI in ids
        if self._abs:
            elements.append((ids[ABS_SEND_TIME_URI], None))
        self._ext_head, self._ext_tail = _extension_block(elements)
        self._b0 = 0x90 if elements else 0x80
        self._header_len = 12 + len(self._ext_head) + len(self._ext_tail) + (3 if self._abs else 0)
        self.ssrc = outlet.ssrc
        self._rtx_ssrc = outlet.rtx_ssrc
        self.outlet = outlet

    def attach(self, source: object, keyframe_request: Callable[[], None] | None) -> None:
        """Carry ``source`` from now on (after ``arm``), starting at a keyframe; counters restart."""
        self.source = source
        self.keyframe_request = keyframe_request
        self.armed = False
        self.waiting_keyframe = self.video
        self._rebase = True
        self.frames = 0
        self.dropped = 0

    def arm(self) -> bool:
        """The subscriber can receive: start sending (at the next keyframe). False if not started yet."""
        if self.outlet is None or self.source is None or self.armed:
            return False
        self.armed = True
        return True

    def detach(self) -> None:
        self.source = None
        self.keyframe_request = None
        self.armed = False

    def request_keyframe(self) -> None:
        """A PLI/FIR from the subscriber: passed to the current source's publisher."""
        if self.keyframe_request is not None:
            self.keyframe_request()

    # --- the hot path ----------------------------------------------------------------------

    def send(self, frame: PacketizedFrame, now: float, abs_send_time: bytes, ntp: int = 0) -> bool:
        """Send one frame; False when this stream waits for a keyframe (the caller asks for one).

        ``now`` is ``time.time()``; ``ntp`` the same instant as 64-bit NTP (the pump computes both
        once per slice; 0 means compute it here).
        """
        outlet = self.outlet
        if not self.armed or outlet is None or not outlet.connected:
            return True
        if self.waiting_keyframe:
            if not frame.keyframe:
                self.dropped += 1
                return False
            self.waiting_keyframe = False
        if self._rebase:
            self._rebase_on(frame, now)
        timestamp = (frame.timestamp + self._ts_offset) & 0xFFFFFFFF
        payloads = frame.payloads
        if self._pid_offset and frame.picture_id is not None:
            payloads = _renumber(payloads, (frame.picture_id + self._pid_offset) & 0x7FFF)
        ext = self._ext_head + abs_send_time + self._ext_tail if self._abs else self._ext_head
        b0 = self._b0
        pt = self._pt
        ssrc = self.ssrc
        seq = self.seq
        protect = outlet.protect
        history = self.history
        last = len(payloads) - 1
        if last == 0:  # audio, small video frames: one packet, one sendto
            data = _HEADER(b0, pt | 0x80, seq, timestamp, ssrc) + ext + payloads[0]
            if history is not None:
                history[seq % HISTORY] = data
            outlet.sendto(protect(data), outlet.addr)
            seq = (seq + 1) & 0xFFFF
        else:  # a frame's packets leave in one syscall where the kernel can segment them (GSO)
            protected = []
            for index, payload in enumerate(payloads):
                data = _HEADER(b0, pt | 0x80 if index == last else pt, seq, timestamp, ssrc) + ext + payload
                if history is not None:
                    history[seq % HISTORY] = data
                protected.append(protect(data))
                seq = (seq + 1) & 0xFFFF
            outlet.send_many(protected)
        self.seq = seq
        self.packets += last + 1
        TOTALS.packets += last + 1
        TOTALS.payload_bytes += frame.octets
        self.frames += 1
        self.last_timestamp = timestamp
        self._last_sent_at = now
        if frame.picture_id is not None:
            self.last_picture_id = (frame.picture_id + self._pid_offset) & 0x7FFF
        outlet.account(last + 1, frame.octets, timestamp, ntp or ntp_now(now))
        return True

    def _rebase_on(self, frame: PacketizedFrame, now: float) -> None:
        """First frame of a new source on this m-line: continue timestamps and picture ids from the last sent."""
        self._rebase = False
        if self.last_timestamp is None:
            self._ts_offset = random.getrandbits(32) - frame.timestamp
        else:
            gap = max(1, round((now - self._last_sent_at) * self._clock_rate))
            self._ts_offset = self.last_timestamp + gap - frame.timestamp
        if frame.picture_id is not None and self.last_picture_id is not None:
            self._pid_offset = (self.last_picture_id + 1 - frame.picture_id) & 0x7FFF
        else:
            self._pid_offset = 0

    def retransmit(self, sequence_number: int) -> bool:
        """Resend a NACKed packet from the history (as RTX when negotiated); False if it is gone."""
        outlet = self.outlet
        if self.history is None or outlet is None or not outlet.connected:
            return False
        data = self.history[sequence_number % HISTORY]
        if data is None or int.from_bytes(data[2:4], "big") != sequence_number:
            return False
        if self._rtx_pt is not None:
            header = bytearray(data[: self._header_len])
            header[1] = (header[1] & 0x80) | self._rtx_pt
            header[2:4] = self._rtx_seq.to_bytes(2, "big")
            header[8:12] = self._rtx_ssrc.to_bytes(4, "big")
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            data = bytes(header) + data[2:4] + data[self._header_len :]
        outlet.sendto(outlet.protect(data), outlet.addr)
        self.retransmitted += 1
        TOTALS.retransmitted += 1
        return True


def _renumber(payloads: list[bytes], picture_id: int) -> list[bytes]:
    """Rewrite the 15-bit picture id aiortc's VP8 packer puts in bytes 2-3 of every payload descriptor."""
    field = _PICTURE_ID(0x8000 | picture_id)
    return [p[:2] + field + p[4:] for p in payloads]


@dataclass(slots=True)
class _Job:
    frame: PacketizedFrame
    source: object
    streams: Sequence[ForwardedStream]
    on_starving: Callable[[], None]
    next: int = 0
    starving: bool = False


class FanoutPump:
    """Sends submitted frames to their streams in order, ``slice_packets`` at a time per event-loop turn.

    A frame is never split inside one stream. When more than ``backlog_packets``
    are waiting, a new frame is dropped for all its streams (video streams then
    wait for a keyframe and the publisher is asked for one): memory and delay
    stay bounded when the worker is short of CPU.
    """

    def __init__(self, slice_packets: int = 256, backlog_packets: int = 20_000) -> None:
        self.slice_packets = slice_packets
        self.backlog_packets = backlog_packets
        self._jobs: deque[_Job] = deque()
        self._pending = 0
        self._scheduled = False
        self.frames = 0
        self.frames_dropped = 0
        self.slices = 0
        self.max_pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def submit(
        self,
        frame: PacketizedFrame,
        source: object,
        streams: Sequence[ForwardedStream],
        on_starving: Callable[[], None],
    ) -> bool:
        """Queue ``frame`` for ``streams`` (those still carrying ``source`` when their turn comes)."""
        if not streams:
            return True
        cost = len(frame.payloads) * len(streams)
        if self._pending and self._pending + cost > self.backlog_packets:
            self.frames_dropped += 1
            if frame.payloads and any(s.video for s in streams):
                for stream in streams:
                    if stream.source is source:
                        stream.waiting_keyframe = True
                        stream.dropped += 1
                on_starving()
            return False
        self.frames += 1
        self._jobs.append(_Job(frame, source, streams, on_starving))
        self._pending += cost
        self.max_pending = max(self.max_pending, self._pending)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)
        return True

    def _run(self) -> None:
        self.slices += 1
        budget = self.slice_packets
        now = time.time()
        ntp = ntp_now(now)
        abs_send_time = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
        jobs = self._jobs
        while jobs and budget > 0:
            job = jobs[0]
            frame, source, streams = job.frame, job.source, job.streams
            size = len(frame.payloads)
            index = job.next
            count = len(streams)
            while index < count and budget > 0:
                stream = streams[index]
                index += 1
                self._pending -= size
                if stream.source is not source:
                    continue
                budget -= size
                try:
                    if not stream.send(frame, now, abs_send_time, ntp):
                        job.starving = True
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("forwarding a %s frame to one subscriber failed", stream.kind)
            job.next = index
            if index >= count:
                jobs.popleft()
                if job.starving:
                    job.on_starving()
        if jobs:
            asyncio.get_running_loop().call_soon(self._run)
        else:
            self._scheduled = False

    def stats(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "frames_dropped": self.frames_dropped,
            "slices": self.slices,
            "pending_packets": self._pending,
            "max_pending_packets": self.max_pending,
        }
