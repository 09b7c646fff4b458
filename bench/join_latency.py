"""Join latency: join token -> first DECODED remote video frame, then the media half alone.

    .venv/bin/python bench/join_latency.py            # whole path (bench/join_token.py), 50 joins;
                                                      # media half: 50 back to back, 50 spaced 0.5 s
    .venv/bin/python bench/join_latency.py --joins 10 --spacing 1 --no-whole

First the issue's figure, token -> first decoded frame over HTTP + Socket.IO + the media
worker (``bench/join_token.py``, which also runs alone). Then the media half:

A media worker (media.live.workers, the production path) holds one room with a live
aiortc publisher (640x480@30 VP8, encoded as it goes, so it answers PLI). Each
join is a fresh viewer peer connection on loopback: MediaServer.join ->
"subscribe-offer" event -> answer -> ICE + DTLS -> the SFU's PLI -> keyframe ->
the viewer decodes its first frame. Joins run one after another; each viewer
leaves afterwards. Back to back, a join comes within the SFU's PLI throttle
(0.5 s per track) of the previous one's keyframe request and waits for the
interval to end; spaced by ``--spacing`` seconds, joins are independent as
those of people arriving at different moments.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(joins: int, spacing: float) -> dict[str, Any]:
    import av
    import numpy
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    from media.live import aiortc_hooks
    from media.live.fanout import RoomKind
    from media.live.types import MediaConfig, MediaGrant
    from media.live.workers import WorkerPool

    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    aiortc_hooks.set_consent_timing(5.0, 10_000)  # a starved harness must not drop its own peers
    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    class Camera(VideoStreamTrack):
        """640x480 moving gradient: a real encode per frame, keyframes only on request."""

        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            shift = int(pts * time_base * 60) % 640
            row = numpy.roll(numpy.arange(640, dtype=numpy.uint8), shift)
            image = numpy.broadcast_to(row, (480, 640))
            frame = av.VideoFrame.from_ndarray(numpy.stack([image] * 3, axis=-1), format="rgb24")
            frame.pts, frame.time_base = pts, fractions.Fraction(time_base)
            return frame

    pool = WorkerPool(MediaConfig(host_addresses=["127.0.0.1"], consent_failures=60), workers=1)
    await pool.start()
    offers: dict[str, asyncio.Future[str]] = {}

    def on_event(event: Any) -> None:
        future = offers.get(event.peer_id)
        if event.type == "subscribe-offer" and future is not None and not future.done():
            future.set_result(event.data["sdp"])

    pool.on_event(on_event)
    await pool.open_room("lat", RoomKind.CONSULTATION)
    publisher = RTCPeerConnection(config)
    video = publisher.addTransceiver(Camera(), direction="sendonly")
    audio = publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await publisher.setLocalDescription(await publisher.createOffer())
    grant = MediaGrant(can_publish_camera=True, can_publish_microphone=True, can_subscribe=False)
    answer = await pool.join(
        "lat", "publisher", grant, publisher.localDescription.sdp, {video.mid: "camera", audio.mid: "microphone"}
    )
    await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.sleep(2)

    totals: list[float] = []
    to_offer: list[float] = []
    to_connected: list[float] = []
    for i in range(joins):
        if i and spacing:
            await asyncio.sleep(spacing)
        peer = f"viewer{i}"
        first: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        viewer = RTCPeerConnection(config)

        @viewer.on("track")
        def on_track(track: Any, first: asyncio.Future[float] = first) -> None:
            if track.kind != "video":
                return

            async def read() -> None:
                frame = await track.recv()
                if not first.done() and frame is not None:
                    first.set_result(time.perf_counter())

            asyncio.ensure_future(read())

        connected: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        @viewer.on("connectionstatechange")
        def on_state(viewer: Any = viewer, connected: asyncio.Future[float] = connected) -> None:
            if viewer.connectionState == "connected" and not connected.done():
                connected.set_result(time.perf_counter())

        offers[peer] = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        await pool.join("lat", peer, MediaGrant(), None)
        offer = await asyncio.wait_for(offers[peer], 30)
        got_offer = time.perf_counter()
        await viewer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await viewer.setLocalDescription(await viewer.createAnswer())
        await pool.answer("lat", peer, viewer.localDescription.sdp)
        end = await asyncio.wait_for(first, 30)
        totals.append(end - start)
        to_offer.append(got_offer - start)
        to_connected.append((connected.result() if connected.done() else end) - start)
        await viewer.close()
        await pool.leave("lat", peer)
    await publisher.close()
    await pool.close()
    return {"totals": totals, "to_offer": to_offer, "to_connected": to_connected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--joins", type=int, default=50)
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-path (token) measurement")
    parser.add_argument("--spacing", default="0,0.5",
                        help="seconds between one viewer's first frame and the next join, one run per value "
                             "(0: back to back, where the SFU's per-track PLI throttle of 0.5 s can hold a join)")
    args = parser.parse_args()
    print(f"# join_latency  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {platform.node()}  {os.cpu_count()} cpus  "
          f"joins {args.joins} per run")  # fmt: skip
    if not args.no_whole:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import join_token

        load = os.getloadavg()[0]
        whole = asyncio.run(join_token.run(args.joins))
        print(f"## whole path, token -> first decoded frame (bench/join_token.py)  load {load:.2f}")
        for part in ("total", "token", "welcome", "media"):
            print(f"{part:>8}: p50 {percentile(whole[part], 0.5) * 1000:.0f} ms  "
                  f"p95 {percentile(whole[part], 0.95) * 1000:.0f} ms")  # fmt: skip
    for spacing in (float(v) for v in args.spacing.split(",")):
        load = os.getloadavg()[0]
        result = asyncio.run(run(args.joins, spacing))
        totals, to_offer, to_connected = result["totals"], result["to_offer"], result["to_connected"]

        def ms(values: list[float], q: float) -> str:
            return f"{percentile(values, q) * 1000:.0f}"

        print(f"## joins {spacing:g} s apart  load {load:.2f} -> {os.getloadavg()[0]:.2f}")
        print(f"join -> first decoded frame: p50 {ms(totals, 0.5)} ms  p95 {ms(totals, 0.95)} ms  "
              f"max {max(totals) * 1000:.0f} ms")  # fmt: skip
        print(f"join -> subscribe offer:     p50 {ms(to_offer, 0.5)} ms  p95 {ms(to_offer, 0.95)} ms")
        print(f"join -> ICE+DTLS connected:  p50 {ms(to_connected, 0.5)} ms  p95 {ms(to_connected, 0.95)} ms")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
