"""The passthrough SFU with real aiortc peers on 127.0.0.1: frames counted, never decoded on the server."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import aiortc.rtcrtpreceiver as rtcrtpreceiver
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs import vpx

from media.live import aiortc_hooks
from media.live.fanout import Publication, RoomKind, TrackSource, Viewer, select_tracks
from media.live.server import LocalMediaServer
from media.live.types import MediaConfig, MediaEvent, MediaGrant, RoomMediaError
from media.live.workers import WorkerPool
from tests.helpers.sfu import NO_ICE_SERVERS, Client, SmallVideoTrack, loopback_ice, until, vanish, wire

__all__ = ["loopback_ice"]

TUTOR = MediaGrant(can_publish_camera=True, can_publish_microphone=True, can_publish_screen=True)
STUDENT = MediaGrant(can_publish_camera=True, can_publish_microphone=True)
PRESENTER = MediaGrant(
    can_publish_camera=True, can_publish_microphone=True, can_publish_screen=True, featured=True
)
AUDIENCE = MediaGrant(sees_all_cameras=False)

pytestmark = pytest.mark.usefixtures("loopback_ice")


@pytest.fixture
def decoder_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Record which receiver queue each aiortc decoder thread serves, and every decoder created."""
    spy: dict[str, Any] = {"queues": {}, "decoders_for": []}
    original_worker = rtcrtpreceiver.decoder_worker
    original_get = rtcrtpreceiver.get_decoder

    def worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
        spy["queues"][threading.get_ident()] = input_q
        original_worker(loop, input_q, output_q, decode_error)

    def get_decoder(codec: Any) -> Any:
        spy["decoders_for"].append(spy["queues"].get(threading.get_ident()))
        return original_get(codec)

    monkeypatch.setattr(rtcrtpreceiver, "decoder_worker", worker)
    monkeypatch.setattr(rtcrtpreceiver, "get_decoder", get_decoder)
    yield spy


async def _room(kind: RoomKind = RoomKind.CONSULTATION, **config: Any) -> LocalMediaServer:
    # One process plays server and every peer on 2 cores shared with other work: unless a test is
    # about departures, slow consent replies must not count as a peer leaving.
    config.setdefault("consent_failures", 60)
    media = LocalMediaServer(MediaConfig(**config))
    await media.open_room("s1", kind)
    return media


async def test_tutor_and_two_students_send_and_receive_without_server_decoding(
    decoder_spy: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    media = await _room()  # first: its start-up check reads Vp8Encoder.pack's own source
    packed: list[int] = []
    original_pack = vpx.Vp8Encoder.pack

    def pack(self: Any, packet: Any) -> Any:
        packed.append(1)
        return original_pack(self, packet)

    monkeypatch.setattr(vpx.Vp8Encoder, "pack", pack)
    tutor = Client(media, "s1", "tutor", TUTOR, decode=True)
    alice = Client(media, "s1", "alice", STUDENT, decode=True)
    bob = Client(media, "s1", "bob", STUDENT, decode=True)
    clients = [tutor, alice, bob]
    wire(media, clients)
    heard: dict[str, int] = {}
    media.room("s1").add_frame_listener(lambda t, c, f, k: heard.__setitem__(t.track_id, heard.get(t.track_id, 0) + 1))
    try:
        for client in clients:
            await client.join()

        def everyone_got_30() -> bool:
            return all(
                c.frames(f"{other.peer_id}:{src}") >= 20
                for c in clients
                for other in clients
                if other is not c
                for src in ("camera", "microphone")
            )

        await until(everyone_got_30, "20 decoded video and audio frames from each other participant")
        assert not any(c.errors for c in clients)
        room = media.room("s1")
        stats = room.stats()
        assert set(stats["tracks"]) == {f"{p}:{s}" for p in ("tutor", "alice", "bob") for s in ("camera", "microphone")}
        # The server's receivers were tapped: none of aiortc's decoders served them...
        server_taps = {id(t.tap) for p in room.participants.values() for t in p.published.values()}
        assert len(server_taps) == 6
        assert all(q is not None for q in decoder_spy["decoders_for"])
        assert not [q for q in decoder_spy["decoders_for"] if id(q) in server_taps]
        # ...while the clients did decode (the spy sees real decoders) and the server re-packed VP8.
        assert len(decoder_spy["decoders_for"]) >= 12
        assert packed
        assert set(heard) == set(stats["tracks"])  # the recorder's seam sees every published track
        assert all(t.tap.decoder_tasks == 0 and t.tap.frames > 0 for p in room.participants.values()
                   for t in p.published.values())
    finally:
        for client in clients:
            await client.close()
        await media.close()


async def test_screen_without_grant_is_refused_and_unlabelled_extra_video_too() -> None:
    media = await _room()
    student = Client(media, "s1", "alice", STUDENT, publish=("camera", "microphone", "screen"))
    try:
        with pytest.raises(RoomMediaError, match="does not allow publishing screen") as refused:
            await student.join()
        assert refused.value.code == "not_allowed"
        assert "alice" not in media.room("s1").participants
        assert student.publish_pc is not None
        offer = student.publish_pc.localDescription.sdp
        with pytest.raises(RoomMediaError, match="not labelled") as unlabelled:
            await media.join("s1", "alice", TUTOR, offer, {})
        assert unlabelled.value.code == "unlabelled_track"
    finally:
        await student.close()
        await media.close()


async def test_garbage_sdp_and_no_common_codec_are_refused_clearly() -> None:
    media = await _room()
    try:
        with pytest.raises(RoomMediaError, match="not an SDP document") as garbage:
            await media.join("s1", "x", TUTOR, "hello, I am not SDP", None)
        assert garbage.value.code == "bad_sdp"
        with pytest.raises(RoomMediaError, match="could not be parsed|no audio or video"):
            await media.join("s1", "x", TUTOR, "v=0\r\nm=video notaport\r\n", None)

        pc = RTCPeerConnection(NO_ICE_SERVERS)
        transceiver = pc.addTransceiver("audio", direction="sendonly")
        pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
        transceiver.setCodecPreferences(pcmu)
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(RoomMediaError, match="no common codec for audio.*PCMU.*audio/opus") as none:
            await media.join("s1", "x", TUTOR, pc.localDescription.sdp, None)
        assert none.value.code == "no_common_codec"
        await pc.close()
        assert media.room("s1").participants == {}
        with pytest.raises(RoomMediaError, match="not open"):
            await media.join("nope", "x", TUTOR, None)
    finally:
        await media.close()


async def test_late_joiner_gets_a_keyframe_through_pli_within_a_second_of_frames() -> None:
    media = await _room()
    tutor = Client(media, "s1", "tutor", TUTOR)
    early = Client(media, "s1", "early", MediaGrant(), publish=())
    late = Client(media, "s1", "late", MediaGrant(), publish=())
    clients = [tutor, early, late]
    wire(media, clients)
    try:
        await tutor.join()
        await early.join()
        room = media.room("s1")
        await until(lambda: early.frames("tutor:camera") >= 60, "early viewer gets 60 frames")
        published = room.participants["tutor"].published
        camera = next(t for t in published.values() if t.source.value == "camera")
        plis_before, frames_at_join = camera.plis_sent, camera.frames
        late.frame_clock = lambda: camera.frames
        await late.join()
        await until(lambda: late.frames("tutor:camera") >= 5, "late joiner gets 5 frames")
        got = late.received["tutor:camera"]
        # aiortc's publisher only makes a keyframe every 3000 frames unless asked: this one came from PLI.
        assert got.first_is_keyframe is True
        assert camera.plis_sent > plis_before
        assert got.publisher_frames_at_first is not None
        assert got.publisher_frames_at_first - frames_at_join <= 30  # within a second of video at 30 fps
    finally:
        for client in clients:
            await client.close()
        await media.close()


async def test_pli_is_throttled_per_track_and_subscriber_pli_reaches_the_publisher() -> None:
    media = await _room(pli_interval=0.5)
    tutor = Client(media, "s1", "tutor", TUTOR)
    viewer = Client(media, "s1", "viewer", MediaGrant(), publish=())
    clients = [tutor, viewer]
    wire(media, clients)
    try:
        await tutor.join()
        await viewer.join()
        await until(lambda: viewer.frames("tutor:camera") >= 10, "viewer gets frames")
        camera = next(
            t for t in media.room("s1").participants["tutor"].published.values() if t.kind == "video"
        )
        requests, sent = camera.pli_requests, camera.plis_sent
        for _ in range(50):
            camera.request_keyframe()
        assert camera.pli_requests - requests == 50
        assert camera.plis_sent - sent <= 1  # at most one now, the rest coalesce into one later
        await until(lambda: camera.plis_sent - sent >= 1, "the coalesced PLI goes out")
        assert camera.plis_sent - sent <= 2

        # Requests made while the keyframe is on its way (a starving stream asks at every frame)
        # are served by that keyframe: no second PLI goes out for them when the interval ends,
        # which would hold the next joiner's keyframe back by a whole interval.
        await until(lambda: camera._pli_timer is None, "the coalesced PLI is done")
        await asyncio.sleep(0.6)  # the throttle interval is over
        sent, keyframes = camera.plis_sent, camera.keyframes
        camera.request_keyframe()
        assert camera.plis_sent == sent + 1
        camera.request_keyframe()  # throttled: deferred
        await until(lambda: camera.keyframes > keyframes, "the publisher answers with a keyframe")
        await asyncio.sleep(0.6)
        assert camera.plis_sent == sent + 1

        # A PLI sent by the subscriber's receiver lands in the SFU's sender hook.
        assert viewer.subscribe_pc is not None
        receiver = next(t.receiver for t in viewer.subscribe_pc.getTransceivers() if t.kind == "video")
        requests = camera.pli_requests
        await until(lambda: aiortc_hooks.request_keyframe(receiver), "viewer can send PLI")
        await until(lambda: camera.pli_requests > requests, "subscriber PLI observed by the SFU")
    finally:
        for client in clients:
            await client.close()
        await media.close()


@pytest.mark.slow
async def test_a_vanished_peer_leaves_and_the_others_are_told() -> None:
    media = await _room(consent_interval=1.0, consent_failures=2)
    tutor = Client(media, "s1", "tutor", TUTOR)
    alice = Client(media, "s1", "alice", STUDENT)
    bob = Client(media, "s1", "bob", STUDENT)
    clients = [tutor, alice, bob]
    events = wire(media, clients)
    try:
        for client in clients:
            await client.join()
        await until(lambda: tutor.frames("bob:camera") >= 10 and alice.frames("bob:camera") >= 10, "bob is seen")
        vanish(bob)
        await until(lambda: "bob" not in media.room("s1").participants, "bob's ICE consent expires")
        left = [e for e in events if e.type == "peer-left" and e.peer_id == "bob"]
        assert [e.data["reason"] for e in left] == ["failed"]
        removed = {e.data["track_id"] for e in events if e.type == "track-removed" and e.peer_id == "bob"}
        assert removed == {"bob:camera", "bob:microphone"}
        # Nobody is sent bob's tracks any more, and every survivor was re-offered without them.
        # (On 2 cores loaded by other work a survivor's own consent can lapse too; bob's facts hold.)
        # Forwarding stopped at once (bob's tracks lost their subscribers); a survivor still answering an
        # earlier offer gets the offer without bob's m-lines right after that answer.
        room = media.room("s1")
        assert not [t for t in room.stats()["tracks"] if t.startswith("bob:")]

        def last_offer(survivor: str) -> MediaEvent:
            return [e for e in events if e.type == "subscribe-offer" and e.peer_id == survivor][-1]

        def bob_unsubscribed() -> bool:
            subs = room.stats()["subscriptions"].values()
            if [t for s in subs for t in s if t.startswith("bob:")]:
                return False
            # The subscriptions change before the new offer is made (createOffer yields): wait for it.
            return not [
                t for p in room.stats()["peers"] for t in last_offer(p).data["tracks"] if t["track_id"].startswith("bob:")
            ]

        await until(bob_unsubscribed, "survivors' subscriptions and offers drop bob's tracks")
        stats = room.stats()
        if "tutor" in stats["peers"] and "alice" in stats["peers"]:
            before = tutor.frames("alice:camera")
            await until(lambda: tutor.frames("alice:camera") > before + 10, "alice still reaches the tutor")
    finally:
        for client in clients:
            await client.close()
        await media.close()


@pytest.mark.slow
async def test_defense_audience_of_ten_receives_presenter_screen_and_speaker_only() -> None:
    media = await _room(RoomKind.DEFENSE)
    presenter = Client(media, "s1", "presenter", PRESENTER, publish=("camera", "microphone", "screen"))
    # Committee cameras only: one process plays 13 peers on 2 shared cores, so keep packets few.
    chair = Client(media, "s1", "chair", STUDENT, publish=("camera",))
    member = Client(media, "s1", "member", STUDENT, publish=("camera",))
    audience = [Client(media, "s1", f"aud{i}", AUDIENCE, publish=()) for i in range(10)]
    clients = [presenter, chair, member, *audience]
    events = wire(media, clients)
    try:
        for client in clients:
            await client.join()
        video = {"presenter:camera", "presenter:screen"}
        audio = {"presenter:microphone"}

        def audience_receives(tracks: set[str]) -> bool:
            return all(all(a.frames(t) >= 10 for t in tracks) for a in audience)

        await until(lambda: audience_receives(video | audio), "audience gets presenter, screen and voices")
        for a in audience:
            assert set(a.received) == video | audio, a.peer_id
            assert a.received["presenter:camera"].first_is_keyframe is True
        # The committee sees every camera, the audience's are never forwarded (they publish none).
        await until(lambda: chair.frames("member:camera") >= 10 and member.frames("chair:camera") >= 10, "")
        # The chair speaks: the audience now also receives the chair's camera, not the member's.
        await media.set_active_speaker("s1", "chair")
        await until(lambda: audience_receives({"chair:camera"}), "audience gets the speaker's camera")
        for a in audience:
            assert "member:camera" not in a.received
        subs = media.room("s1").stats()["subscriptions"]
        departures = [(e.type, e.peer_id, e.data) for e in events if e.type in ("peer-left", "track-removed")]
        assert subs["aud0"] == sorted(video | audio | {"chair:camera"}), departures
        assert not any(c.errors for c in clients)
    finally:
        for client in clients:
            await client.close()
        await media.close()


@pytest.mark.slow
async def test_worker_pool_places_rooms_and_restarts_a_dead_worker_with_a_rejoin_report() -> None:
    config = MediaConfig(host_addresses=["127.0.0.1"])
    pool = WorkerPool(config, workers=2)
    await pool.start()
    events: list[MediaEvent] = []
    pool.on_event(events.append)
    tutor = Client(pool, "a", "tutor", TUTOR)  # type: ignore[arg-type]
    viewer = Client(pool, "a", "viewer", MediaGrant(), publish=())  # type: ignore[arg-type]
    pool.on_event(tutor.handle)
    pool.on_event(viewer.handle)
    try:
        await pool.open_room("a", RoomKind.CONSULTATION, expected_peers=30)
        await pool.open_room("b", RoomKind.DEFENSE, expected_peers=10)
        await pool.open_room("c", RoomKind.CONSULTATION, expected_peers=5)
        assert (pool.placement("a"), pool.placement("b"), pool.placement("c")) == (0, 1, 1)
        await pool.open_room("a", RoomKind.CONSULTATION)  # idempotent
        assert pool.placement("a") == 0

        # Media really flows through the worker process.
        await tutor.join()
        await viewer.join()
        await until(lambda: viewer.frames("tutor:camera") >= 10, "viewer receives via worker 0")
        stats = await pool.stats(0)
        assert stats["rooms"]["a"]["tracks"]["tutor:camera"]["decoder_tasks"] == 0
        with pytest.raises(RoomMediaError, match="does not allow publishing"):
            await Client(pool, "a", "x", MediaGrant(), publish=("screen",)).join()  # type: ignore[arg-type]

        old_pid = pool.pid(0)
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        await until(lambda: any(e.type == "room-lost" for e in events), "room-lost after the worker died")
        lost = [e for e in events if e.type == "room-lost"]
        assert [(e.room_id, e.data["peers"], e.data["reason"]) for e in lost] == [
            ("a", ["tutor", "viewer"], "worker_restarted")
        ]
        assert pool.pid(0) not in (None, old_pid)
        assert pool.placement("a") == 0 and pool.placement("b") == 1
        # The room is open again on the new worker: clients rejoin and media flows again.
        await tutor.close()
        await viewer.close()
        tutor2 = Client(pool, "a", "tutor", TUTOR)  # type: ignore[arg-type]
        viewer2 = Client(pool, "a", "viewer", MediaGrant(), publish=())  # type: ignore[arg-type]
        pool.on_event(tutor2.handle)
        pool.on_event(viewer2.handle)
        await tutor2.join()
        await viewer2.join()
        await until(lambda: viewer2.frames("tutor:camera") >= 10, "viewer receives after rejoin")
        await tutor2.close()
        await viewer2.close()
        assert (await pool.stats(1))["rooms"].keys() == {"b", "c"}
    finally:
        await tutor.close()
        await viewer.close()
        await pool.close()


def test_fanout_policy_reads_capabilities_not_roles() -> None:
    pubs = [
        Publication("p:camera", "p", TrackSource.CAMERA, featured=True),
        Publication("p:screen", "p", TrackSource.SCREEN, featured=True),
        Publication("p:microphone", "p", TrackSource.MICROPHONE, featured=True),
        Publication("c1:camera", "c1", TrackSource.CAMERA),
        Publication("c1:microphone", "c1", TrackSource.MICROPHONE),
        Publication("c2:camera", "c2", TrackSource.CAMERA),
    ]
    everyone = {p.track_id for p in pubs}
    audience = Viewer("a", can_subscribe=True, sees_all_cameras=False)
    committee = Viewer("c1", can_subscribe=True, sees_all_cameras=True)
    assert select_tracks(RoomKind.CONSULTATION, audience, pubs) == everyone
    assert select_tracks(RoomKind.DEFENSE, audience, pubs) == {"p:camera", "p:screen", "p:microphone",
                                                              "c1:microphone"}  # fmt: skip
    assert select_tracks(RoomKind.DEFENSE, audience, pubs, active_speaker="c2") == {
        "p:camera", "p:screen", "p:microphone", "c1:microphone", "c2:camera"}  # fmt: skip
    assert select_tracks(RoomKind.DEFENSE, committee, pubs) == everyone - {"c1:camera", "c1:microphone"}
    assert select_tracks(RoomKind.DEFENSE, Viewer("x", can_subscribe=False), pubs) == set()


async def test_screen_share_starts_and_stops_by_renegotiation() -> None:
    media = await _room()
    tutor = Client(media, "s1", "tutor", TUTOR)
    alice = Client(media, "s1", "alice", STUDENT, publish=())
    clients = [tutor, alice]
    events = wire(media, clients)
    try:
        await tutor.join()
        await alice.join()
        await until(lambda: alice.frames("tutor:camera") >= 5, "alice sees the tutor's camera")
        assert tutor.publish_pc is not None
        pc = tutor.publish_pc
        screen = pc.addTransceiver(SmallVideoTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        labels = {t.mid: s for t, s in zip(pc.getTransceivers(), ("camera", "microphone", "screen"), strict=True)}
        answer = await media.renegotiate("s1", "tutor", pc.localDescription.sdp, labels)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await until(lambda: alice.frames("tutor:screen") >= 5, "alice sees the screen share")
        assert alice.received["tutor:screen"].first_is_keyframe is True
        added = [e.data["track_id"] for e in events if e.type == "track-added"]
        assert added.count("tutor:screen") == 1

        screen.direction = "inactive"  # the tutor stops sharing
        await pc.setLocalDescription(await pc.createOffer())
        answer = await media.renegotiate("s1", "tutor", pc.localDescription.sdp, labels)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        removed = [e.data for e in events if e.type == "track-removed"]
        assert [(r["track_id"], r["reason"]) for r in removed] == [("tutor:screen", "unpublished")]
        await until(lambda: media.room("s1").stats()["subscriptions"]["alice"] == ["tutor:camera",
                    "tutor:microphone"], "alice unsubscribed from the screen")  # fmt: skip
    finally:
        for client in clients:
            await client.close()
        await media.close()


async def test_h264_is_forwarded_when_the_publisher_offers_only_h264() -> None:
    media = await _room()
    tutor = Client(media, "s1", "tutor", TUTOR, video_codec="video/H264")
    alice = Client(media, "s1", "alice", STUDENT, publish=(), decode=True)
    clients = [tutor, alice]
    wire(media, clients)
    try:
        await tutor.join()
        await alice.join()
        await until(lambda: alice.frames("tutor:camera") >= 10, "alice decodes the forwarded H.264")
        assert alice.received["tutor:camera"].codec == "video/H264"
        track = next(t for t in media.room("s1").participants["tutor"].published.values() if t.kind == "video")
        assert track.codec is not None and track.codec.mimeType == "video/H264"
        assert track.tap.decoder_tasks == 0
    finally:
        for client in clients:
            await client.close()
        await media.close()


async def test_two_publishers_rejoining_at_once_reach_a_subscriber_who_stayed() -> None:
    """The E2E two-rejoin bug: the stayer's m-lines are reused for the rejoined tracks and must carry them."""
    media = await _room()
    tutor = Client(media, "s1", "tutor", TUTOR)
    bob = Client(media, "s1", "bob", STUDENT)
    alice = Client(media, "s1", "alice", STUDENT, publish=())
    clients = [tutor, bob, alice]
    events = wire(media, clients)
    tracks = ("tutor:camera", "tutor:microphone", "bob:camera", "bob:microphone")
    rejoined: list[Client] = []
    try:
        for client in clients:
            await client.join()
        await until(lambda: all(alice.frames(t) >= 10 for t in tracks), "alice receives both publishers")
        assert alice.subscribe_pc is not None
        mlines = len(alice.subscribe_pc.getTransceivers())
        # Both drop and come back at the same moment (a page reload each): new connections, same peers.
        for old in (tutor, bob):
            clients.remove(old)
        rejoined = [Client(media, "s1", "tutor", TUTOR), Client(media, "s1", "bob", STUDENT)]
        clients.extend(rejoined)
        await asyncio.gather(*(c.join() for c in rejoined), tutor.close(), bob.close())
        before = {t: alice.frames(t) for t in tracks}
        await until(lambda: all(alice.frames(t) >= before[t] + 30 for t in tracks), "alice receives both again")
        assert len(alice.subscribe_pc.getTransceivers()) == mlines  # the freed m-lines were reused
        # Chromium refuses an offer that repeats an a=msid (aiortc accepts it): every offer's are unique.
        for event in events:
            if event.type == "subscribe-offer":
                msids = [line for line in event.data["sdp"].splitlines() if line.startswith("a=msid:")]
                assert len(msids) == len(set(msids)), msids
        assert not alice.errors
        room = media.room("s1")
        assert room.stats()["subscriptions"]["alice"] == sorted(tracks)
    finally:
        for client in (tutor, bob, alice, *rejoined):
            await client.close()
        await media.close()


async def test_a_source_back_on_another_m_line_never_repeats_an_msid() -> None:
    """bob leaves, then the tutor; the tutor's return lands on bob's old m-line: its own old one must not
    still name it (Chromium refuses such an offer: "Duplicate a=msid lines detected")."""
    media = await _room()
    tutor = Client(media, "s1", "tutor", TUTOR, publish=("camera",))
    bob = Client(media, "s1", "bob", STUDENT, publish=("camera",))
    alice = Client(media, "s1", "alice", STUDENT, publish=())
    clients = [tutor, bob, alice]
    events = wire(media, clients)
    room = media.room("s1")
    back: Client | None = None

    def settled(expected: list[str]) -> bool:
        return room.stats()["subscriptions"]["alice"] == expected and not room.participants["alice"].awaiting_answer

    try:
        for client in clients:
            await client.join()
        await until(lambda: alice.frames("tutor:camera") >= 5 and alice.frames("bob:camera") >= 5, "alice sees both")
        for leaving, left in ((bob, ["tutor:camera"]), (tutor, [])):
            clients.remove(leaving)
            await media.leave("s1", leaving.peer_id)
            await leaving.close()
            await until(lambda left=left: settled(left), f"alice's subscriptions become {left}")
        back = Client(media, "s1", "tutor", TUTOR, publish=("camera",))
        clients.append(back)
        await back.join()
        before = alice.frames("tutor:camera")
        await until(lambda: alice.frames("tutor:camera") >= before + 10, "alice sees the tutor again")
        offers = [e.data for e in events if e.type == "subscribe-offer" and e.peer_id == "alice"]
        bobs = next(t["mid"] for o in offers for t in o["tracks"] if t["track_id"] == "bob:camera")
        assert [t["mid"] for t in offers[-1]["tracks"]] == [bobs], "the tutor should be back on bob's old m-line"
        assert alice.received["tutor:camera"].keyframes >= 1
        for offer in offers:
            msids = [line for line in offer["sdp"].splitlines() if line.startswith("a=msid:")]
            assert len(msids) == len(set(msids)), msids
    finally:
        for client in (tutor, bob, alice, back):
            if client is not None:
                await client.close()
        await media.close()


class _ListSink:
    """A recorder stand-in that keeps what it is handed (the egress seam, nothing written)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.frames: dict[str, int] = {}

    def track_started(self, track: Any, request_keyframe: Any) -> None:
        self.started.append(track.track_id)

    def frame(self, key: str, data: bytes, timestamp: int, keyframe: bool, arrival: float) -> None:
        track_id = key.split("#")[0]
        self.frames[track_id] = self.frames.get(track_id, 0) + 1

    def audio_level(self, key: str, level: int, voice: bool, arrival: float) -> None:
        pass

    def track_ended(self, key: str, reason: str) -> None:
        pass

    async def close(self, reason: str) -> dict[str, Any]:
        return {}


async def test_a_standby_presenter_reaches_nobody_until_the_floor_turns_to_them() -> None:
    """The next student publishes before their turn: received, but forwarded to nobody and recorded
    nowhere; the floor switch makes their tracks live on the audience's running m-lines at once (the
    previous presenter's screen, with nothing to replace it, goes idle by an offer afterwards)."""
    from media.live.egress import EgressTap

    media = await _room(RoomKind.DEFENSE)
    room = media.room("s1")
    on_deck = MediaGrant(can_publish_camera=True, can_publish_microphone=True, sees_all_cameras=False, standby=True)
    st1 = Client(media, "s1", "st1", PRESENTER, publish=("camera", "microphone", "screen"))
    st2 = Client(media, "s1", "st2", on_deck)
    member = Client(media, "s1", "member", STUDENT, publish=())  # sees every camera
    audience = [Client(media, "s1", f"aud{i}", AUDIENCE, publish=()) for i in range(2)]
    viewers = [member, *audience]
    clients = [st1, st2, *viewers]
    events = wire(media, clients)
    sink = _ListSink()
    tap = EgressTap(room, sink)
    media.on_event(tap.on_event)
    try:
        for client in clients:
            await client.join()
        await until(lambda: all(v.frames(f"st1:{source}") >= 10 for v in viewers
                                for source in ("camera", "microphone", "screen")), "everyone gets the presenter")  # fmt: skip
        await until(lambda: room.stats()["tracks"].get("st2:camera", {}).get("frames", 0) >= 30,
                    "the SFU receives the standby camera")  # fmt: skip
        tracks = room.stats()["tracks"]
        for source in ("camera", "microphone"):
            assert tracks[f"st2:{source}"]["standby"] is True
            assert tracks[f"st2:{source}"]["subscribers"] == []
        assert not [t for v in viewers for t in v.received if t.startswith("st2:")]
        assert not [t for t in sink.started if t.startswith("st2:")]
        assert not [e for e in events if e.peer_id == "st2" and e.type == "track-added"]
        assert not [e for e in events if e.type in ("subscribe-offer", "subscribe-tracks") and e.peer_id == "st2"
                    and any(t["publisher_id"] == "st2" for t in e.data["tracks"])]  # fmt: skip

        # the chair's click: st2 presents, st1's tracks come off, in one step
        watching = {v.peer_id for v in viewers}
        switch_at = len(events)
        await media.set_floor("s1", {"st2": PRESENTER, "st1": AUDIENCE}, "st2")
        await until(lambda: all(v.frames("st2:camera") >= 10 and v.frames("st2:microphone") >= 10 for v in viewers),
                    "everyone gets the new presenter")  # fmt: skip
        for v in viewers:  # (a frame of st1 still in flight may be counted under the new label)
            assert v.received["st2:camera"].keyframes >= 1, v.peer_id
        # the viewers' running m-lines carried the switch (relabelled); only st1's screen m-line went idle
        # by an offer, made after the relabel
        for v in watching:
            after = [e for e in events[switch_at:] if e.peer_id == v and e.type in ("subscribe-tracks", "subscribe-offer")]
            assert [e.type for e in after] == ["subscribe-tracks", "subscribe-offer"], (v, after)
            assert {t["track_id"] for t in after[0].data["tracks"]} >= {"st2:camera", "st2:microphone"}
            assert not [t for t in after[1].data["tracks"] if t["publisher_id"] == "st1"]
        assert {"st2:camera", "st2:microphone"} <= set(sink.started)
        assert [e.data["reason"] for e in events if e.type == "track-removed" and e.peer_id == "st1"] == ["floor"] * 3
        assert {e.data["track_id"] for e in events if e.type == "track-added" and e.peer_id == "st2"} == {
            "st2:camera", "st2:microphone"}
        before = {v.peer_id: v.frames("st1:camera") for v in viewers}
        await until(lambda: all(v.frames("st2:camera") >= 40 for v in viewers), "more of st2")
        assert all(v.frames("st1:camera") == before[v.peer_id] for v in viewers)
        assert not any(c.errors for c in clients)
    finally:
        tap.detach()
        for client in clients:
            await client.close()
        await media.close()


async def test_standby_publisher_whose_grant_loses_the_source_is_unpublished_silently() -> None:
    """Off the deck again (the chair skipped them): standby tracks go without a track-removed to anyone."""
    media = await _room(RoomKind.DEFENSE)
    on_deck = MediaGrant(can_publish_camera=True, can_publish_microphone=True, sees_all_cameras=False, standby=True)
    st2 = Client(media, "s1", "st2", on_deck)
    events = wire(media, [st2])
    try:
        await st2.join()
        room = media.room("s1")
        await until(lambda: room.stats()["tracks"].get("st2:camera", {}).get("frames", 0) >= 5, "standby frames")
        await media.set_floor("s1", {"st2": AUDIENCE}, None)
        assert not [t for p in room.participants.values() for t in p.published.values() if t.active]
        assert not [e for e in events if e.type in ("track-added", "track-removed")]
        with pytest.raises(RoomMediaError) as refused:
            await media.renegotiate("s1", "st2", st2.publish_pc.localDescription.sdp, {})
        assert refused.value.code == "not_allowed"
    finally:
        await st2.close()
        await media.close()
