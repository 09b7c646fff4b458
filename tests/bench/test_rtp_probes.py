"""bench/rtp_probes.py: the load generators' viewers count real RTP at the socket, decrypted or not."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCPeerConnection

from bench import rtp_probes
from tests.helpers.sfu import NO_ICE_SERVERS, SmallVideoTrack, loopback_ice, until

__all__ = ["loopback_ice"]


@pytest.mark.usefixtures("loopback_ice")
async def test_both_probes_see_the_rtp_a_publisher_sends() -> None:
    """count_rtp (decrypted and parsed) and count_rtp_datagrams (clear header, decrypted on demand)."""
    parsed: list[Any] = []
    raw: list[tuple[bytes, bytes]] = []
    pcs: list[RTCPeerConnection] = []
    try:
        for mode in ("parsed", "raw"):
            publisher, viewer = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
            pcs += [publisher, viewer]
            publisher.addTransceiver(SmallVideoTrack(), direction="sendonly")
            await publisher.setLocalDescription(await publisher.createOffer())
            await viewer.setRemoteDescription(publisher.localDescription)
            await viewer.setLocalDescription(await viewer.createAnswer())
            if mode == "parsed":
                assert rtp_probes.count_rtp(viewer, parsed.append) == 1
            else:

                def on_rtp(data: bytes, unprotect: Any) -> None:
                    if len(raw) < 5:
                        raw.append((data, unprotect(data)))

                assert rtp_probes.count_rtp_datagrams(viewer, on_rtp) == 1
            await publisher.setRemoteDescription(viewer.localDescription)
        await until(lambda: len(parsed) >= 20 and len(raw) >= 5, "RTP counted by both probes")
        assert {p.payload_type for p in parsed} == {97}
        data, clear = raw[0]
        assert data[:12] == clear[:12] and len(clear) < len(data)  # the header travels in clear; tag removed
        assert all(pc.connectionState == "connected" for pc in pcs)  # DTLS and ICE still ran in aiortc
    finally:
        for pc in pcs:
            await pc.close()
