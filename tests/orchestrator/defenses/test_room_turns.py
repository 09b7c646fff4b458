"""A sitting's room with real aiortc peers over Socket.IO: turns move the presenter grant in one step.

The chair starts each turn; the student whose turn runs may publish camera, microphone and screen and
the audience receives their picture; the previous presenter's tracks are taken off in the same step;
the student next in the queue is on deck: publishes on standby (reaching nobody) and goes live on
their turn without publishing again; whoever is neither presenting nor on deck cannot publish;
§29 is checked again; a member's microphone opens on the chair's word; the audience only watches and
chats; a member who drops out mid-turn does not stop the sitting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.store.models import ControlResult
from tests.helpers.defenses import start_sitting_world
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.rooms import RoomClient

pytestmark = pytest.mark.slow


@pytest.fixture
def loopback_only() -> Iterator[None]:
    from media.live import aiortc_hooks

    with aiortc_hooks.restrict_host_addresses(["127.0.0.1"]):
        yield


@pytest.fixture
async def sw(tmp_path: Path, loopback_only: None) -> AsyncIterator[tuple[Any, int, int]]:
    # the warning comes 1 s into a 20-minute turn, so the test sees it without waiting for the end
    world, runner, sitting, room = await start_sitting_world(tmp_path, grading={"defense_warning_seconds": 1199})
    try:
        yield world, sitting, room
    finally:
        await world.close()
        await world.http.close()
        await runner.cleanup()


class FloorPeer(MediaPeer):
    """Counts each frame for the publisher its m-line carries *now*: the SFU reuses an idle m-line
    for the next presenter's camera, and aiortc fires no new ``track`` event for it."""

    def __init__(self, rc: RoomClient, publish: tuple[str, ...] = ()) -> None:
        super().__init__(rc, publish=publish)
        self.frames: dict[tuple[int | None, str], int] = {}

    def _on_track(self, pc: Any, track: Any) -> None:
        import asyncio

        from aiortc.mediastreams import MediaStreamError

        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)

        async def read() -> None:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                info = self._mids.get(transceiver.mid, {})
                key = (info.get("person_id"), track.kind)
                self.frames[key] = self.frames.get(key, 0) + 1

        task = asyncio.ensure_future(read())
        self._tasks.add(task)

    def video_frames_from(self, person_id: int) -> int:
        return self.frames.get((person_id, "video"), 0)

    def audio_frames_from(self, person_id: int) -> int:
        return self.frames.get((person_id, "audio"), 0)


async def enter(world: Any, username: str, room: int) -> RoomClient:
    c = await world.socket(username, room)
    await c.wait_for("welcome")
    return c


async def publish(peer: MediaPeer, sources: tuple[str, ...]) -> dict[str, Any]:
    """Offer ``sources`` on a new publish connection (the student's renegotiation when given the floor)."""
    from aiortc import RTCSessionDescription

    sdp, labels = await peer.offer(sources)
    ack = await peer.rc.call("media-renegotiate", {"sdp": sdp, "sources": labels})
    if ack.get("ok"):
        await peer.publish_pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    return ack


async def test_turns_move_the_presenter_grant_and_the_audience_follows(sw: tuple[Any, int, int]) -> None:
    world, sitting, room = sw
    ids = world.ids
    r = await world.request("GET", f"/api/sittings/{sitting}", "chr")
    queue = {t["student"]["username"]: t["id"] for t in (await r.json())["queue"]}
    assert (await r.json())["room"] == room

    chair = await enter(world, "chr", room)
    mem1 = await enter(world, "mem1", room)
    st1, st2 = await enter(world, "st1", room), await enter(world, "st2", room)
    st3 = await enter(world, "st3", room)
    aud = await enter(world, "out", room)  # a student of the group not in this queue: the public audience
    assert (await aud.wait_for("welcome"))["you"]["role"] == "audience"
    assert (await st1.wait_for("welcome"))["you"]["role"] == "presenter"

    p_chair = MediaPeer(chair, publish=("camera",))
    p_mem1 = MediaPeer(mem1, publish=())  # publishes once the chair opens the microphone
    p_st1, p_st2, p_aud = MediaPeer(st1, publish=()), MediaPeer(st2, publish=()), FloorPeer(aud)
    for p in (p_chair, p_mem1, p_st1, p_st2, p_aud):
        ack = await p.join()
        assert ack["ok"], ack

    # before the sitting's first turn nobody holds the floor; the audience publishes nothing, ever
    assert (await publish(p_aud, ("camera",)))["error"]["code"] == "not_allowed"
    assert (await publish(p_st1, ("camera",)))["error"]["code"] == "not_allowed"  # nobody on deck yet
    # the chair opens the sitting: st1 is on deck (camera and microphone on standby; no screen), st2 not
    r = await world.request("POST", f"/api/sittings/{sitting}/start", "chr")
    assert r.status == 200, await r.text()
    floor = await aud.wait_for("floor", lambda d: d["presenter"] is None)
    assert floor["on_deck"] == [ids["st1"]]
    assert (await publish(p_st2, ("camera",)))["error"]["code"] == "not_allowed"
    assert (await publish(p_st1, ("camera", "screen")))["error"]["code"] == "not_allowed"
    late = await enter(world, "mem2", room)  # a late joiner learns who is on deck
    assert (await late.wait_for("welcome"))["room"]["on_deck"] == [ids["st1"]]
    await late.close()
    ack = await aud.call("turn-start", {"turn_id": queue["st1"]})
    assert ack["error"]["code"] == "forbidden"
    ack = await mem1.call("turn-start", {"turn_id": queue["st1"]})
    assert ack["error"]["code"] == "forbidden"

    # turn 1: st1 gets the floor; everyone sees the turn and its timer
    ack = await chair.call("turn-start", {"turn_id": queue["st1"]})
    assert ack["ok"] and ack["presenter"] == ids["st1"], ack
    floor = await aud.wait_for("floor", lambda d: d["presenter"] == ids["st1"])
    assert floor["turn"]["ends_at"] - floor["turn"]["started_at"] == 20 * 60
    assert floor["turn"]["warn_at"] < floor["turn"]["ends_at"]
    assert floor["on_deck"] == [ids["st2"]]
    await aud.wait_for("turn-warning", lambda d: d["turn_id"] == queue["st1"])
    # st2 is next: camera and microphone on standby, no screen; st3 is not on deck
    assert (await publish(p_st2, ("camera", "microphone", "screen")))["error"]["code"] == "not_allowed"
    ack = await st3.call("media-join", {"sdp": "v=0", "sources": {"0": "camera"}})
    assert ack["error"]["code"] == "not_allowed", ack
    assert (await publish(p_st2, ("camera", "microphone")))["ok"]
    ack = await publish(p_st1, ("camera", "microphone", "screen"))
    assert ack["ok"], ack
    await until(lambda: p_aud.video_frames_from(ids["st1"]) >= 10, "the audience sees st1")
    await until(lambda: p_aud.video_frames_from(ids["st1"]) >= 60, "two seconds more of st1")
    assert p_aud.video_frames_from(ids["st2"]) == 0 and p_aud.audio_frames_from(ids["st2"]) == 0
    assert not [d for d in aud.events["track-added"] if d.get("person_id") == ids["st2"]]

    # a member's microphone: refused until the chair opens it
    assert (await publish(p_mem1, ("camera", "microphone")))["error"]["code"] == "not_allowed"
    assert (await chair.call("mic", {"person_id": ids["st2"], "open": True}))["error"]["code"] == "not_a_member"
    assert (await chair.call("mic", {"person_id": ids["mem1"], "open": True}))["ok"]
    await mem1.wait_for("mic", lambda d: d["person_id"] == ids["mem1"] and d["open"])
    ack = await publish(p_mem1, ("camera", "microphone"))
    assert ack["ok"], ack
    await until(lambda: p_aud.audio_frames_from(ids["mem1"]) >= 5, "the audience hears mem1")

    # a member drops out mid-turn: the sitting goes on
    await p_mem1.close()
    await mem1.close()

    # turn 2: the grant moves from st1 to st2 in one step; st1's tracks are taken off
    ack = await chair.call("turn-start", {"turn_id": queue["st2"]})
    assert ack["ok"] and ack["previous"] == ids["st1"], ack
    await st1.wait_for("track-removed", lambda d: d.get("person_id") == ids["st1"] and d.get("reason") == "floor")
    assert (await publish(p_st1, ("camera",)))["error"]["code"] == "not_allowed"
    # st2 was on deck: their standby tracks go live, nothing published again
    await until(lambda: p_aud.video_frames_from(ids["st2"]) >= 10, "the audience sees st2")
    await until(lambda: p_aud.audio_frames_from(ids["st2"]) >= 10, "the audience hears st2")
    before = p_aud.video_frames_from(ids["st1"])
    await until(lambda: p_aud.video_frames_from(ids["st2"]) >= 40, "more of st2")
    assert p_aud.video_frames_from(ids["st1"]) <= before + 5  # st1 no longer reaches the audience

    # the audience chats
    assert (await aud.call("chat", {"body": "good luck"}))["ok"]

    # §29 again: st3's lab graded fail since planning -> refused, the reason told to the chair
    with world.svc.db.session() as s:
        row = s.scalar(select(ControlResult).where(ControlResult.student_id == ids["st3"]))
        row.passed = False
    ack = await chair.call("turn-start", {"turn_id": queue["st3"]})
    assert ack["error"]["code"] == "not_admitted" and "§29" in ack["error"]["message"]
    assert "Lab report" in ack["error"]["message"]
    # st3 was on deck during st2's turn; refused, they leave the queue and the deck
    assert (await aud.wait_for("floor", lambda d: d["presenter"] == ids["st2"]))["on_deck"] == [ids["st3"]]
    queue_event = await aud.wait_for("queue", lambda d: d["on_deck"] == [])
    assert {t["student_id"]: t["status"] for t in queue_event["queue"]}[ids["st3"]] == "refused"
    ack = await st3.call("media-join", {"sdp": "v=0", "sources": {"0": "camera"}})
    assert ack["error"]["code"] == "not_allowed", ack

    # turn end: nobody holds the floor; the member who dropped out still enters points before sign-off
    assert (await chair.call("turn-end", {}))["ok"]
    await aud.wait_for("floor", lambda d: d["presenter"] is None)
    r = await world.request("PUT", f"/api/sittings/{sitting}/turns/{queue['st1']}/score", "mem1", json={"points": 88})
    assert r.status == 200, await r.text()
    q = {t["student"]["username"]: t for t in (await (await world.request("GET", f"/api/sittings/{sitting}", "chr")).json())["queue"]}
    assert q["st1"]["status"] == q["st2"]["status"] == "done" and q["st3"]["status"] == "refused"
    assert q["st2"]["recording_offset"] >= q["st1"]["recording_offset"] >= 0
    await st3.close()
    for p in (p_chair, p_st1, p_st2, p_aud):
        assert not p.errors, p.errors
        await p.close()
