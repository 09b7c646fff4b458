"""RTP probes for load generators: count what a viewer receives without aiortc's per-packet receive work.

    count_rtp_datagrams(pc, on_rtp)   # wire: on_rtp(data, unprotect) per SRTP datagram, header in clear
    count_rtp(pc, on_packet)          # light: on_packet(RtpPacket) per packet, decrypted and parsed

Both hook ``pc``'s ICE sockets (found through media/live/aiortc_hooks.py, the one module that may
reach into aiortc) after setLocalDescription: RTP stops there, while STUN, DTLS and RTCP still
reach aiortc, so ICE consent, the handshake and receiver reports go on. A viewer counted this way
has no jitter buffer, NACK or PLI: for benchmarks that play hundreds of viewers on a few cores,
never for a real client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pylibsrtp
from aiortc.rtp import RtpPacket

from media.live import aiortc_hooks

OnRtp = Callable[[bytes, Callable[[bytes], bytes]], None]


def _is_rtp(data: bytes) -> bool:
    return len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 209  # RTP, not RTCP (RFC 5761)


def count_rtp_datagrams(pc: Any, on_rtp: OnRtp) -> int:
    """Hand every SRTP datagram ``pc`` receives to ``on_rtp(data, unprotect)`` at the socket; aiortc never sees it.

    An RTP header travels in clear inside SRTP, so a viewer can count frames (marker bit),
    losses (sequence numbers) and streams (payload type) at ~1 µs a packet, where aiortc's
    receive path costs tens. ``unprotect`` decrypts one packet on demand (e.g. the first, to
    check for a keyframe). ``pc`` must use one (bundled) transport. Returns how many sockets
    were hooked.
    """
    transports = {id(t.receiver.transport): t.receiver.transport for t in pc.getTransceivers()}
    if len(transports) != 1:
        raise ValueError(f"RTP probes expect one bundled DTLS transport, found {len(transports)}")
    unprotect = aiortc_hooks.srtp_unprotector(next(iter(transports.values())))
    protocols = aiortc_hooks.ice_protocols(pc)
    for protocol in protocols:
        original = protocol.datagram_received

        def received(data: bytes, addr: Any, original: Any = original) -> None:
            if _is_rtp(data):
                on_rtp(data, unprotect)
            else:
                original(data, addr)

        protocol.datagram_received = received
    return len(protocols)


def count_rtp(pc: Any, on_packet: Callable[[RtpPacket], None]) -> int:
    """Decrypt and parse every RTP packet ``pc`` receives (as aiortc would) and hand it to ``on_packet``.

    What aiortc does before its receivers' jitter buffers, without them: SRTP and parsing cost
    as for a real viewer, then only counting. Packets that fail to decrypt (no keys yet, a
    replay) are dropped as aiortc drops them. Returns how many sockets were hooked.
    """

    def on_rtp(data: bytes, unprotect: Callable[[bytes], bytes]) -> None:
        try:
            clear = unprotect(data)
        except (pylibsrtp.Error, aiortc_hooks.AiortcHookError):
            return
        on_packet(RtpPacket.parse(clear))

    return count_rtp_datagrams(pc, on_rtp)
