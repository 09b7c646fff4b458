"""Guards for every hook media/live/aiortc_hooks.py puts into aiortc 1.16.0: each fails naming what moved."""

from __future__ import annotations

import asyncio
import fractions
import logging
import socket
import time
from typing import Any

import aioice.ice
import aiortc.rtcrtpreceiver as rtcrtpreceiver
import av
import numpy
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import depayload, h264, vpx
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket
from pylibsrtp import Policy, Session

from media.live import aiortc_hooks
from media.live.fanout import RoomKind
from media.live.rtpforward import ForwardedStream, Packetizer
from media.live.server import LocalMediaServer
from media.live.types import MediaConfig
from tests.helpers.sfu import NO_ICE_SERVERS, SmallVideoTrack, loopback_ice, until

__all__ = ["loopback_ice"]

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=99)


def test_aiortc_is_pinned_and_every_internal_the_hooks_use_is_in_place() -> None:
    problems = aiortc_hooks.check_internals()
    assert not problems, "aiortc internals moved; fix media/live/aiortc_hooks.py:\n" + "\n".join(problems)


async def _pair(
    tap_kinds: tuple[str, ...], frames: dict[str, list[Any]]
) -> tuple[RTCPeerConnection, RTCPeerConnection, dict[str, Any]]:
    """A publisher and a 'server' whose receivers are tapped; returns them and the taps by kind."""
    publisher, server = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    publisher.addTransceiver(SmallVideoTrack(), direction="sendonly")
    publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
    taps: dict[str, Any] = {}

    @server.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in server.getTransceivers() if t.receiver.track is track)
        taps[track.kind + "_receiver"] = receiver
        if track.kind in tap_kinds:
            taps[track.kind] = aiortc_hooks.tap_encoded_frames(
                receiver, lambda codec, frame, kind=track.kind: frames[kind].append((codec, frame))
            )

    await publisher.setLocalDescription(await publisher.createOffer())
    await server.setRemoteDescription(publisher.localDescription)
    await server.setLocalDescription(await server.createAnswer())
    await publisher.setRemoteDescription(server.localDescription)
    return publisher, server, taps


@pytest.mark.usefixtures("loopback_ice")
async def test_receiver_tap_hands_out_encoded_frames_and_no_decoder_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoders: list[Any] = []
    original = rtcrtpreceiver.get_decoder
    monkeypatch.setattr(rtcrtpreceiver, "get_decoder", lambda codec: decoders.append(codec) or original(codec))
    frames: dict[str, list[Any]] = {"video": [], "audio": []}
    publisher, server, taps = await _pair(("video", "audio"), frames)
    try:
        await until(lambda: len(frames["video"]) >= 10 and len(frames["audio"]) >= 10, "tapped frames")
        codec, first = frames["video"][0]
        assert codec.mimeType == "video/VP8"
        assert aiortc_hooks.is_keyframe(codec, first.data), "first VP8 frame must be a keyframe"
        assert not any(aiortc_hooks.is_keyframe(c, f.data) for c, f in frames["video"][1:5])
        assert frames["audio"][0][0].mimeType == "audio/opus"
        assert decoders == [], f"RTCRtpReceiver built decoders {decoders} despite the tap ({aiortc_hooks._RX_QUEUE})"
        assert taps["video"].frames == len(frames["video"]) and taps["video"].decoder_tasks == 0

        # PLI through RTCRtpReceiver._send_rtcp_pli: aiortc's encoder keyframes only every 3000
        # frames, so a second keyframe proves the publisher received the PLI.
        assert aiortc_hooks.request_keyframe(taps["video_receiver"])
        seen = len(frames["video"])
        await until(
            lambda: any(aiortc_hooks.is_keyframe(c, f.data) for c, f in frames["video"][seen:]),
            "keyframe after PLI",
        )
    finally:
        await publisher.close()
        await server.close()
    await until(lambda: taps["video"].ended, "tap ends when the receiver stops")


@pytest.mark.usefixtures("loopback_ice")
async def test_tap_refuses_a_started_receiver_loudly() -> None:
    frames: dict[str, list[Any]] = {"video": [], "audio": []}
    publisher, server, taps = await _pair((), frames)
    try:
        await until(lambda: server.connectionState == "connected", "connected")
        await asyncio.sleep(0.2)
        with pytest.raises(aiortc_hooks.AiortcHookError, match="_RTCRtpReceiver__decoder_queue.*before receive"):
            aiortc_hooks.tap_encoded_frames(taps["video_receiver"], lambda c, f: None)
    finally:
        await publisher.close()
        await server.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_parked_sender_and_rtp_outlet_deliver_frames_the_far_end_decodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """publisher -> tap -> Packetizer (pack once) -> ForwardedStream -> RtpOutlet -> viewer that decodes."""
    packed: list[str] = []
    for cls in (vpx.Vp8Encoder, aiortc_hooks.opus.OpusEncoder):
        original = cls.pack
        monkeypatch.setattr(cls, "pack", lambda self, p, o=original, n=cls.__name__: packed.append(n) or o(self, p))
    streams = {"video": ForwardedStream("video"), "audio": ForwardedStream("audio")}
    packers: dict[str, Packetizer] = {}
    source = object()

    def forward(kind: str, codec: Any, frame: Any) -> None:
        packer = packers.setdefault(kind, Packetizer(codec))
        streams[kind].send(packer.pack(frame, aiortc_hooks.is_keyframe(codec, frame.data)), time.time(), b"\0\0\0")

    publisher, server = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    relay, viewer = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    publisher.addTransceiver(SmallVideoTrack(), direction="sendonly")
    publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")

    @server.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in server.getTransceivers() if t.receiver.track is track)
        aiortc_hooks.tap_encoded_frames(receiver, lambda c, f, k=track.kind: forward(k, c, f))

    decoded: dict[str, list[Any]] = {"video": [], "audio": []}

    @viewer.on("track")
    def on_view(track: Any) -> None:
        async def read() -> None:
            while True:
                try:
                    decoded[track.kind].append(await track.recv())
                except MediaStreamError:
                    return

        asyncio.ensure_future(read())

    parked = {k: aiortc_hooks.ParkedTrack(k, track_id=f"pub:{k}") for k in streams}
    senders = {k: relay.addTransceiver(t, direction="sendonly").sender for k, t in parked.items()}
    started: list[str] = []
    requests: list[str] = []
    for kind, sender in senders.items():

        def on_start(parameters: Any, kind: str = kind, sender: Any = sender) -> None:
            started.append(kind)
            streams[kind].open(aiortc_hooks.RtpOutlet(sender), parameters)
            streams[kind].attach(source, None)
            streams[kind].arm()

        aiortc_hooks.on_sender_start(sender, on_start)
        aiortc_hooks.on_nack(sender, streams[kind].retransmit)
    aiortc_hooks.observe_keyframe_requests(senders["video"], lambda: requests.append("pli/fir"))
    try:
        for offerer, answerer in ((publisher, server), (relay, viewer)):
            await offerer.setLocalDescription(await offerer.createOffer())
            await answerer.setRemoteDescription(offerer.localDescription)
            await answerer.setLocalDescription(await answerer.createAnswer())
            await offerer.setRemoteDescription(
                RTCSessionDescription(answerer.localDescription.sdp, answerer.localDescription.type)
            )
        assert "pub:video" in relay.localDescription.sdp  # a=msid carries the parked track's id
        await until(lambda: sorted(started) == ["audio", "video"], "aiortc starts both senders (on_sender_start)")
        # The viewer needs a keyframe: the publisher's first one may pass before the sender started.
        receivers = {t.kind: t.receiver for t in server.getTransceivers()}
        await until(lambda: aiortc_hooks.request_keyframe(receivers["video"]), "PLI to the publisher")
        await until(lambda: len(decoded["video"]) >= 10 and len(decoded["audio"]) >= 10, "viewer decodes")
        assert (decoded["video"][0].width, decoded["video"][0].height) == (160, 120)
        assert {"Vp8Encoder", "OpusEncoder"} <= set(packed)
        assert started.count("video") == 1
        outlet = streams["video"].outlet
        assert outlet is not None and outlet.gso, "UDP GSO send was refused (RtpOutlet.send_many fell back)"

        # RTCP: the counters RtpOutlet keeps are the ones aiortc's sender reports (getStats, SR).
        stats = [s for s in (await senders["video"].getStats()).values() if s.type == "outbound-rtp"]
        assert stats[0].packetsSent >= streams["video"].packets > 0
        viewer_rx = next(t.receiver for t in viewer.getTransceivers() if t.kind == "video")
        for _ in range(100):
            report = await viewer_rx.getStats()
            if any(s.type == "remote-outbound-rtp" and s.packetsSent > 0 for s in report.values()):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no RTCP sender report with packets reached the viewer")

        # PLI and FIR from the viewer land in the hook; NACK resends from the stream's history.
        assert aiortc_hooks.request_keyframe(viewer_rx)
        await until(lambda: requests, f"PLI reaches RTCRtpSender.{aiortc_hooks._TX_KEYFRAME}")
        ssrc, rtx_ssrc = aiortc_hooks.sender_ssrcs(senders["video"])
        assert (outlet.ssrc, outlet.rtx_ssrc) == (ssrc, rtx_ssrc) and streams["video"].ssrc == ssrc
        assert f"a=ssrc-group:FID {ssrc} {rtx_ssrc}" in relay.localDescription.sdp  # what the viewer expects
        fir = RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=1, media_ssrc=ssrc)
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc)
        before = len(requests)
        await aiortc_hooks.receive_rtcp(senders["video"], fir)
        await aiortc_hooks.receive_rtcp(senders["video"], pli)
        assert len(requests) == before + 2
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc)
        nack.lost.append((streams["video"].seq - 1) & 0xFFFF)
        resent = streams["video"].retransmitted
        await aiortc_hooks.receive_rtcp(senders["video"], nack)
        assert streams["video"].retransmitted == resent + 1, f"NACK no longer reaches {aiortc_hooks._TX_RETRANSMIT}"
        assert parked["video"].readyState == "live"  # aiortc's sender loop is still parked on it
    finally:
        for pc in (publisher, server, relay, viewer):
            await pc.close()
    assert parked["video"].readyState == "ended"  # closing the sender ended its parked loop


def test_srtp_protector_matches_pylibsrtp() -> None:
    key = bytes(range(30))

    def session() -> Session:
        policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        return Session(policy)

    reference, ours = session(), session()
    protect = aiortc_hooks.srtp_protector(ours)
    for seq in range(3):
        packet = bytes([0x80, 97, 0, seq]) + b"\x00\x00\x10\x00" + b"\x12\x34\x56\x78" + bytes(range(200))
        assert protect(packet) == reference.protect(packet)
    with pytest.raises(ValueError, match="too long"):
        protect(b"\x80" * 1400)


async def test_parked_track_never_yields_until_stopped() -> None:
    track = aiortc_hooks.ParkedTrack("video", track_id="x:camera")
    assert track.id == "x:camera"
    waiting = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiting


def test_keyframe_detection_and_h264_pack_path() -> None:
    assert aiortc_hooks.is_keyframe(VP8, b"\x10\x02\x00\x9d\x01\x2a")  # P bit clear
    assert not aiortc_hooks.is_keyframe(VP8, b"\x11\x02\x00")
    assert not aiortc_hooks.is_keyframe(VP8, b"")
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 64, 48, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.options = {"tune": "zerolatency", "preset": "ultrafast"}
    packets = []
    for i in range(3):
        frame = av.VideoFrame(64, 48, "yuv420p")
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    first = packets[0]
    assert aiortc_hooks.is_keyframe(H264, bytes(first))
    assert not aiortc_hooks.is_keyframe(H264, bytes(packets[1]))
    payloads, timestamp = h264.H264Encoder().pack(first)
    assert payloads and timestamp == 0
    rebuilt = b"".join(depayload(H264, p) for p in payloads)
    assert aiortc_hooks.is_keyframe(H264, rebuilt)


def test_process_wide_patches_are_scoped_stack_and_undo_in_any_order() -> None:
    """Consent timing and host addresses: the newest patch still applied is in force; undoing the last restores aioice."""
    stock = (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, aioice.ice.Connection.query_consent)
    lookup = aioice.ice.get_host_addresses
    assert aiortc_hooks.active_patches() == []
    with aiortc_hooks.set_consent_timing(1.5, 3):
        assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (1.5, 3)
        assert aioice.ice.Connection.query_consent is stock[2]  # no retransmissions: aioice's own checks
        first = aiortc_hooks.set_consent_timing(2.5, 4, retransmissions=2)
        second = aiortc_hooks.set_consent_timing(0.7, 9, retransmissions=1)
        assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (0.7, 9)
        assert aioice.ice.Connection.query_consent is not stock[2]
        first.undo()  # not the newest: the newest stays in force
        assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (0.7, 9)
        second.undo()
        second.undo()  # idempotent
        assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (1.5, 3)
        assert aioice.ice.Connection.query_consent is stock[2]
        with aiortc_hooks.restrict_host_addresses(["192.0.2.7"]) as patch:
            assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["192.0.2.7"]
            assert patch in aiortc_hooks.active_patches() and __file__ in patch.where
        assert aioice.ice.get_host_addresses is lookup
    assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, aioice.ice.Connection.query_consent) == stock
    assert aiortc_hooks.active_patches() == []


async def test_a_media_server_applies_its_ice_settings_from_its_first_room_until_closed() -> None:
    stock = (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, aioice.ice.Connection.query_consent)
    media = LocalMediaServer(MediaConfig(consent_interval=0.9, consent_failures=7, host_addresses=["192.0.2.8"]))
    assert aiortc_hooks.active_patches() == []  # nothing changes for a server that holds no room
    try:
        await media.open_room("r", RoomKind.CONSULTATION)
        assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES) == (0.9, 7)
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["192.0.2.8"]
        await media.open_room("r2", RoomKind.DEFENSE)
        assert len(aiortc_hooks.active_patches()) == 2
    finally:
        await media.close()
    assert aiortc_hooks.active_patches() == []
    assert (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, aioice.ice.Connection.query_consent) == stock


async def _connected_pair() -> tuple[RTCPeerConnection, RTCPeerConnection]:
    a, b = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    a.createDataChannel("x")
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await until(lambda: a.connectionState == b.connectionState == "connected", "ICE + DTLS up")
    return a, b


def _delay_stun(pc: RTCPeerConnection, seconds: float | None) -> None:
    """Hold every STUN datagram ``pc`` receives for ``seconds`` (None: drop them): a slow or gone peer."""
    loop = asyncio.get_running_loop()
    for protocol in aiortc_hooks.ice_protocols(pc):
        original = protocol.datagram_received

        def received(data: bytes, addr: Any, original: Any = original) -> None:
            if data and data[0] < 4:  # STUN (RFC 7983)
                if seconds is not None:
                    loop.call_later(seconds, original, data, addr)
                return
            original(data, addr)

        protocol.datagram_received = received


@pytest.mark.usefixtures("loopback_ice")
@pytest.mark.parametrize("retransmissions", [0, 2])
async def test_consent_survives_late_replies_only_with_retransmitted_checks(retransmissions: int) -> None:
    """Replies 1.2 s late: aioice's own checks (one try, 0.5 s) call that a lost peer; ours wait for them.

    A peer that stops answering altogether is still dropped with retransmitted checks.
    """
    with aiortc_hooks.set_consent_timing(0.3, 2, retransmissions):
        await _consent_with_late_replies(retransmissions)


async def _consent_with_late_replies(retransmissions: int) -> None:
    a, b = await _connected_pair()
    try:
        _delay_stun(a, 1.2)
        if retransmissions == 0:
            await until(lambda: a.connectionState in ("failed", "closed"), "consent lost on late replies", 20)
            return
        # several check rounds (each waits for its late reply) pass without a loss
        for _ in range(4):
            await asyncio.sleep(1.5)
            assert a.connectionState == "connected"
        _delay_stun(a, None)  # now no reply at all: 2 checks of 0.5 + 1 + 2 s each
        await until(lambda: a.connectionState in ("failed", "closed"), "consent lost on silence", 30)
    finally:
        await a.close()
        await b.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_tap_can_shrink_the_video_jitter_buffer() -> None:
    publisher, server = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    publisher.addTransceiver(SmallVideoTrack(), direction="sendonly")
    frames: list[Any] = []
    receivers: list[Any] = []

    @server.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in server.getTransceivers() if t.receiver.track is track)
        receivers.append(receiver)
        aiortc_hooks.tap_encoded_frames(receiver, lambda c, f: frames.append(f), video_jitter_packets=128)

    try:
        await publisher.setLocalDescription(await publisher.createOffer())
        await server.setRemoteDescription(publisher.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        await publisher.setRemoteDescription(server.localDescription)
        assert aiortc_hooks.video_jitter_capacity(receivers[0]) == 128, "the jitter buffer was not replaced"
        await until(lambda: len(frames) >= 10, "frames through the smaller jitter buffer")
    finally:
        await publisher.close()
        await server.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_receive_buffers_of_gathered_sockets_can_be_enlarged() -> None:
    pc = RTCPeerConnection(NO_ICE_SERVERS)
    pc.addTransceiver("video", direction="recvonly")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        assert aiortc_hooks.enlarge_receive_buffers(pc, 1 << 20) >= 1, "aioice's gathered sockets moved"
        sock = aiortc_hooks.ice_protocols(pc)[0].transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20  # Linux doubles it
    finally:
        await pc.close()


def _big_vp8_keyframe() -> bytes:
    """A real VP8 keyframe of noise, ~120 kB: about 95 RTP packets, more than one UDP GSO send may hold."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 400, 300, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.bit_rate = 20_000_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "qmin": "4", "qmax": "10"}
    image = numpy.random.default_rng(7).integers(0, 255, (300, 400, 3), dtype=numpy.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    frame.pts = 0
    packets = encoder.encode(frame) + encoder.encode(None)
    assert packets[0].is_keyframe
    return bytes(packets[0])


@pytest.mark.usefixtures("loopback_ice")
async def test_a_keyframe_bigger_than_one_gso_send_reaches_an_aiortc_viewer_whole_and_gso_stays_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One GSO send is one datagram (<= 65,507 B): a keyframe of ~95 packets of ~1,300 B goes as several."""
    keyframe = _big_vp8_keyframe()
    relay, viewer = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    stream = ForwardedStream("video")
    packer: list[Packetizer] = []
    sender = relay.addTransceiver(aiortc_hooks.ParkedTrack("video"), direction="sendonly").sender

    def on_start(parameters: Any) -> None:
        stream.open(aiortc_hooks.RtpOutlet(sender), parameters)
        stream.attach(object(), None)
        stream.arm()
        packer.append(Packetizer(parameters.codecs[0]))

    aiortc_hooks.on_sender_start(sender, on_start)
    aiortc_hooks.observe_keyframe_requests(sender, lambda: None)
    received: list[bytes] = []

    @viewer.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in viewer.getTransceivers() if t.receiver.track is track)
        aiortc_hooks.tap_encoded_frames(receiver, lambda codec, frame: received.append(frame.data))

    caplog.set_level(logging.WARNING, logger="media.live")
    try:
        await relay.setLocalDescription(await relay.createOffer())
        await viewer.setRemoteDescription(relay.localDescription)
        await viewer.setLocalDescription(await viewer.createAnswer())
        aiortc_hooks.enlarge_receive_buffers(viewer, 4 << 20)  # ~95 packets at once on loopback
        await relay.setRemoteDescription(viewer.localDescription)
        await until(lambda: packer and stream.outlet is not None and stream.outlet.connected, "relay sender started")
        outlet = stream.outlet
        assert outlet is not None and outlet.gso
        for timestamp in range(3000, 3000 * 50, 3000):  # again until one arrives (the viewer may start late)
            frame = packer[0].pack(JitterFrame(keyframe, timestamp), keyframe=True)
            assert len(frame.payloads) >= 80 and frame.octets > 65_507
            stream.send(frame, time.time(), b"\0\0\0")
            await asyncio.sleep(0.1)
            if keyframe in received:
                break
        assert keyframe in received, f"the viewer got {len(received)} frames, none the keyframe whole"
        assert outlet.gso, "UDP GSO was switched off"
        assert [r.getMessage() for r in caplog.records] == []
        decoded = av.CodecContext.create("vp8", "r").decode(av.Packet(keyframe))
        assert (decoded[0].width, decoded[0].height) == (400, 300)
    finally:
        await relay.close()
        await viewer.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_audio_levels_are_read_from_the_rtp_header_extension_and_the_observer_comes_off() -> None:
    """observe_audio_levels: RFC 6464 levels aiortc's sender writes (silence: 127 -dBov), nothing decoded."""
    frames: dict[str, list[Any]] = {"video": [], "audio": []}
    publisher, server, taps = await _pair(("audio",), frames)
    levels: list[tuple[int, bool]] = []
    later: list[tuple[int, bool]] = []
    try:
        await until(lambda: "audio_receiver" in taps, "the audio receiver")
        undo = aiortc_hooks.observe_audio_levels(taps["audio_receiver"], lambda lvl, v: levels.append((lvl, v)))
        second = aiortc_hooks.observe_audio_levels(taps["audio_receiver"], lambda lvl, v: later.append((lvl, v)))
        await until(lambda: len(levels) >= 20 and len(later) >= 20, "audio levels")
        assert set(levels) == {(127, False)}  # AudioStreamTrack sends silence
        assert len(frames["audio"]) >= 10  # the tap still gets every frame through the wrapper
        undo()  # not the outermost observer: it goes inert, the other keeps working
        seen, seen_later = len(levels), len(later)
        await until(lambda: len(later) >= seen_later + 10, "the other observer still called")
        assert len(levels) == seen
        second()
        seen_later = len(later)
        count = len(frames["audio"])
        await until(lambda: len(frames["audio"]) >= count + 10, "frames keep coming")
        assert len(later) == seen_later
    finally:
        await publisher.close()
        await server.close()
