"""Real aiortc peers negotiating through Socket.IO with the in-process SFU, on 127.0.0.1 only."""

from __future__ import annotations

import re

import pytest

from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.rooms import RoomClient, World


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    c = await world.socket(username, session_id)
    await c.wait_for("welcome")
    return c


async def consultation(world: World, *names: str) -> dict[str, MediaPeer]:
    tom = await enter(world, "tom", world.consult)
    await tom.call("lobby-policy", {"auto_admit": True})
    peers = {"tom": MediaPeer(tom)}
    for name in names:
        peers[name] = MediaPeer(await enter(world, name, world.consult))
    return peers


@pytest.mark.slow
async def test_tutor_and_two_students_publish_and_receive(world: World) -> None:
    peers = await consultation(world, "stu", "sam")
    try:
        for peer in peers.values():
            ack = await peer.join()
            assert ack["ok"] is True and ack["sdp"].startswith("v=0"), ack
        ids = {name: world.ids[name] for name in peers}
        for name, peer in peers.items():
            for other in peers:
                if other == name:
                    continue
                await until(lambda p=peer, o=ids[other]: p.video_frames_from(o) >= 15 and p.audio_frames_from(o) >= 15,
                            f"{name} receives {other}")  # fmt: skip
        for name, peer in peers.items():
            assert not peer.errors, peer.errors
            senders = {i.person_id for i in peer.incoming.values()}
            assert senders == {ids[o] for o in peers if o != name}  # everyone but themselves
            sources = sorted(i.source for i in peer.incoming.values())
            assert sources == ["camera", "camera", "microphone", "microphone"]
        # everyone was told about each track as it came
        tom = peers["tom"].rc
        added = {(d["person_id"], d["source"]) for d in tom.events["track-added"]}
        assert {(ids["stu"], "camera"), (ids["sam"], "microphone")} <= added
    finally:
        for peer in peers.values():
            await peer.close()


@pytest.mark.slow
async def test_refused_media_requests_get_error_events(world: World) -> None:
    peers = await consultation(world, "stu")
    stu = peers["stu"]
    try:
        # a student's grant has no screen: refused at the signaling choke point ...
        sdp, _ = await stu.offer(("screen",))
        ack = await stu.join(sdp, {"0": "screen"})
        assert ack["error"]["code"] == "not_allowed"
        # ... and by the media server: a third, unlabelled m-line
        sdp, _ = await stu.offer(("camera", "microphone", "camera"))
        ack = await stu.join(sdp, {})
        assert ack["error"]["code"] == "unlabelled_track", ack
        # garbage SDP
        ack = await stu.join("this is not sdp", {})
        assert ack["error"]["code"] == "bad_sdp"
        err = await stu.rc.wait_for("error", lambda e: e["code"] == "bad_sdp")
        assert err["event"] == "media-join"
        # an offer with no codec in common
        sdp, sources = await stu.offer(("camera", "microphone"))
        alien = re.sub(r"a=rtpmap:(\d+) [A-Za-z0-9-]+/", r"a=rtpmap:\1 X-ALIEN/", sdp)
        ack = await stu.join(alien, sources)
        assert ack["error"]["code"] in ("no_common_codec", "bad_sdp"), ack
        assert "VP8" in ack["error"]["message"] or "codec" in ack["error"]["message"]
        # an answer when no offer is pending; renegotiate before joining
        assert (await stu.rc.call("media-answer", {"sdp": "v=0\r\n"}))["ok"] is False
        # audience in a defense cannot publish at all
        aud = MediaPeer(await enter(world, "sue", world.defense))
        sdp, sources = await aud.offer(("camera",))
        assert (await aud.join(sdp, sources))["error"]["code"] == "not_allowed"
        await aud.close()
    finally:
        for peer in peers.values():
            await peer.close()


@pytest.mark.slow
async def test_peer_that_vanishes_is_reported_to_the_others(world: World) -> None:
    peers = await consultation(world, "stu", "sam")
    try:
        for peer in peers.values():
            assert (await peer.join())["ok"] is True
        sid, mid = world.ids["stu"], world.ids["sam"]
        await until(lambda: peers["tom"].video_frames_from(sid) >= 5 and peers["tom"].video_frames_from(mid) >= 5,
                    "tom receives both")  # fmt: skip
        # 1) network gone, socket still up: ICE consent fails on the server, the others are told
        peers["stu"].vanish()
        left = await peers["tom"].rc.wait_for("peer-left", lambda d: d["person_id"] == sid, limit=60)
        assert left["reason"] in ("failed", "closed")
        removed = await peers["tom"].rc.wait_for("track-removed", lambda d: d["person_id"] == sid, limit=30)
        assert removed["source"] in ("camera", "microphone")
        # 2) the browser tab dies (socket gone without media-leave): the same for the others
        await peers["sam"].rc.sio.eio.disconnect(abort=True)
        await peers["tom"].rc.wait_for("peer-left", lambda d: d["person_id"] == mid, limit=60)
        await peers["tom"].rc.wait_for("member-left", lambda d: d["person_id"] == mid, limit=30)
    finally:
        for peer in peers.values():
            await peer.close()
