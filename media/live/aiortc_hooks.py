"""Every hook into aiortc's internals that passthrough forwarding needs, in one place.

Usage::

    tap = tap_encoded_frames(receiver, on_frame)       # in the pc's "track" handler
    pc.addTransceiver(ParkedTrack("video"), "sendonly") # aiortc's sender loop parks on it
    on_sender_start(sender, lambda params: ...)         # DTLS up: RtpOutlet(sender) can write
    observe_keyframe_requests(sender, on_pli)           # subscriber asked for a keyframe
    on_nack(sender, resend)                             # subscriber lost a packet
    request_keyframe(receiver)                          # send PLI to the publisher
    undo = observe_audio_levels(receiver, on_level)     # RFC 6464 levels of received audio (a recorder)
    with set_consent_timing(2.0, 3, 2), restrict_host_addresses(["10.0.0.5"]):
        ...                                             # process-wide aioice settings, undone on exit

aiortc decodes every received frame on a thread and encodes every sent frame;
an SFU must do neither, and it must not run aiortc's per-frame send loop once
per subscriber either. aiortc 1.16.0 gives us these seams:

* receive side: ``RTCRtpReceiver._handle_rtp_packet`` depacketizes RTP into a
  ``JitterFrame`` (the whole encoded frame) and puts ``(codec, frame)`` on the
  private queue ``_RTCRtpReceiver__decoder_queue``, which the decoder thread
  started by ``receive()`` reads. We swap that queue for a :class:`FrameTap`
  before ``receive()`` runs: frames go to our callback on the event loop and the
  decoder thread idles until the receiver stops, so nothing is decoded.
* packetizing: a codec's ``pack(av.Packet)`` (``packer_for``) turns an encoded
  frame into RTP payloads (VP8 descriptor with its own picture id, H.264
  FU-A/STAP-A, Opus as is). The SFU calls it once per frame per published track.
* send side: each subscriber's ``RTCRtpSender`` is started by aiortc as usual
  (SDP, SSRC, RTCP sender reports, PLI/FIR/NACK routing) but its track is a
  :class:`ParkedTrack`, so its RTP loop waits forever; :class:`RtpOutlet` writes
  the SFU's packets into that sender's SRTP session and ICE socket
  synchronously and keeps the counters RTCP SR and ``getStats()`` read.

Keyframe requests: PLI/FIR from a subscriber end in ``RTCRtpSender._send_keyframe()``
which we replace per sender instance; PLI to a publisher goes out through
``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``. NACKs end in
``RTCRtpSender._retransmit(seq)``, also replaced per instance.

aiortc is pinned to ``==1.16.0``. :func:`check_internals` lists whatever moved;
:func:`require_internals` refuses to go on when anything did (the media server calls it before
it starts) and tests/media/live/test_aiortc_hooks.py drives each hook on real peers. No other
module of the repository names a private attribute of aiortc, aioice or pylibsrtp
(tests/media/live/test_private_names.py): what they need is a guarded function here.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import logging
import random
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aioice.ice
import aioice.stun
import aiortc
import av
import pylibsrtp
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_encoder, h264, opus, vpx
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as _DtlsState
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpSendParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from pylibsrtp import _binding as _srtp_binding

log = logging.getLogger(__name__)

PINNED_AIORTC = "1.16.0"

_RX_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RX_STARTED = "_RTCRtpReceiver__started"
_RX_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
_RX_JITTER = "_RTCRtpReceiver__jitter_buffer"
_RX_SEND_PLI = "_send_rtcp_pli"
_RX_HANDLE_RTP = "_handle_rtp_packet"
_TX_KEYFRAME = "_send_keyframe"
_TX_RETRANSMIT = "_retransmit"
_TX_STARTED = "_RTCRtpSender__started"
_TX_COUNTERS = ("packet_count", "octet_count", "rtp_timestamp", "ntp_timestamp")

_SOL_UDP = 17
_UDP_SEGMENT = 103  # linux/udp.h: send one buffer as several datagrams of this size (GSO)
_GSO_MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS
_GSO_MAX_BYTES = 65_507  # a GSO send is ONE datagram to the kernel: 65,535 - 20 (IPv4) - 8 (UDP)

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
    if "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" not in inspect.getsource(
        RTCDtlsTransport._handle_rtp_data
    ):
        problems.append(f"RTCDtlsTransport._handle_rtp_data no longer calls receiver.{_RX_HANDLE_RTP}")
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
    problems += _check_send_path()
    for cls in (vpx.Vp8Encoder, h264.H264Encoder, opus.OpusEncoder):
        if "pack" not in cls.__dict__:
            problems.append(f"aiortc.codecs {cls.__name__}.pack(packet) is gone")
    if "self.picture_id" not in inspect.getsource(vpx.Vp8Encoder.pack):
        problems.append("aiortc.codecs Vp8Encoder.pack no longer numbers frames with self.picture_id")
    for name in ("CONSENT_INTERVAL", "CONSENT_FAILURES"):
        if not isinstance(getattr(aioice.ice, name, None), int | float):
            problems.append(f"aioice.ice.{name} is gone (ICE consent timing)")
    consent_src = inspect.getsource(_STOCK_QUERY_CONSENT)
    for needle in ("self._nominated.values()", "self.build_request(pair, nominate=False)",
                   "retransmissions=0", "self._query_consent_task = None", "await self.close()"):  # fmt: skip
        if needle not in consent_src:
            problems.append(f"aioice Connection.query_consent changed ({needle!r} is gone): review _query_consent")
    if "self._query_consent_task = asyncio.create_task(self.query_consent())" not in inspect.getsource(
        aioice.ice.Connection.connect
    ):
        problems.append("aioice Connection.connect no longer starts self.query_consent() (consent hook)")
    if not callable(getattr(aioice.ice, "get_host_addresses", None)) or "get_host_addresses(" not in (
        inspect.getsource(aioice.ice.Connection.gather_candidates)
    ):
        problems.append("aioice.ice.Connection.gather_candidates no longer calls get_host_addresses()")
    if "self._protocols" not in inspect.getsource(aioice.ice.Connection.__init__):
        problems.append("aioice.ice.Connection._protocols (gathered UDP sockets) is gone")
    if "self._connection = gatherer._connection" not in inspect.getsource(RTCIceTransport.__init__):
        problems.append("RTCIceTransport._connection (the aioice Connection) is gone")
    if "self._codecs: list[RTCRtpCodecParameters] = []" not in inspect.getsource(RTCRtpTransceiver.__init__):
        problems.append("RTCRtpTransceiver._codecs (the negotiated codecs) is gone")
    if not {"data", "timestamp"} <= set(inspect.signature(JitterFrame.__init__).parameters):
        problems.append("aiortc.jitterbuffer.JitterFrame no longer has data/timestamp")
    return problems


def _check_send_path() -> list[str]:
    """The sender/transport internals ParkedTrack, on_sender_start, on_nack and RtpOutlet rely on."""
    problems: list[str] = []
    connect_src = inspect.getsource(RTCPeerConnection._RTCPeerConnection__connect)
    if "await transceiver.sender.send(self.__localRtp(transceiver))" not in connect_src:
        problems.append("RTCPeerConnection.__connect no longer starts senders with sender.send(parameters)")
    tx_init = inspect.getsource(RTCRtpSender.__init__)
    for name in ("_ssrc", "_rtx_ssrc"):
        if f"self.{name} = random32()" not in tx_init:
            problems.append(f"RTCRtpSender.__init__ no longer draws its SSRC into {name} (RtpOutlet.ssrc)")
    for name in ("started", *_TX_COUNTERS):
        if f"self.__{name} = " not in tx_init:
            problems.append(f"RTCRtpSender.__init__ no longer sets _RTCRtpSender__{name}")
    rtcp_src = inspect.getsource(RTCRtpSender._run_rtcp)
    for name in _TX_COUNTERS[:3]:
        if f"{name}=self.__{name}" not in rtcp_src:
            problems.append(f"RTCRtpSender._run_rtcp no longer reports _RTCRtpSender__{name} in its SR")
    if "ntp_timestamp=self.__ntp_timestamp" not in rtcp_src:
        problems.append("RTCRtpSender._run_rtcp no longer reports _RTCRtpSender__ntp_timestamp in its SR")
    if "await self._retransmit(seq)" not in inspect.getsource(RTCRtpSender._handle_rtcp_packet):
        problems.append(f"RTCRtpSender._handle_rtcp_packet no longer calls {_TX_RETRANSMIT}(seq) on NACK")
    if "await self.__track.recv()" not in inspect.getsource(RTCRtpSender._next_encoded_frame):
        problems.append("RTCRtpSender._next_encoded_frame no longer awaits track.recv() (ParkedTrack)")
    send_src = inspect.getsource(RTCDtlsTransport._send_rtp)
    if "self._tx_srtp.protect(data)" not in send_src or "await self.transport._send(data)" not in send_src:
        problems.append("RTCDtlsTransport._send_rtp no longer protects with _tx_srtp and sends on transport._send")
    if "self._state != State.CONNECTED" not in send_src:
        problems.append("RTCDtlsTransport._send_rtp no longer checks State.CONNECTED")
    dtls_init = inspect.getsource(RTCDtlsTransport.__init__)
    if "self.__tx_bytes = 0" not in dtls_init or "self.__tx_packets = 0" not in dtls_init:
        problems.append("RTCDtlsTransport.__init__ no longer counts __tx_bytes/__tx_packets")
    if "self._send = self._connection.send" not in inspect.getsource(RTCIceTransport.__init__):
        problems.append("RTCIceTransport._send is no longer aioice Connection.send")
    sendto_src = inspect.getsource(aioice.ice.Connection.sendto)
    if "self._nominated.get(component)" not in sendto_src or (
        "active_pair.protocol.send_data(data, active_pair.remote_addr)" not in sendto_src
    ):
        problems.append("aioice Connection.sendto no longer sends on _nominated[component].protocol")
    if "self.receiver.data_received(data, self.local_candidate.component)" not in inspect.getsource(
        aioice.ice.StunProtocol.datagram_received
    ):
        problems.append("aioice StunProtocol.datagram_received no longer hands non-STUN data to the connection")
    if "data = self._rx_srtp.unprotect(data)" not in inspect.getsource(RTCDtlsTransport._recv_next):
        problems.append("RTCDtlsTransport._recv_next no longer unprotects RTP with _rx_srtp (srtp_unprotector)")
    if "self._srtp = ffi.gc(" not in inspect.getsource(pylibsrtp.Session.__init__) or not hasattr(
        _srtp_binding.lib, "srtp_protect"
    ):
        problems.append("pylibsrtp.Session no longer keeps its libsrtp context in _srtp (srtp_protector)")
    if "self.transport.sendto(data, addr)" not in inspect.getsource(aioice.ice.StunProtocol.send_data):
        problems.append("aioice StunProtocol.send_data no longer calls transport.sendto(data, addr)")
    return problems


_internals_checked = False


def require_internals() -> None:
    """Raise :class:`AiortcHookError` naming everything :func:`check_internals` finds moved (once a process).

    The media server calls this before it starts: a hook that silently stops working would
    decode every frame, stop forwarding or drop peers, so it refuses to run instead.
    """
    global _internals_checked
    if _internals_checked:
        return
    problems = check_internals()
    if problems:
        raise AiortcHookError(
            "the aiortc/aioice/pylibsrtp internals the media server hooks into moved; refusing to start:\n  "
            + "\n  ".join(problems)
            + "\ninstall the pinned versions (pyproject.toml) or update media/live/aiortc_hooks.py"
        )
    _internals_checked = True


def _require(obj: object, attr: str) -> Any:
    if not hasattr(obj, attr):
        owner = getattr(obj, "__name__", type(obj).__name__)
        raise AiortcHookError(
            f"aiortc internal {owner}.{attr} is missing (hooks written for aiortc "
            f"{PINNED_AIORTC}, found {aiortc.__version__}); see media/live/aiortc_hooks.py"
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


def observe_audio_levels(receiver: RTCRtpReceiver, callback: Callable[[int, bool], None]) -> Callable[[], None]:
    """Call ``callback(level, voice)`` for each RTP packet reaching ``receiver`` with an audio level (RFC 6464).

    ``level`` is -dBov (0 loudest, 127 silence), ``voice`` the V bit. Read from the header
    extension aiortc already parses; nothing is decoded. Wraps ``_handle_rtp_packet`` on this
    receiver instance; returns a function that takes the observer off again.
    """
    original = _require(receiver, _RX_HANDLE_RTP)
    active = [True]

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level
        if level is not None and active[0]:
            try:
                callback(level[1], level[0])
            except Exception:
                log.exception("an audio level observer failed")
        await original(packet, arrival_time_ms=arrival_time_ms)

    setattr(receiver, _RX_HANDLE_RTP, handle)

    def undo() -> None:
        active[0] = False
        if receiver.__dict__.get(_RX_HANDLE_RTP) is handle:  # on top: unwrap; else it stays, inert
            setattr(receiver, _RX_HANDLE_RTP, original)

    return undo


def observe_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the subscriber behind ``sender`` sends PLI or FIR.

    The sender's own handling (forcing its encoder) is useless for a forwarded
    track, so it is replaced rather than wrapped.
    """
    _require(sender, _TX_KEYFRAME)
    setattr(sender, _TX_KEYFRAME, callback)


# --- process-wide aioice settings, scoped ------------------------------------------------------


class HookPatch:
    """One application of a process-wide aioice setting; ``undo()`` or leaving its ``with`` block takes it back.

    Usage::

        with restrict_host_addresses(["127.0.0.1"]):        # a test, a bench
            ...
        patch = set_consent_timing(2.0, 3, 2)               # a media server, for its life
        patch.undo()                                        # idempotent

    Patches of one kind stack: the newest one still applied is in force, undoing any of them
    puts the newest remaining one back, and undoing the last restores what aioice had before
    the first. ``where`` is the caller that applied it (for :func:`active_patches`).
    """

    def __init__(self, kind: _Setting, value: Any, where: str) -> None:
        self.kind = kind
        self.value = value
        self.where = where

    def undo(self) -> None:
        self.kind.remove(self)

    def __enter__(self) -> HookPatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.undo()

    def __repr__(self) -> str:
        return f"<{self.kind.name} {self.value!r} applied at {self.where}>"


class _Setting:
    """One process-wide aioice setting: how to read it, how to put a value in force."""

    def __init__(self, name: str, read: Callable[[], Any], write: Callable[[Any], None]) -> None:
        self.name = name
        self._read = read
        self._write = write
        self._before: Any = None
        self.patches: list[HookPatch] = []

    def push(self, value: Any) -> HookPatch:
        caller = traceback.extract_stack(limit=3)[0]
        patch = HookPatch(self, value, f"{caller.filename}:{caller.lineno}")
        if not self.patches:
            self._before = self._read()
        self.patches.append(patch)
        self._write(value)
        return patch

    def remove(self, patch: HookPatch) -> None:
        if patch not in self.patches:
            return
        self.patches.remove(patch)
        self._write(self.patches[-1].value if self.patches else self._before)


_STOCK_QUERY_CONSENT = aioice.ice.Connection.query_consent
_consent_retransmissions = 0


def _read_consent() -> tuple[float, int, int, Any]:
    connection = aioice.ice.Connection
    return (aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, _consent_retransmissions,
            connection.__dict__["query_consent"])  # fmt: skip


def _write_consent(value: tuple[float, int, int, Any]) -> None:
    global _consent_retransmissions
    aioice.ice.CONSENT_INTERVAL, aioice.ice.CONSENT_FAILURES, _consent_retransmissions, query = value
    aioice.ice.Connection.query_consent = query  # type: ignore[method-assign]


_CONSENT = _Setting("ICE consent timing", _read_consent, _write_consent)
_HOST_ADDRESSES = _Setting(
    "ICE host addresses",
    lambda: aioice.ice.get_host_addresses,
    lambda lookup: setattr(aioice.ice, "get_host_addresses", lookup),
)


def active_patches() -> list[HookPatch]:
    """The process-wide patches in force now (tests check that none outlives its owner)."""
    return [*_CONSENT.patches, *_HOST_ADDRESSES.patches]


def set_consent_timing(interval: float, failures: int, retransmissions: int = 0) -> HookPatch:
    """Check ICE consent (RFC 7675) every ``interval`` s, lost after ``failures`` misses, until undone.

    Process-wide: aioice reads module globals. aioice sends each check once and counts a
    reply later than 0.5 s as a miss, so a loaded host (or a far peer on a bad link) loses
    consent although every reply arrives. With ``retransmissions`` > 0 each check is a
    normal STUN transaction (sent again after 0.5, 1, 2 ... s, any reply to any copy
    counts): a check then tolerates 3.5 s of delay with 2 retransmissions, and a vanished
    peer is still detected after ``failures`` checks.
    """
    _require(aioice.ice, "CONSENT_INTERVAL")
    _require(aioice.ice, "CONSENT_FAILURES")
    query = _query_consent if retransmissions else _STOCK_QUERY_CONSENT
    return _CONSENT.push((interval, failures, retransmissions, query))


async def _query_consent(self: aioice.ice.Connection) -> None:
    """aioice's ``Connection.query_consent`` with retransmitted checks (see set_consent_timing)."""
    assert self.remote_password is not None
    key = self.remote_password.encode("utf8")
    failures = 0
    while True:
        await asyncio.sleep(aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
        for pair in self._nominated.values():
            request = self.build_request(pair, nominate=False)
            try:
                await pair.protocol.request(
                    request, pair.remote_addr, integrity_key=key, retransmissions=_consent_retransmissions
                )
                failures = 0
            except aioice.stun.TransactionError:
                failures += 1
            if failures >= aioice.ice.CONSENT_FAILURES:
                log.info("ICE consent to send expired after %d checks without a reply", failures)
                self._query_consent_task = None
                await self.close()
                return


def restrict_host_addresses(addresses: list[str]) -> HookPatch:
    """Gather ICE host candidates only from ``addresses`` until undone (process-wide, like aioice's own lookup).

    For multi-homed media hosts (advertise the public interface only) and for tests
    on loopback, which aioice otherwise skips.
    """
    _require(aioice.ice, "get_host_addresses")
    chosen = list(addresses)
    return _HOST_ADDRESSES.push(lambda use_ipv4, use_ipv6: list(chosen))


# --- what else tests, benches and the server reach through aiortc's objects --------------------


def ice_protocols(pc: RTCPeerConnection) -> list[Any]:
    """The datagram protocols of ``pc``'s ICE connections (one per gathered socket or TURN relay), each once.

    Each has ``transport`` (its asyncio transport; None once closed) and ``datagram_received``.
    Call after setLocalDescription (gathering done).
    """
    dtls_transports = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        dtls_transports.append(pc.sctp.transport)
    seen: set[int] = set()
    protocols: list[Any] = []
    for dtls in dtls_transports:
        for protocol in list(_require(_require(dtls.transport, "_connection"), "_protocols")):
            if id(protocol) not in seen:
                seen.add(id(protocol))
                protocols.append(protocol)
    return protocols


def srtp_unprotector(dtls: RTCDtlsTransport) -> Callable[[bytes], bytes]:
    """Decrypt one SRTP packet with the receive keys of ``dtls`` (looked up per call: they exist once DTLS is up)."""
    _require(dtls, "_rx_srtp")

    def unprotect(data: bytes) -> bytes:
        session = dtls._rx_srtp
        if session is None:
            raise AiortcHookError("no SRTP receive keys yet: the DTLS handshake has not finished")
        return session.unprotect(data)

    return unprotect


def negotiated_codec(transceiver: Any) -> RTCRtpCodecParameters | None:
    """The codec a transceiver's m-line carries (the first negotiated one), None before negotiation."""
    codecs = _require(transceiver, "_codecs")
    return codecs[0] if codecs else None


def video_jitter_capacity(receiver: RTCRtpReceiver) -> int:
    """How many packets a receiver's jitter buffer holds (see ``tap_encoded_frames``)."""
    return int(_require(receiver, _RX_JITTER).capacity)


async def receive_rtcp(sender: RTCRtpSender, packet: Any) -> None:
    """Handle an RTCP packet at ``sender`` as if its subscriber had sent it (tests drive PLI/FIR/NACK with it)."""
    await _require(sender, "_handle_rtcp_packet")(packet)


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """The SSRCs ``sender`` writes its media and its retransmissions (RTX) with."""
    return int(_require(sender, "_ssrc")), int(_require(sender, "_rtx_ssrc"))


def enlarge_receive_buffers(pc: Any, size: int) -> int:
    """Set SO_RCVBUF on every UDP socket ICE gathered for ``pc``; returns how many were set.

    A media worker that stalls for a few hundred ms (GC, a busy core) must not
    lose a publisher's burst in a 208 KiB default buffer: every lost packet that
    NACK does not recover freezes that video in aiortc's jitter buffer. Linux caps
    the value at net.core.rmem_max. Call after setLocalDescription (gathering done).
    """
    done = 0
    for protocol in ice_protocols(pc):
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
    """Wrap an encoded frame as the ``av.Packet`` a codec's ``pack`` expects (pts in the codec's clock)."""
    packet = av.Packet(frame.data)
    packet.pts = frame.timestamp
    packet.time_base = fractions.Fraction(1, codec.clockRate)
    return packet


def packer_for(codec: RTCRtpCodecParameters) -> Any:
    """aiortc's encoder for ``codec``, used only for its ``pack(packet)`` (RTP payloads; VP8: ``picture_id``).

    Building it opens no codec context for VP8/H.264 (that happens on the first
    ``encode``); Opus opens a small libopus encoder once, never used.
    """
    return get_encoder(codec)


class ParkedTrack(MediaStreamTrack):
    """A track that never yields a frame: it parks aiortc's sender loop while the SFU writes RTP itself.

    ``RTCRtpSender._run_rtp`` awaits ``track.recv()`` once and stays there (no polling,
    no per-frame task wakeup). ``track_id`` becomes the m-line's ``a=msid`` track id.
    """

    def __init__(self, kind: str, track_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        if track_id is not None:
            self._id = track_id
        self._ended: asyncio.Future[None] | None = None

    async def recv(self) -> av.Packet:
        if self.readyState == "live":
            self._ended = asyncio.get_running_loop().create_future()
            await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)


def on_sender_start(sender: RTCRtpSender, callback: Callable[[RTCRtpSendParameters], None]) -> None:
    """Call ``callback(parameters)`` once aiortc has started ``sender`` (DTLS is up, the answer applied).

    ``RTCPeerConnection`` calls ``sender.send(parameters)`` from its connect task
    with the negotiated codecs, header extension ids and mid; we wrap that
    call on this one sender instance.
    """
    original = _require(sender, "send")

    async def send(parameters: RTCRtpSendParameters) -> None:
        started = bool(_require(sender, _TX_STARTED))
        await original(parameters)
        if not started:
            callback(parameters)

    sender.send = send


def on_nack(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Call ``callback(sequence_number)`` for every packet the subscriber behind ``sender`` NACKs.

    Replaces ``RTCRtpSender._retransmit``, whose history is empty when the
    SFU writes RTP itself; the callback resends from the SFU's own history.
    """
    _require(sender, _TX_RETRANSMIT)

    async def retransmit(sequence_number: int) -> None:
        callback(sequence_number)

    setattr(sender, _TX_RETRANSMIT, retransmit)


def _send_via_coroutine(protocol: Any) -> Callable[[bytes, Any], None]:
    # TURN relays may wait for a channel binding; order holds because tasks start FIFO.
    def send(data: bytes, addr: Any) -> None:
        asyncio.ensure_future(protocol.send_data(data, addr))

    return send


class RtpOutlet:
    """Writes RTP packets straight into a started sender's DTLS transport: SRTP protect, then UDP send.

    Usage::

        outlet = RtpOutlet(sender)            # after on_sender_start fired
        if outlet.connected:
            outlet.sendto(outlet.protect(rtp_bytes), outlet.addr)   # one packet: no task, no await
            outlet.send_many([outlet.protect(p) for p in frame_packets])  # a frame: few syscalls
        outlet.account(packets=4, octets=4800, rtp_timestamp=ts, ntp_timestamp=ntp)

    This is ``RTCDtlsTransport._send_rtp`` without its three nested coroutines
    (ICE transport -> aioice Connection.sendto -> StunProtocol.send_data), which never
    suspend for a host or server-reflexive pair: the protected packet goes to the
    nominated pair's datagram transport directly. ``protect`` calls libsrtp on the
    transport's own SRTP session without pylibsrtp's per-call allocations.
    ``send_many`` hands a frame's equal-sized packets to the kernel in as few
    ``sendmsg`` calls as UDP GSO allows (``UDP_SEGMENT``, Linux >= 4.18: at most 64
    segments and 65,507 bytes each), falling back to one ``sendto`` each.
    ``account`` keeps the counters aiortc's RTCP sender reports and ``getStats()``
    read. ``ssrc``/``rtx_ssrc`` are the SSRCs aiortc drew for the sender (and put in the SDP).
    """

    __slots__ = ("sender", "protect", "sendto", "addr", "_dtls", "_connected_state", "_transport", "_sock", "gso",
                 "ssrc", "rtx_ssrc")  # fmt: skip

    def __init__(self, sender: RTCRtpSender, gso: bool = True) -> None:
        dtls = sender.transport
        srtp = _require(dtls, "_tx_srtp")
        if srtp is None:
            raise AiortcHookError("RtpOutlet opened before DTLS-SRTP keys exist (open it once the sender started)")
        connection = _require(dtls.transport, "_connection")
        pair = _require(connection, "_nominated").get(1)
        if pair is None:
            raise AiortcHookError("RtpOutlet: the ICE connection has no nominated pair")
        protocol = pair.protocol
        transport = getattr(protocol, "transport", None)
        direct = isinstance(protocol, aioice.ice.StunProtocol) and transport is not None
        send = transport.sendto if direct else _send_via_coroutine(protocol)
        self._wire(sender, dtls, srtp, send, pair.remote_addr, transport if direct else None, gso)
        self.ssrc, self.rtx_ssrc = sender_ssrcs(sender)

    @classmethod
    def on_socket(
        cls, transport: asyncio.DatagramTransport, addr: Any, session: pylibsrtp.Session, gso: bool = True
    ) -> RtpOutlet:
        """An outlet with no peer connection behind it: ``session`` protects, ``transport`` sends to ``addr``.

        For measuring the send path alone (bench/sfu_fanout.py --breakdown); ``account``
        counts into stand-ins of aiortc's sender and DTLS transport.
        """
        outlet = object.__new__(cls)
        sender = SimpleNamespace(**{f"_RTCRtpSender__{name}": 0 for name in _TX_COUNTERS})
        dtls = SimpleNamespace(_state=_DtlsState.CONNECTED, _RTCDtlsTransport__tx_packets=0,
                               _RTCDtlsTransport__tx_bytes=0)  # fmt: skip
        outlet._wire(sender, dtls, session, transport.sendto, addr, transport, gso)
        outlet.ssrc, outlet.rtx_ssrc = 1, 2
        return outlet

    def _wire(self, sender: Any, dtls: Any, session: pylibsrtp.Session, sendto: Callable[[bytes, Any], None],
              addr: Any, transport: Any, gso: bool) -> None:  # fmt: skip
        self.sender = sender
        self._dtls = dtls
        self._connected_state = _DtlsState.CONNECTED
        self.protect: Callable[[bytes], bytes] = srtp_protector(session)
        self.sendto: Callable[[bytes, Any], None] = sendto
        self.addr = addr
        self._transport = transport
        self._sock: socket.socket | None = None
        sock = getattr(transport, "_sock", None)  # asyncio's own socket object (selector transports)
        if gso and isinstance(sock, socket.socket) and sock.type == socket.SOCK_DGRAM:
            self._sock = sock
        self.gso = self._sock is not None

    @property
    def connected(self) -> bool:
        """False once DTLS closed or failed (aiortc's own path raises ConnectionError then)."""
        return self._dtls._state is self._connected_state

    def send_many(self, packets: list[bytes]) -> None:
        """Send protected packets in order: runs of equal size (the last may be shorter) go as GSO sends.

        One GSO send is one UDP datagram to the kernel, cut into segments on the way out: it
        holds at most 64 segments and 65,507 bytes, so a keyframe of 80 packets of 1,200 B
        goes as two sends (a single one is refused with EMSGSIZE).
        """
        sock = self._sock
        if sock is None or not self.gso or self._transport.get_write_buffer_size():
            for packet in packets:
                self.sendto(packet, self.addr)
            return
        addr = self.addr
        count = len(packets)
        start = 0
        try:
            while start < count:
                size = len(packets[start])
                limit = min(_GSO_MAX_SEGMENTS, _GSO_MAX_BYTES // size)
                end = start + 1
                while end < count and end - start < limit and len(packets[end]) == size:
                    end += 1
                if end < count and end - start < limit and len(packets[end]) < size:
                    end += 1
                if end - start == 1:
                    sock.sendto(packets[start], addr)
                else:
                    sock.sendmsg(packets[start:end], [(_SOL_UDP, _UDP_SEGMENT, size.to_bytes(2, sys.byteorder))], 0, addr)
                start = end
        except (BlockingIOError, InterruptedError):
            for packet in packets[start:]:  # the transport queues what the socket cannot take now
                self.sendto(packet, addr)
        except OSError:
            log.warning("UDP GSO refused on this socket; sending one datagram per packet", exc_info=True)
            self.gso = False
            for packet in packets[start:]:
                self.sendto(packet, addr)

    def account(self, packets: int, octets: int, rtp_timestamp: int, ntp_timestamp: int) -> None:
        """Count sent packets where aiortc's RTCP SR and getStats() look (payload octets, like aiortc)."""
        sender = self.sender
        sender._RTCRtpSender__packet_count += packets  # type: ignore[attr-defined]
        sender._RTCRtpSender__octet_count += octets  # type: ignore[attr-defined]
        sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
        sender._RTCRtpSender__ntp_timestamp = ntp_timestamp  # type: ignore[attr-defined]
        dtls = self._dtls
        dtls._RTCDtlsTransport__tx_packets += packets  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__tx_bytes += octets  # type: ignore[attr-defined]


def srtp_protector(session: pylibsrtp.Session) -> Callable[[bytes], bytes]:
    """``session.protect`` without pylibsrtp's per-packet allocation and checks (half its cost in Python).

    Same libsrtp call on the same session state; our own 1500-byte buffer.
    """
    srtp = _require(session, "_srtp")
    lib = _srtp_binding.lib
    ffi = _srtp_binding.ffi
    cdata = ffi.new("char[]", 1500)
    view = ffi.buffer(cdata)
    length = ffi.new("int *")
    call = lib.srtp_protect
    limit = 1500 - pylibsrtp.SRTP_MAX_TRAILER_LEN
    ctx = srtp[0]

    def protect(packet: bytes, _keep: Any = (session, srtp)) -> bytes:
        size = len(packet)
        if size > limit:
            raise ValueError("packet is too long")
        view[0:size] = packet
        length[0] = size
        rc = call(ctx, cdata, length)
        if rc:
            raise pylibsrtp.Error(f"srtp_protect failed with code {rc}")
        return view[0 : length[0]]

    return protect
