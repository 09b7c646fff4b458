"""A defense sitting's turns on the media plane: presenter switch time against one plain join, audience fps, CPU.

    .venv/bin/python bench/defense_turns.py                         # 10 students, 5 members, 100 audience
    .venv/bin/python bench/defense_turns.py --audience 10 --probes 3 --turn-seconds 6   # a loaded 2-core host
    .venv/bin/python bench/defense_turns.py --no-standby            # the old switch, for comparison

One media worker (media.live.workers, the production path) holds a DEFENSE room. The chair publishes
a camera and a microphone; the other members receive (their microphones stay closed unless the
chair opens one, and their cameras would reach only the committee: left out to spare the bench
process, which plays every peer); students and the audience join receiving only. For each of the students in turn the chair's "start turn" is replayed as the server does it:
``set_floor`` (the new student's presenter grant, the previous one's taken away, the next one's
standby grant, the active speaker, in one step under the room's lock), and we time until audience
probes decode the new presenter's first frame — recognised by its colour, each student's camera
being a different solid colour.

As the room page does (docs/signaling-protocol.md, "On deck"): the student next in the queue
publishes camera and microphone on standby before their turn, so the switch only flips grants on
connections already up; the one after goes on deck (publishes) when the ``floor`` event comes,
concurrently with the switch being measured. ``--no-standby``: the old way, the new presenter
starts publishing only on ``floor`` (publish offer, ICE, DTLS, first keyframe on the switch path).

Reference, same run and same room: one plain join (a viewer joining the room while the chair
publishes) until its first decoded frame, median of ``--joins`` joins. The figure is the switch's
p95 divided by that. Every audience peer counts encoded frames through the SFU's own receive tap
(``aiortc_hooks.tap_encoded_frames``: depacketised, never decoded), so one process can hold many;
"first frame" is the first *received* frame of a person (probes decode keyframes only, to tell
whose they are), for the plain join and the switch alike. An earlier version decoded every
frame in the loop and measured its own backlog. Audience fps: every peer's received video frames
per second over each turn, after the switch.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(students: int, members: int, audience: int, probes: int, turn_seconds: float, joins: int,
              standby: bool) -> dict[str, Any]:  # fmt: skip
    import av
    import numpy
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    from media.live import aiortc_hooks
    from media.live.fanout import RoomKind
    from media.live.types import MediaConfig, MediaGrant
    from media.live.workers import WorkerPool

    aiortc_hooks.restrict_host_addresses(["127.0.0.1"])
    aiortc_hooks.set_consent_timing(5.0, 10_000)
    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    colours = [(40 + 20 * i) % 256 for i in range(students + 1)]  # grey level per student; index 0 = chair

    class Camera(VideoStreamTrack):
        def __init__(self, level: int) -> None:
            super().__init__()
            self.image = numpy.full((240, 320, 3), level, dtype=numpy.uint8)

        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
            frame.pts, frame.time_base = pts, fractions.Fraction(time_base)
            return frame

    pool = WorkerPool(MediaConfig(host_addresses=["127.0.0.1"], consent_failures=60), workers=1)
    await pool.start()
    room = "sitting"
    offers: dict[str, Any] = {}

    def on_event(event: Any) -> None:
        handler = offers.get(event.peer_id)
        if event.type == "subscribe-offer" and handler is not None:
            asyncio.ensure_future(handler(event.data["sdp"]))

    pool.on_event(on_event)
    await pool.open_room(room, RoomKind.DEFENSE)
    pcs: list[Any] = []

    async def publish(peer: str, grant: MediaGrant, camera: int | None, join: bool) -> Any:
        pc = RTCPeerConnection(config)
        pcs.append(pc)
        sources: dict[str, str] = {}
        if camera is not None:
            sources[pc.addTransceiver(Camera(camera), direction="sendonly").mid or "0"] = "camera"
        t = pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sources = {tr.mid: ("camera" if tr.kind == "video" else "microphone") for tr in pc.getTransceivers()}
        sdp = pc.localDescription.sdp
        answer = await (pool.join(room, peer, grant, sdp, sources) if join else pool.renegotiate(room, peer, sdp, sources))
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        del t
        return pc

    changed = asyncio.Event()  # a probe saw a presenter for the first time

    async def seen(pred: Any) -> None:
        while not pred():
            changed.clear()
            if not pred():
                await changed.wait()

    class Viewer:
        """A receiving peer: counts encoded frames through the receive tap, decodes nothing in the loop.

        A probe also decodes each keyframe it receives (alone, in a VP8 decoder of its own) to tell
        whose camera it is by its grey level: the SFU restarts a stream at a keyframe whenever its
        source changes, so every frame after it is that person's, and the first keyframe of a
        level is the first frame of that presenter this peer received.
        """

        def __init__(self, peer: str, probe: bool) -> None:
            self.peer, self.probe = peer, probe
            self.pc = RTCPeerConnection(config)
            pcs.append(self.pc)
            self.first: dict[int, float] = {}
            self.frames: dict[int, int] = {}  # video frames per person (probes)
            self.pc.on("track", self._track)
            offers[peer] = self.answer
            self.lock = asyncio.Lock()
            self.offered: list[float] = []
            self.video = 0  # video frames received
            self.showing: int | None = None  # whose keyframe came last (probes)
            self.decoder = av.CodecContext.create("vp8", "r") if probe else None

        def _on_video(self, codec: Any, frame: Any) -> None:
            self.video += 1
            if not self.probe:
                return
            if aiortc_hooks.is_keyframe(codec, frame.data):
                assert self.decoder is not None
                for picture in self.decoder.decode(av.Packet(frame.data)):
                    level = int(picture.to_ndarray(format="gray")[::16, ::16].mean())
                    self.showing = min(range(len(colours)), key=lambda i: abs(colours[i] - level))
                    if self.showing not in self.first:
                        self.first[self.showing] = time.perf_counter()
                        changed.set()
            if self.showing is not None:
                self.frames[self.showing] = self.frames.get(self.showing, 0) + 1

        def _track(self, track: Any) -> None:
            receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
            if track.kind == "video":
                aiortc_hooks.tap_encoded_frames(receiver, self._on_video)
            else:
                aiortc_hooks.tap_encoded_frames(receiver, lambda codec, frame: None)

        async def answer(self, sdp: str) -> None:
            self.offered.append(time.perf_counter())
            async with self.lock:
                if self.pc.connectionState == "closed":
                    return
                try:
                    await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
                    await pool.answer(room, self.peer, self.pc.localDescription.sdp)
                except Exception as exc:  # a viewer that left meanwhile
                    if self.pc.connectionState != "closed":
                        print(f"{self.peer}: answering failed: {exc!r}", file=sys.stderr)

    presenter = MediaGrant(True, True, True, True, sees_all_cameras=False, featured=True)
    waiting = MediaGrant(sees_all_cameras=False)
    on_deck = MediaGrant(True, True, sees_all_cameras=False, standby=True)
    member = MediaGrant(can_publish_camera=True)  # microphone closed until the chair opens it (the floor)
    await publish("chair", MediaGrant(True, True, True, True), colours[0], join=True)
    committee = [Viewer(f"member{m}", probe=False) for m in range(1, members)]
    for v in committee:  # their cameras would reach the committee only: left out to spare the bench's CPU
        await pool.join(room, v.peer, member, None)
    await pool.set_active_speaker(room, "chair")

    # reference: plain joins until their first decoded frame (of the chair's camera)
    plain: list[float] = []
    for j in range(joins):
        v = Viewer(f"join{j}", probe=True)
        start = time.perf_counter()
        await pool.join(room, v.peer, waiting, None)
        await seen(lambda v=v: 0 in v.first)
        plain.append(v.first[0] - start)
        await pool.leave(room, v.peer)
        await v.pc.close()
        offers.pop(v.peer, None)
        await asyncio.sleep(0.5)

    print(f"  plain joins: {[round(p * 1000) for p in plain]} ms", file=sys.stderr)
    viewers = [Viewer(f"aud{i}", probe=i < probes) for i in range(audience)]
    for i, v in enumerate(viewers):
        await pool.join(room, v.peer, waiting, None)
        if (i + 1) % 25 == 0:
            print(f"  {i + 1} audience peers joined", file=sys.stderr)
    for s in range(1, students + 1):
        await pool.join(room, f"student{s}", waiting, None)
    publishing: dict[int, Any] = {}  # student -> their publish connection (standby or live)
    if standby:  # the first student is on deck from the sitting's start
        await pool.set_floor(room, {"student1": on_deck}, "chair")
        publishing[1] = await publish("student1", on_deck, colours[1], join=False)
    await asyncio.sleep(2)
    worker = pool.pid(0)
    assert worker is not None
    cpu0, wall0 = cpu_seconds(worker), time.perf_counter()

    switches: list[float] = []
    fps: list[float] = []
    presenter_fps: list[float] = []  # the probes' frames of the presenter (all video is theirs in a turn)
    previous: str | None = None
    deck: asyncio.Future[Any] | None = None
    for s in range(1, students + 1):
        peer = f"student{s}"
        nxt = f"student{s + 1}" if standby and s < students else None
        grants = {peer: presenter} | ({previous: waiting} if previous else {}) | ({nxt: on_deck} if nxt else {})
        start = time.perf_counter()
        await pool.set_floor(room, grants, peer)  # the chair's click, as the server applies it
        if s - 1 in publishing:
            await publishing.pop(s - 1).close()  # the previous presenter's page stops publishing on `floor`
        if s not in publishing:  # not on deck: the new presenter's page starts publishing only now
            publishing[s] = await publish(peer, presenter, colours[s], join=False)
        if nxt is not None:  # the next student's page goes on deck on the same `floor` event

            async def go_on_deck(n: int = s + 1, name: str = nxt) -> None:
                publishing[n] = await publish(name, on_deck, colours[n], join=False)

            deck = asyncio.ensure_future(go_on_deck())
        published = time.perf_counter()
        probes_ = [v for v in viewers if v.probe]
        await seen(lambda s=s, probes_=probes_: all(s in v.first for v in probes_))
        switches += [v.first[s] - start for v in probes_]
        print(f"  turn {s}: first frame at the probes after {[round((v.first[s] - start) * 1000) for v in probes_]} ms",
              file=sys.stderr)  # fmt: skip
        if os.environ.get("DEFENSE_TURNS_TRACE"):
            st = await pool.stats(0)
            rooms = st.get("rooms", st)
            info = rooms.get(room, rooms) if isinstance(rooms, dict) else {}
            cam = (info.get("tracks") or {}).get(f"{peer}:camera")
            fwd = {k: v.get(f"{peer}:camera") for k, v in (info.get("forwarding") or {}).items() if k.startswith("aud0")}
            print(f"  camera {cam} forwarding to aud0 {fwd}")
            print(f"turn {s}: published +{(published - start) * 1000:.0f} ms; offers at "
                  f"{[round((o - start) * 1000) for o in probes_[0].offered if o >= start]} ms; first frame "
                  f"+{(probes_[0].first[s] - start) * 1000:.0f} ms")
        if deck is not None:
            await deck
            deck = None
        before = {id(v): v.video for v in viewers}
        probe_before = {id(v): v.frames.get(s, 0) for v in probes_}
        await asyncio.sleep(turn_seconds)
        fps += [(v.video - before[id(v)]) / turn_seconds for v in viewers]
        presenter_fps += [(v.frames.get(s, 0) - probe_before[id(v)]) / turn_seconds for v in probes_]
        previous = peer
    cpu1, wall1 = cpu_seconds(worker), time.perf_counter()
    stats = await pool.stats(0)
    for pc in pcs:
        await pc.close()
    await pool.close()
    return {"plain": plain, "switches": switches, "fps": fps, "cpu": (cpu1 - cpu0) / (wall1 - wall0) * 100,
            "lag": stats.get("lag", {}), "presenter_fps": presenter_fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--members", type=int, default=5, help="committee size, chair included")
    parser.add_argument("--audience", type=int, default=100)
    parser.add_argument("--probes", type=int, default=5, help="audience peers that decode video")
    parser.add_argument("--turn-seconds", type=float, default=10.0)
    parser.add_argument("--joins", type=int, default=5, help="plain joins for the reference")
    parser.add_argument("--no-standby", action="store_true",
                        help="the old switch: the new presenter publishes only once the floor is theirs")
    a = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"# defense_turns  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {platform.node()}  {os.cpu_count()} cpus  "
          f"load {load:.2f}  students {a.students}  members {a.members}  audience {a.audience} ({a.probes} decoding)  "
          f"{'no standby (old switch)' if a.no_standby else 'next student on deck (standby)'}")
    r = asyncio.run(run(a.students, a.members, a.audience, a.probes, a.turn_seconds, a.joins, not a.no_standby))
    ref = statistics.median(r["plain"])
    p50, p95 = percentile(r["switches"], 0.5), percentile(r["switches"], 0.95)
    print(f"plain join -> first received frame: median {ref * 1000:.0f} ms  (of {len(r['plain'])})")
    print(f"presenter switch -> audience's first frame of the new presenter: p50 {p50 * 1000:.0f} ms  "
          f"p95 {p95 * 1000:.0f} ms  max {max(r['switches']) * 1000:.0f} ms  (n {len(r['switches'])})")
    print(f"ratio switch p95 / plain join: {p95 / ref:.2f}  (goal <= 1.5)")
    print(f"audience fps during turns (every peer, every turn): min {min(r['fps']):.1f}  "
          f"median {statistics.median(r['fps']):.1f}; the probes' frames of the presenter: min "
          f"{min(r['presenter_fps']):.1f}")
    print(f"media worker CPU during the turns: {r['cpu']:.0f} % of one core; loop lag {r['lag']}  "
          f"load now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
