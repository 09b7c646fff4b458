"""RTP fan-out without aiortc's sender loop: headers as aiortc parses them, continuity, NACK, slicing.

A stream writes through a real SRTP session and a real UDP socket on 127.0.0.1; the
receiving end unprotects with the peer session and parses with aiortc's own RtpPacket.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from media.live.rtpforward import ABS_SEND_TIME_URI, MID_URI, FanoutPump, ForwardedStream, PacketizedFrame

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTX = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97})
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
VIDEO_EXTS = [
    RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI),
    RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI),
]


@dataclass
class LoopbackOutlet:
    """What RtpOutlet gives a stream, over a real SRTP session and a real loopback UDP socket."""

    key: bytes = field(default_factory=lambda: os.urandom(30))
    ssrc: int = 0x1234_5678
    rtx_ssrc: int = 0x0BAD_CAFE
    connected: bool = True
    accounted: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.bind(("127.0.0.1", 0))
        self.rx.settimeout(2)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addr = self.rx.getsockname()
        self._tx_srtp = Session(self._policy(Policy.SSRC_ANY_OUTBOUND))
        self._rx_srtp = Session(self._policy(Policy.SSRC_ANY_INBOUND))
        self.protect = self._tx_srtp.protect

    def _policy(self, ssrc_type: int) -> Policy:
        policy = Policy(key=self.key, ssrc_type=ssrc_type, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        policy.allow_repeat_tx = True
        policy.window_size = 1024
        return policy

    def sendto(self, data: bytes, addr: Any) -> None:
        self.tx.sendto(data, addr)

    def send_many(self, packets: list[bytes]) -> None:
        for packet in packets:
            self.tx.sendto(packet, self.addr)

    def account(self, packets: int, octets: int, rtp_timestamp: int, ntp_timestamp: int) -> None:
        self.accounted.append((packets, octets, rtp_timestamp, ntp_timestamp))

    def received(self, count: int, extensions: HeaderExtensionsMap) -> list[RtpPacket]:
        return [RtpPacket.parse(self._rx_srtp.unprotect(self.rx.recv(2048)), extensions) for _ in range(count)]

    def close(self) -> None:
        self.rx.close()
        self.tx.close()


@pytest.fixture
def outlet() -> Iterator[LoopbackOutlet]:
    out = LoopbackOutlet()
    yield out
    out.close()


def _video_stream(outlet: LoopbackOutlet, mid: str = "3") -> tuple[ForwardedStream, HeaderExtensionsMap]:
    params = RTCRtpSendParameters(codecs=[VP8, RTX], headerExtensions=VIDEO_EXTS, muxId=mid)
    stream = ForwardedStream("video")
    stream.open(outlet, params)  # type: ignore[arg-type]
    extensions = HeaderExtensionsMap()
    extensions.configure(params)
    return stream, extensions


def _vp8_frame(timestamp: int, picture_id: int, keyframe: bool, parts: int = 3) -> PacketizedFrame:
    body = bytes([0x10 if keyframe else 0x11]) + b"x" * 50
    payloads = [bytes([0x90 if i == 0 else 0x80, 0x80]) + (0x8000 | picture_id).to_bytes(2, "big") + body
                for i in range(parts)]  # fmt: skip
    return PacketizedFrame(payloads, timestamp, keyframe, picture_id, sum(map(len, payloads)))


def test_headers_parse_as_aiortc_writes_them(outlet: LoopbackOutlet) -> None:
    stream, extensions = _video_stream(outlet)
    source = object()
    stream.attach(source, None)
    assert stream.arm()
    assert stream.send(_vp8_frame(1000, 7, keyframe=False), 10.0, b"\x01\x02\x03") is False  # waits for a keyframe
    frame = _vp8_frame(4000, 8, keyframe=True)
    assert stream.send(frame, 10.0, b"\x01\x02\x03")
    got = outlet.received(3, extensions)
    assert [p.payload for p in got] == frame.payloads
    assert [p.marker for p in got] == [0, 0, 1]
    assert {p.ssrc for p in got} == {0x1234_5678} and {p.payload_type for p in got} == {97}
    assert [p.sequence_number for p in got] == [(got[0].sequence_number + i) & 0xFFFF for i in range(3)]
    assert {p.extensions.mid for p in got} == {"3"}
    assert {p.extensions.abs_send_time for p in got} == {0x010203}
    assert outlet.accounted == [(3, frame.octets, got[0].timestamp, outlet.accounted[0][3])]


def test_a_new_source_on_the_same_m_line_continues_the_stream(outlet: LoopbackOutlet) -> None:
    stream, extensions = _video_stream(outlet)
    first, second = object(), object()
    stream.attach(first, None)
    stream.arm()
    stream.send(_vp8_frame(90_000, 100, keyframe=True, parts=1), 20.0, b"\0\0\0")
    stream.send(_vp8_frame(93_000, 101, keyframe=False, parts=1), 20.033, b"\0\0\0")
    before = outlet.received(2, extensions)
    # The m-line is reused for another publisher whose clock and picture ids are elsewhere.
    stream.detach()
    stream.attach(second, None)
    assert stream.send(_vp8_frame(5_000_000, 20_000, keyframe=True, parts=1), 20.1, b"\0\0\0")  # not armed: nothing
    stream.arm()
    stream.send(_vp8_frame(5_000_000, 20_000, keyframe=True, parts=1), 20.1, b"\0\0\0")
    stream.send(_vp8_frame(5_003_000, 20_001, keyframe=False, parts=1), 20.133, b"\0\0\0")
    after = outlet.received(2, extensions)
    assert after[0].ssrc == before[0].ssrc
    assert after[0].sequence_number == (before[1].sequence_number + 1) & 0xFFFF
    gap = (after[0].timestamp - before[1].timestamp) & 0xFFFFFFFF
    assert 0 < gap < 90_000  # wall-clock gap in 90 kHz units, not the sources' clock distance
    assert (after[1].timestamp - after[0].timestamp) & 0xFFFFFFFF == 3000
    picture_ids = [int.from_bytes(p.payload[2:4], "big") & 0x7FFF for p in before + after]
    assert picture_ids == [100, 101, 102, 103]


def test_nack_resends_from_history_as_rtx(outlet: LoopbackOutlet) -> None:
    stream, extensions = _video_stream(outlet)
    stream.attach(object(), None)
    stream.arm()
    frame = _vp8_frame(1000, 1, keyframe=True, parts=2)
    stream.send(frame, 1.0, b"\0\0\0")
    sent = outlet.received(2, extensions)
    assert stream.retransmit(sent[1].sequence_number)
    assert not stream.retransmit((sent[1].sequence_number + 500) & 0xFFFF)  # never sent: nothing
    rtx = outlet.received(1, extensions)[0]
    assert rtx.ssrc == 0x0BAD_CAFE and rtx.payload_type == 98 and rtx.marker == 1
    assert int.from_bytes(rtx.payload[:2], "big") == sent[1].sequence_number
    assert rtx.payload[2:] == sent[1].payload and rtx.timestamp == sent[1].timestamp


def test_audio_needs_no_keyframe_and_carries_only_mid(outlet: LoopbackOutlet) -> None:
    params = RTCRtpSendParameters(
        codecs=[OPUS], headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI)], muxId="0"
    )
    stream = ForwardedStream("audio")
    stream.open(outlet, params)  # type: ignore[arg-type]
    extensions = HeaderExtensionsMap()
    extensions.configure(params)
    stream.attach(object(), None)
    stream.arm()
    assert stream.send(PacketizedFrame([b"opus!"], 960, True, None, 5), 1.0, b"\0\0\0")
    (packet,) = outlet.received(1, extensions)
    assert packet.payload == b"opus!" and packet.marker == 1 and packet.extensions.mid == "0"
    assert packet.extensions.abs_send_time is None and packet.payload_type == 111


async def test_pump_slices_a_big_fanout_and_drops_whole_frames_when_behind() -> None:
    pump = FanoutPump(slice_packets=10, backlog_packets=30)
    source = object()
    outlets = [LoopbackOutlet() for _ in range(5)]  # one SRTP session and socket per subscriber
    streams = []
    try:
        for outlet in outlets:
            stream, _ext = _video_stream(outlet)
            stream.attach(source, None)
            stream.arm()
            streams.append(stream)
        starving: list[str] = []
        assert pump.submit(_vp8_frame(0, 1, keyframe=True, parts=4), source, streams, lambda: starving.append("k"))
        assert pump.pending == 20
        delta = _vp8_frame(3000, 2, keyframe=False, parts=4)
        assert not pump.submit(delta, source, streams, lambda: starving.append("d"))
        assert starving == ["d"] and all(s.waiting_keyframe for s in streams)
        await asyncio.sleep(0)
        assert pump.slices == 1 and pump.pending == 8  # 3 streams x 4 packets in the first slice
        for _ in range(5):
            await asyncio.sleep(0)
        assert pump.pending == 0 and pump.slices == 2
        assert all(s.frames == 1 for s in streams)  # the keyframe reached everyone, in order
        for outlet in outlets:
            assert len(outlet.received(4, HeaderExtensionsMap())) == 4
    finally:
        for outlet in outlets:
            outlet.close()
