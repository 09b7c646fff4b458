"""SFU fan-out cost: one 640x480@30 VP8 (~1 Mbps) + Opus publisher, K subscribers, on loopback.

    .venv/bin/python bench/sfu_fanout.py                    # K = 1,10,50,100,200, relay baseline K = 1,5,10
    .venv/bin/python bench/sfu_fanout.py --ks 1,10 --relay-ks 1 --window 8

For each K a fresh media worker (media.live.workers, the production path) holds one
room; the publisher sends a pre-encoded clip through aiortc's pack path;
subscribers run in separate processes (``--per-proc`` each) and count encoded
frames without decoding. Measured in the SFU process over ``--window`` seconds
after every subscriber got video: CPU seconds (from /proc, steadier than wall
time on a shared machine), RSS growth, event-loop lag p99; at the subscribers:
video frames/s. The stock aiortc path (decode once, ``MediaRelay``, one encoder
per subscriber) runs in the same run for small K as the baseline ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIP = Path("/tmp/aulacast-bench/src-640x480-vp8-1M-opus.webm")
HZ = os.sysconf("SC_CLK_TCK")


# --- helpers shared by all roles ---------------------------------------------------------


def ffmpeg() -> str:
    for candidate in ("/usr/bin/ffmpeg",):
        if os.path.exists(candidate):
            return candidate
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(seconds: int) -> Path:
    """A synthetic lecture-like source: testsrc2 VP8 CBR ~1 Mbps, keyframe every 2 s, Opus sine."""
    if CLIP.exists():
        return CLIP
    CLIP.parent.mkdir(parents=True, exist_ok=True)
    tmp = CLIP.with_suffix(".part.webm")
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libvpx", "-b:v", "1M", "-minrate", "1M", "-maxrate", "1M", "-bufsize", "1M",
         "-deadline", "realtime", "-cpu-used", "8", "-g", "60", "-auto-alt-ref", "0", "-lag-in-frames", "0",
         "-c:a", "libopus", "-b:a", "48k", "-ac", "2", tmp],
        check=True,
    )  # fmt: skip
    tmp.rename(CLIP)
    return CLIP


def proc_sample(pid: int) -> tuple[float, int]:
    """CPU seconds (user+system) and RSS bytes of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / HZ
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return cpu, rss


def loopback_only() -> None:
    from media.live import aiortc_hooks

    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    # The harness processes starve on a shared 2-core machine; a late consent reply must not
    # close their connections (aioice default: 6 misses of 0.5 s replies, every 5 s).
    aiortc_hooks.set_consent_timing(5.0, 10_000)


def rtc_config() -> Any:
    from aiortc import RTCBundlePolicy, RTCConfiguration

    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class JsonPipe:
    """Line-delimited JSON to/from a child process, with request/response ids."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def call(self, op: str, **params: Any) -> Any:
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **params}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await future

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = json.loads(line)
            future = self._pending.pop(message.pop("id"), None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(message["error"]))
                else:
                    future.set_result(message.get("result"))

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()


async def serve_json(handlers: dict[str, Callable[..., Awaitable[Any]]]) -> None:
    """Child side of JsonPipe: run handlers for requests on stdin until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def handle(message: dict[str, Any]) -> None:
        rid = message.pop("id")
        op = message.pop("op")
        try:
            result = await handlers[op](**message)
            out = {"id": rid, "result": result}
        except Exception as exc:  # reported to the parent, which fails the run
            out = {"id": rid, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()

    tasks = set()
    while line := await reader.readline():
        task = asyncio.ensure_future(handle(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def spawn(*args: str) -> JsonPipe:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 22
    )
    return JsonPipe(proc)


# --- subscriber processes --------------------------------------------------------------------


def vp8_starts_keyframe(payload: bytes) -> bool:
    """True if an RTP payload starts a VP8 key frame (RFC 7741 descriptor, then the P bit)."""
    if not payload or not payload[0] & 0x10 or payload[0] & 0x07:
        return False
    pos = 1
    if payload[0] & 0x80:
        ext = payload[1]
        pos = 2
        if ext & 0x80:
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:
            pos += 1
        if ext & 0x30:
            pos += 1
    return len(payload) > pos and not payload[pos] & 0x01


class RtpCount:
    """What one viewer got on one m-line, counted per RTP packet (light mode)."""

    __slots__ = ("frames", "packets", "lost", "last_seq", "first_keyframe")

    def __init__(self) -> None:
        self.frames = self.packets = self.lost = 0
        self.last_seq: int | None = None
        self.first_keyframe: bool | None = None

    def add(self, packet: Any, video: bool) -> None:
        self.add_raw(packet.sequence_number, packet.marker, video)
        if video and self.first_keyframe is None:
            self.first_keyframe = vp8_starts_keyframe(packet.payload)

    def add_raw(self, seq: int, marker: int, video: bool) -> None:
        self.packets += 1
        if self.last_seq is not None:
            gap = (seq - self.last_seq - 1) & 0xFFFF
            if gap < 1000:
                self.lost += gap
        self.last_seq = seq
        self.frames += marker if video else 1


def count_at_socket(pc: Any, counts: dict[str, RtpCount], parsed: bool) -> None:
    """Count a viewer's RTP at its socket, video/audio told apart by payload type.

    ``parsed`` (light mode): every packet decrypted and parsed first; else (wire mode) the clear header.
    """
    import rtp_probes
    from aiortc import sdp as aiortc_sdp
    from aiortc.rtp import RtpPacket

    kinds: dict[int, str] = {}
    for media in aiortc_sdp.SessionDescription.parse(pc.localDescription.sdp).media:
        for codec in media.rtp.codecs:
            if not codec.mimeType.lower().endswith("/rtx"):
                kinds[codec.payloadType] = media.kind
    video, audio = counts["video"], counts["audio"]

    def on_packet(packet: RtpPacket) -> None:
        kind = kinds.get(packet.payload_type)
        if kind is not None:
            counts[kind].add(packet, kind == "video")

    if parsed:
        rtp_probes.count_rtp(pc, on_packet)
        return

    def on_rtp(data: bytes, unprotect: Any) -> None:
        kind = kinds.get(data[1] & 0x7F)
        if kind == "video":
            if video.first_keyframe is None:
                try:
                    video.first_keyframe = vp8_starts_keyframe(RtpPacket.parse(unprotect(data)).payload)
                except Exception:  # keys not there yet: unknown, counted as not a keyframe
                    video.first_keyframe = False
            video.add_raw((data[2] << 8) | data[3], data[1] >> 7, True)
        elif kind == "audio":
            audio.add_raw((data[2] << 8) | data[3], 1, False)

    rtp_probes.count_rtp_datagrams(pc, on_rtp)


async def subscriber_main(mode: str) -> None:
    """Many subscribers in one process: answer server offers, count what arrives (no decoding).

    ``tap``: aiortc's receiver assembles frames (jitter buffer, NACK, REMB) and the
    tap counts them. ``light``: every SRTP packet is decrypted and parsed at the
    socket, as aiortc does, then counted (frames by RTP marker bit, losses by
    sequence gaps) without aiortc's per-packet receiver work. ``wire``: RTP is
    counted at the socket from its clear header (the first video packet is
    decrypted to check it starts a keyframe). ICE, DTLS and RTCP still run in
    aiortc (bench/rtp_probes.py). Only ``wire`` lets 200 viewers run on 2 cores
    beside the SFU they measure.
    """
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.live import aiortc_hooks

    loopback_only()
    pcs: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    rtp: dict[str, dict[str, RtpCount]] = {}

    async def offer(peer: str, sdp: str) -> str:
        pc = pcs.get(peer)
        if pc is None:
            pc = pcs[peer] = RTCPeerConnection(rtc_config())
            counts[peer] = {"video": 0, "audio": 0}
            rtp[peer] = {"video": RtpCount(), "audio": RtpCount()}

            @pc.on("track")
            def on_track(track: Any, pc: Any = pc, peer: str = peer) -> None:
                if mode != "tap":  # counted at the socket
                    return
                receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
                kind = track.kind

                def on_frame(codec: Any, frame: Any) -> None:
                    counts[peer][kind] += 1

                # Like a browser, don't freeze seconds on one lost packet (see aiortc_hooks).
                aiortc_hooks.tap_encoded_frames(receiver, on_frame, video_jitter_packets=128)

        first = pc.localDescription is None
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        aiortc_hooks.enlarge_receive_buffers(pc, 1 << 20)
        if mode != "tap" and first:
            count_at_socket(pc, rtp[peer], parsed=mode == "light")
        return pc.localDescription.sdp

    async def get_counts() -> dict[str, dict[str, int]]:
        if mode == "tap":
            return counts
        return {
            peer: {
                "video": c["video"].frames, "audio": c["audio"].frames,
                "packets": c["video"].packets + c["audio"].packets, "lost": c["video"].lost + c["audio"].lost,
                "keyframe_first": int(bool(c["video"].first_keyframe)),
            }
            for peer, c in rtp.items()
        }  # fmt: skip

    async def close_all() -> None:
        for pc in pcs.values():
            await pc.close()

    await serve_json({"offer": offer, "counts": get_counts, "close": close_all})


# --- the stock relay server (baseline) ------------------------------------------------------


async def relay_main() -> None:
    """aiortc's documented way to serve many viewers: decode once, MediaRelay, encode per viewer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    from media.live.workers import LoopLag

    loopback_only()
    relay = MediaRelay()
    tracks: list[Any] = []
    pcs: dict[str, Any] = {}
    lag = LoopLag()
    lag_task = asyncio.ensure_future(lag.run())

    async def publish(sdp: str) -> str:
        pc = pcs["publisher"] = RTCPeerConnection(rtc_config())
        pc.on("track", tracks.append)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def subscribe(peer: str) -> str:
        pc = pcs[peer] = RTCPeerConnection(rtc_config())
        for track in sorted(tracks, key=lambda t: t.kind, reverse=True):
            pc.addTransceiver(relay.subscribe(track), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def answer(peer: str, sdp: str) -> None:
        await pcs[peer].setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def stats(reset_lag: bool = False) -> dict[str, Any]:
        return {"pid": os.getpid(), "loop_lag": lag.summary(reset_lag)}

    await serve_json({"publish": publish, "subscribe": subscribe, "answer": answer, "stats": stats})
    lag_task.cancel()


# --- the measured servers, as seen by the bench -----------------------------------------------


def worker_pool_from(tree: str | None, profile: str | None = None) -> Any:
    """A one-worker pool running this checkout's media worker, or the one in ``tree`` (an older commit).

    ``tree`` is a plain copy of another commit (``git archive <rev> | tar -x -C DIR``): its
    worker runs with ``cwd=DIR`` so ``python -m media.live.workers`` imports that code.
    ``profile``: run the worker under cProfile, stats written to that file when it exits.
    """
    from media.live.types import MediaConfig
    from media.live.workers import WorkerPool

    settings = {"host_addresses": ["127.0.0.1"], "consent_failures": 60}
    if tree is None and profile is None:
        return WorkerPool(MediaConfig(**settings), workers=1)  # type: ignore[arg-type]
    cwd = tree or str(Path(__file__).resolve().parents[1])
    prefix = ["-m", "cProfile", "-o", profile] if profile else []

    class TreePool(WorkerPool):
        async def _spawn(self, slot: Any) -> None:
            slot.process = await asyncio.create_subprocess_exec(
                self._python, *prefix, "-m", "media.live.workers", "--config", json.dumps(settings), cwd=cwd,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 22,
            )  # fmt: skip
            slot.reader = asyncio.ensure_future(self._read(slot, slot.process))

    return TreePool(MediaConfig(), workers=1)


class SfuServer:
    """The production path: a media worker process running the passthrough SFU."""

    name = "passthrough SFU"

    profile: str | None = None  # set by --profile: cProfile the worker (its figures are then inflated)

    def __init__(self, tree: str | None = None, name: str | None = None) -> None:
        self.tree = tree
        if name is not None:
            self.name = name

    async def start(self) -> None:
        from media.live.fanout import RoomKind

        self.pool = worker_pool_from(self.tree, self.profile)
        await self.pool.start()
        self.offers: dict[str, asyncio.Future[str]] = {}
        self.pool.on_event(self._on_event)
        await self.pool.open_room("bench", RoomKind.CONSULTATION)
        self.pid = self.pool.pid(0)

    def _on_event(self, event: Any) -> None:
        if event.type == "subscribe-offer":
            future = self.offers.get(event.peer_id)
            if future is not None and not future.done():
                future.set_result(event.data["sdp"])

    async def publish(self, sdp: str, sources: dict[str, str]) -> str:
        from media.live.types import MediaGrant

        grant = MediaGrant(can_publish_camera=True, can_publish_microphone=True, can_subscribe=False)
        return await self.pool.join("bench", "publisher", grant, sdp, sources)

    async def subscribe(self, peer: str) -> str:
        from media.live.types import MediaGrant

        self.offers[peer] = asyncio.get_running_loop().create_future()
        await self.pool.join("bench", peer, MediaGrant(), None)
        return await asyncio.wait_for(self.offers[peer], 60)

    async def answer(self, peer: str, sdp: str) -> None:
        await self.pool.answer("bench", peer, sdp)

    async def forwarded(self) -> tuple[dict[str, dict[str, int]], int] | None:
        """Frames the SFU sent each viewer (its own output, whatever the viewer manages), and RTP packets sent."""
        room = (await self.pool.stats(0))["rooms"]["bench"]
        frames = {
            peer: {kind: sum(v[0] for tid, v in subs.items() if tid.endswith(src)) for kind, src in
                   (("video", ":camera"), ("audio", ":microphone"))}
            for peer, subs in room["forwarding"].items()
        }  # fmt: skip
        return frames, room.get("packets_sent", -1)  # older workers do not count packets

    async def lag(self, reset: bool) -> dict[str, float]:
        stats = await self.pool.stats(0, reset_lag=reset)
        if os.environ.get("BENCH_DEBUG"):
            room = stats["rooms"]["bench"]
            fwd = [v for subs in room["forwarding"].values() for v in subs.values()]
            print("  debug: tracks", room["tracks"], "forwarded/dropped", fwd[:6], "fanout", room["fanout"],
                  file=sys.stderr)
        return stats["loop_lag"]

    async def stop(self) -> None:
        await self.pool.close()


class RelayServer:
    name = "aiortc MediaRelay (decode + re-encode)"

    async def start(self) -> None:
        self.pipe = await spawn("--role", "relay")
        self.pid = self.pipe.proc.pid

    async def publish(self, sdp: str, sources: dict[str, str]) -> str:
        return await self.pipe.call("publish", sdp=sdp)

    async def subscribe(self, peer: str) -> str:
        return await self.pipe.call("subscribe", peer=peer)

    async def answer(self, peer: str, sdp: str) -> None:
        await self.pipe.call("answer", peer=peer, sdp=sdp)

    async def forwarded(self) -> tuple[dict[str, dict[str, int]], int] | None:
        return None  # encoders run per viewer at the source rate; only viewer counts exist

    async def lag(self, reset: bool) -> dict[str, float]:
        return (await self.pipe.call("stats", reset_lag=reset))["loop_lag"]

    async def stop(self) -> None:
        await self.pipe.close()


# --- one measured phase ----------------------------------------------------------------------


@dataclass
class Phase:
    server: str
    k: int
    cpu_pct: float
    cpu_pct_idle: float
    cpu_pct_per_viewer: float  # (cpu - idle) / K over the window
    sent_fps_mean: float  # video frames/s the SFU sent each viewer (relay: = viewer fps)
    us_per_frame: float  # server CPU per frame sent to one viewer (video and audio), above idle
    us_per_packet: float  # server CPU per RTP packet sent, above idle (sendto included)
    cpu_pct_per_viewer_full: float  # us_per_packet x 170 packets/s (120 video + 50 audio): an unstarved viewer
    rss_mb_per_viewer: float
    fps_mean: float  # video frames/s counted at the viewers
    fps_min: float
    lost_pct: float  # RTP packets missing at the viewers (sequence gaps), light mode
    keyframe_first: int  # viewers whose first video packet started a keyframe, light mode
    lag_p99_ms: float
    lag_max_ms: float
    connected: int
    load: str


async def start_publisher(server: Any) -> Any:
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    player = MediaPlayer(str(CLIP), decode=False)
    pc = RTCPeerConnection(rtc_config())
    video = pc.addTransceiver(player.video, direction="sendonly")
    audio = pc.addTransceiver(player.audio, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sources = {video.mid: "camera", audio.mid: "microphone"}
    answer = await server.publish(pc.localDescription.sdp, sources)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, player


async def _sent(pc: Any) -> int:
    stats = await pc.getStats()
    return sum(s.packetsSent for s in stats.values() if getattr(s, "type", "") == "outbound-rtp")


async def run_phase(
    server: Any, k: int, per_proc: int, window: float, idle: float, nice: int, viewer: str
) -> Phase:
    await server.start()
    if nice:
        # Media is realtime work; on a machine shared with batch jobs the worker runs at a higher
        # priority (as a systemd unit would, Nice=); both servers get the same treatment.
        try:
            os.setpriority(os.PRIO_PROCESS, server.pid, nice)
        except PermissionError:
            print("  (not allowed to renice; measuring at normal priority)", file=sys.stderr)
    pub_pc, player = await start_publisher(server)
    procs: list[JsonPipe] = []
    try:
        await asyncio.sleep(3)
        c0, _ = proc_sample(server.pid)
        await asyncio.sleep(idle)
        c1, rss_idle = proc_sample(server.pid)
        cpu_idle = 100 * (c1 - c0) / idle

        procs = [await spawn("--role", "subscriber", "--viewer", viewer) for _ in range(math.ceil(k / per_proc))]
        peers = [f"v{i}" for i in range(k)]
        owner = {p: procs[i // per_proc] for i, p in enumerate(peers)}

        async def join(peer: str) -> None:
            offer = await server.subscribe(peer)
            answer = await owner[peer].call("offer", peer=peer, sdp=offer)
            await server.answer(peer, answer)

        for start in range(0, k, 10):
            await asyncio.gather(*(join(p) for p in peers[start : start + 10]))

        async def counts() -> dict[str, dict[str, int]]:
            merged: dict[str, dict[str, int]] = {}
            for proc in procs:
                merged.update(await proc.call("counts"))
            return merged

        deadline = time.monotonic() + 60 + k / 2
        while time.monotonic() < deadline:
            got = await counts()
            if sum(1 for c in got.values() if c["video"] > 0) == k:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # let PLIs/keyframes and joins settle

        before = await counts()
        fwd0 = await server.forwarded()
        sent0 = await _sent(pub_pc)
        await server.lag(reset=True)
        s0, _ = proc_sample(server.pid)
        await asyncio.sleep(window)
        s1, rss = proc_sample(server.pid)
        after = await counts()
        fwd1 = await server.forwarded()
        lag = await server.lag(reset=True)
        if os.environ.get("BENCH_DEBUG"):
            sent1 = await _sent(pub_pc)
            print(f"  debug: publisher sent packets/s {(sent1 - sent0) / window:.0f}", file=sys.stderr)

        def delta(peer: str, key: str) -> int:
            return after.get(peer, {}).get(key, 0) - before.get(peer, {}).get(key, 0)

        fps = [delta(p, "video") / window for p in peers]
        received = sum(delta(p, "packets") for p in peers)
        lost = sum(delta(p, "lost") for p in peers)
        if fwd0 is not None and fwd1 is not None:  # the SFU's own output
            (f0, p0), (f1, p1) = fwd0, fwd1
            out_fps = [(f1[p]["video"] - f0.get(p, {"video": 0})["video"]) / window for p in peers if p in f1]
            delivered = sum(f1[p][k] - f0.get(p, {k: 0})[k] for p in f1 for k in ("video", "audio"))
            packets = p1 - p0 if p0 >= 0 else received
        else:
            out_fps = fps
            delivered = sum(delta(p, "video") + delta(p, "audio") for p in peers)
            packets = received
        cpu = 100 * (s1 - s0) / window
        above_idle = max(0.0, (s1 - s0) - cpu_idle / 100 * window)
        us_per_frame = above_idle / max(delivered, 1) * 1e6
        us_per_packet = above_idle / max(packets, 1) * 1e6
        return Phase(
            server=server.name,
            k=k,
            cpu_pct=round(cpu, 1),
            cpu_pct_idle=round(cpu_idle, 1),
            cpu_pct_per_viewer=round((cpu - cpu_idle) / k, 3),
            sent_fps_mean=round(sum(out_fps) / max(len(out_fps), 1), 1),
            us_per_frame=round(us_per_frame, 1),
            us_per_packet=round(us_per_packet, 1),
            cpu_pct_per_viewer_full=round(us_per_packet * 170 / 1e4, 3),
            rss_mb_per_viewer=round((rss - rss_idle) / k / 2**20, 3),
            fps_mean=round(sum(fps) / len(fps), 1),
            fps_min=round(min(fps), 1),
            lost_pct=round(100 * lost / max(received + lost, 1), 2),
            keyframe_first=sum(c.get("keyframe_first", 0) for c in after.values()),
            lag_p99_ms=lag["p99_ms"],
            lag_max_ms=lag["max_ms"],
            connected=sum(1 for c in after.values() if c["video"] > 0),
            load=" ".join(f"{x:.2f}" for x in os.getloadavg()),
        )
    finally:
        for proc in procs:
            try:
                await asyncio.wait_for(proc.call("close"), 20)
            except (TimeoutError, RuntimeError):
                pass
            await proc.close()
        await pub_pc.close()
        await server.stop()


async def breakdown(packets: int = 40_000) -> None:
    """Per-packet cost of the SFU's send path, stage by stage, in this process (CPU seconds, not wall).

    A ForwardedStream writes through a real RtpOutlet (libsrtp session, loopback UDP socket,
    GSO) whose aiortc sender is stood in for by the attributes the outlet updates. The
    receiving socket is drained in the same process, so every figure includes the
    loopback receive path the kernel charges to the sender (as in the fan-out run).
    """
    import resource
    import socket

    from aiortc.rtcdtlstransport import SRTP_PROFILES
    from aiortc.rtcrtpparameters import (
        RTCRtpCodecParameters,
        RTCRtpHeaderExtensionParameters,
        RTCRtpSendParameters,
    )
    from pylibsrtp import Policy, Session

    from media.live import aiortc_hooks, rtpforward

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    loop = asyncio.get_running_loop()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    rx.setblocking(False)
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))

    def drain() -> None:
        try:
            while True:
                rx.recv(65536)
        except BlockingIOError:
            pass

    def outlet(gso: bool) -> aiortc_hooks.RtpOutlet:
        profile = SRTP_PROFILES[0]  # what two aiortc peers negotiate (AES-256-GCM with this libsrtp)
        key = os.urandom(profile.key_length + profile.salt_length)
        policy = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile.libsrtp_profile)
        policy.allow_repeat_tx = True  # as aiortc sets it (the same packet is protected many times here)
        return aiortc_hooks.RtpOutlet.on_socket(transport, rx.getsockname(), Session(policy), gso=gso)

    video = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    exts = [RTCRtpHeaderExtensionParameters(id=1, uri=rtpforward.MID_URI),
            RTCRtpHeaderExtensionParameters(id=3, uri=rtpforward.ABS_SEND_TIME_URI)]  # fmt: skip
    # 1 Mbps at 30 fps: ~4.2 kB a frame = three 1300-byte VP8 payloads and a short one; Opus ~120 B.
    vframe = rtpforward.PacketizedFrame([b"\x90\x80\x80\x01" + bytes(1296)] * 3 + [b"\x80\x80\x80\x01" + bytes(300)],
                                        0, True, 1, 4200)  # fmt: skip
    aframe = rtpforward.PacketizedFrame([bytes(120)], 0, True, None, 120)

    def stream(kind: str, gso: bool) -> rtpforward.ForwardedStream:
        s = rtpforward.ForwardedStream(kind)
        codec = video if kind == "video" else opus
        s.open(outlet(gso), RTCRtpSendParameters(codecs=[codec], headerExtensions=exts[: 2 if kind == "video" else 1],
                                                 muxId="1"))  # fmt: skip
        s.attach(object(), None)
        s.arm()
        return s

    def per_packet(label: str, fn: Any, per_call: int) -> float:
        calls = packets // per_call
        c0 = cpu()
        for i in range(calls):
            fn()
            if i % 32 == 0:
                drain()
        used = cpu() - c0
        drain()
        us = used / (calls * per_call) * 1e6
        print(f"  {label:<58} {us:6.2f} us/packet")
        return us

    hdr = rtpforward._HEADER
    payload = vframe.payloads[0]
    protect = outlet(False).protect
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a plain socket: the kernel's cost alone
    addr = rx.getsockname()
    plain = hdr(0x90, 97, 1, 1, 1) + b"\xbe\xde\x00\x02\x10\x31\x32\x01\x02\x03\x00\x00" + payload
    sample = protect(plain)
    print(f"# send path per packet, one process, CPU seconds, SRTP {SRTP_PROFILES[0].openssl_profile.decode()} (load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")  # fmt: skip
    per_packet("header + extensions + payload concatenation", lambda: hdr(0x90, 97, 1, 1, 1) + b"12345678" + payload, 1)
    per_packet("libsrtp protect (1.3 kB), srtp_protector", lambda: protect(plain), 1)
    per_packet("socket.sendto of one protected 1.3 kB packet (kernel)", lambda: raw.sendto(sample, addr), 1)
    v1, v4, a1 = stream("video", False), stream("video", True), stream("audio", True)
    now = time.time()
    ntp = rtpforward.ntp_now(now)
    per_packet("video frame of 4 packets, one sendto each (ForwardedStream.send)",
               lambda: v1.send(vframe, now, b"\0\0\0", ntp), 4)  # fmt: skip
    per_packet("video frame of 4 packets, one GSO sendmsg (ForwardedStream.send)",
               lambda: v4.send(vframe, now, b"\0\0\0", ntp), 4)  # fmt: skip
    per_packet("audio frame, 1 packet (ForwardedStream.send)", lambda: a1.send(aframe, now, b"\0\0\0", ntp), 1)
    transport.close()
    raw.close()
    rx.close()


async def bench(args: argparse.Namespace) -> None:
    loopback_only()
    make_clip(args.clip_seconds)
    ks = [int(x) for x in args.ks.split(",") if x]
    relay_ks = [int(x) for x in args.relay_ks.split(",") if x]
    print(f"# sfu_fanout  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {platform.node()}  "
          f"{os.cpu_count()} cpus  load {os.getloadavg()[0]:.2f}  per-proc {args.per_proc}  window {args.window}s  "
          f"server nice {args.nice}")  # fmt: skip
    header = ("server", "K", "cpu%", "idle%", "cpu%/viewer", "sent fps", "us/frame", "us/packet",
              "cpu%/viewer full", "MB/viewer", "fps mean", "fps min", "lost%", "keyframe first",
              "lag p99 ms", "lag max ms", "connected", "load")  # fmt: skip
    print(" | ".join(header))
    results = []
    before_ks = [int(x) for x in args.before_ks.split(",") if x] if args.before_tree else []
    SfuServer.profile = args.profile
    plan: list[tuple[Callable[[], Any], int]] = [(SfuServer, k) for k in ks]
    before_name = f"passthrough SFU before ({Path(args.before_tree).name})" if args.before_tree else ""
    plan += [(lambda: SfuServer(args.before_tree, before_name), k) for k in before_ks]
    plan += [(RelayServer, k) for k in relay_ks]
    if args.interleave:  # same K back to back, so both variants see the same machine load
        plan.sort(key=lambda item: item[1])
    for make, k in plan:
        phase = await run_phase(make(), k, args.per_proc, args.window, args.idle, args.nice, args.viewer)
        results.append(phase)
        print(" | ".join(str(v) for v in phase.__dict__.values()), flush=True)
    sfu = {p.k: p for p in results if p.server == SfuServer.name}
    for p in results:
        if p.server == before_name and p.k in sfu and sfu[p.k].us_per_packet > 0:
            print(f"K={p.k}: before/after CPU per viewer = {p.cpu_pct_per_viewer / max(sfu[p.k].cpu_pct_per_viewer, 1e-6):.1f}x,"
                  f" per packet = {p.us_per_packet / sfu[p.k].us_per_packet:.1f}x")  # fmt: skip
        if p.server == RelayServer.name and p.k in sfu and sfu[p.k].cpu_pct_per_viewer > 0:
            ratio = p.cpu_pct_per_viewer / sfu[p.k].cpu_pct_per_viewer
            ratio30 = p.us_per_frame / max(sfu[p.k].us_per_frame, 1e-6)
            print(f"K={p.k}: relay/passthrough CPU per viewer = {ratio:.1f}x, per delivered frame = {ratio30:.1f}x")
    if args.json:
        with open(args.json, "w") as out:  # noqa: ASYNC230 - once, at the end
            json.dump([p.__dict__ for p in results], out, indent=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["bench", "subscriber", "relay"], default="bench")
    parser.add_argument("--ks", default="1,10,50,100,200")
    parser.add_argument("--relay-ks", default="1,5,10")
    parser.add_argument("--per-proc", type=int, default=25, help="subscribers per subscriber process")
    parser.add_argument("--viewer", choices=["wire", "light", "tap"], default="wire",
                        help="wire: count RTP at the socket (cheapest); light: after SRTP; tap: aiortc assembles frames")
    parser.add_argument("--window", type=float, default=10.0, help="measured seconds per K")
    parser.add_argument("--idle", type=float, default=4.0, help="seconds measuring the publisher-only baseline")
    parser.add_argument("--clip-seconds", type=int, default=150)
    parser.add_argument("--nice", type=int, default=-10, help="niceness of the measured server (0: leave)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--before-tree", help="also measure the SFU of this copy of an older commit (git archive)")
    parser.add_argument("--before-ks", default="1,10,50", help="K values for --before-tree")
    parser.add_argument("--interleave", action="store_true", help="run all servers at one K before the next K")
    parser.add_argument("--profile", help="cProfile the SFU worker into this file (one K; figures inflated)")
    parser.add_argument("--breakdown", action="store_true", help="only print the send path's per-packet costs")
    args = parser.parse_args()
    if args.role == "subscriber":
        asyncio.run(subscriber_main(args.viewer))
    elif args.role == "relay":
        asyncio.run(relay_main())
    elif args.breakdown:
        asyncio.run(breakdown())
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
