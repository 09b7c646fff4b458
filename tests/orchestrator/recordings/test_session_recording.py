"""Recording a session end to end: policy per kind, the room's indicator, the timeline, recording.ready on close."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import av
import numpy
import pytest
from aiortc.mediastreams import AudioStreamTrack

import tests.helpers.media_peer as media_peer
from media.recording.folder import read_manifest, read_timeline
from orchestrator.bus import Event
from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.recording import decode_track
from tests.helpers.rooms import RoomClient, World


class TalkingTrack(AudioStreamTrack):
    """1 s of a 440 Hz tone, then 1.5 s of silence, repeated: talk spurts the audio-level extension shows."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # silence, s16 mono at the track's rate
        rate = frame.sample_rate
        if (frame.pts / rate) % 2.5 < 1.0:
            n = numpy.arange(frame.pts, frame.pts + frame.samples) / rate
            frame.planes[0].update((8000 * numpy.sin(2 * math.pi * 440 * n)).astype(numpy.int16).tobytes())
        return frame


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    c = await world.socket(username, session_id)
    await c.wait_for("welcome")
    return c


def collect(world: World) -> list[Event]:
    seen: list[Event] = []

    async def keep(event: Event) -> None:
        seen.append(event)

    world.svc.bus.subscribe("recording.*", keep)
    return seen


def topics(events: list[Event]) -> list[str]:
    return [e.topic for e in events]


@pytest.mark.slow
async def test_a_defense_is_recorded_from_open_to_close_with_its_timeline(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_peer, "AudioStreamTrack", TalkingTrack)
    events = collect(world)
    sid = world.defense
    tom = await enter(world, "tom", sid)
    sam = await enter(world, "sam", sid)
    await world.svc.bus.publish("session.opened", {"session_id": sid, "kind": "defense"})
    assert topics(events) == ["recording.started"]
    started = events[0].payload
    folder = Path(started["folder"])
    await tom.wait_for("recording", lambda d: d["on"] is True)
    await sam.wait_for("recording", lambda d: d["on"] is True)
    r = await world.request("GET", f"/api/sessions/{sid}/recording", "sam")
    state = await r.json()
    assert state["on"] is True and state["policy"]["mode"] == "always" and state["can_toggle"] is False
    peer = MediaPeer(sam)
    await enter(world, "com", sid)
    await world.give_floor(sid, "sam")  # a student presents only with the floor
    try:
        ack = await peer.join()
        assert ack["ok"], ack
        assert (await tom.call("chat", {"body": "Please begin"}))["message"]
        assert "person_id" in await tom.call("presenter", {"person_id": world.ids["sam"]})
        manifest_path = folder / "manifest.json"

        def video_recorded() -> bool:
            m = read_manifest(folder) if manifest_path.exists() else None
            return m is not None and any(t.kind == "video" for t in m.tracks)

        await until(video_recorded, "the presenter's camera is being recorded")
        # three talk spurts of the tone
        await until(lambda: sum(e["type"] == "silent" for e in read_timeline(folder)) >= 2, "two talk spurts", 60)
        await world.svc.bus.publish("session.closed", {"session_id": sid})
    finally:
        await peer.close()
    assert topics(events) == ["recording.started", "recording.stopped", "recording.ready"]
    ready = events[-1].payload
    assert ready == {"session_id": sid, "recording_id": started["recording_id"], "folder": str(folder),
                     "status": "complete"}  # fmt: skip
    await tom.wait_for("recording", lambda d: d["on"] is False)
    manifest = read_manifest(folder)
    assert manifest.status == "complete" and manifest.session_id == str(sid)
    assert {(t.kind, t.source, t.status) for t in manifest.tracks} == {
        ("video", "camera", "complete"), ("audio", "microphone", "complete")}  # fmt: skip
    assert {t.display_name for t in manifest.tracks} == {"Sam"}
    for track in manifest.tracks:
        decoded = decode_track(folder / track.file)
        assert decoded.frames > 30 and decoded.errors == 0
    timeline = read_timeline(folder)
    types = [e["type"] for e in timeline]
    joins = {e["participant_id"]: e for e in timeline if e["type"] == "join"}
    assert joins[str(world.ids["tom"])]["role"] == "host" and joins[str(world.ids["tom"])]["t"] < 1.0
    assert joins[str(world.ids["com"])]["display_name"] == "Com"
    chat = next(e for e in timeline if e["type"] == "chat")
    assert chat["text"] == "Please begin" and chat["display_name"] == "Tom"
    assert next(e for e in timeline if e["type"] == "presenter")["participant_id"] == str(world.ids["sam"])
    speaking = [e for e in timeline if e["type"] == "speaking"]
    assert speaking and all(e["participant_id"] == str(world.ids["sam"]) and e["level_dbov"] > -30 for e in speaking)
    for kind in ("publish", "unpublish"):
        assert types.count(kind) == 2
    assert [e["state"] for e in timeline if e["type"] == "recording"] == ["started", "stopped"]
    ts = [e["t"] for e in timeline]
    assert all(b >= a - 0.05 for a, b in zip(ts, ts[1:], strict=False))  # one clock, in order


@pytest.mark.slow
async def test_a_consultation_is_recorded_when_its_host_chooses(world: World) -> None:
    events = collect(world)
    sid = world.consult
    tom = await enter(world, "tom", sid)
    await world.svc.bus.publish("session.opened", {"session_id": sid, "kind": "consultation"})
    assert events == []  # the host has not chosen: nothing is recorded
    r = await world.request("POST", f"/api/sessions/{sid}/recording", "stu", json={"on": True})
    assert r.status == 403  # students may not (the route's role gate)
    r = await world.request("GET", f"/api/sessions/{sid}/recording", "zed")
    assert r.status == 403
    r = await world.request("POST", f"/api/sessions/{world.defense}/recording", "tom", json={"on": False})
    assert r.status == 403 and (await r.json())["error"]["code"] == "recording_required"
    r = await world.request("POST", f"/api/sessions/{sid}/recording", "tom", json={"on": "yes please"})
    assert r.status == 422
    r = await world.request("POST", f"/api/sessions/{sid}/recording", "tom", json={"on": True})
    assert r.status == 200, await r.text()
    assert (await r.json())["on"] is True
    await tom.wait_for("recording", lambda d: d["on"] is True)
    r = await world.request("GET", f"/api/sessions/{sid}/recording", "tom")
    state = await r.json()
    assert state["policy"] == {"mode": "host", "on": True, "why": "the host turned recording on"}
    assert state["can_toggle"] is True
    r = await world.request("POST", f"/api/sessions/{sid}/recording", "tom", json={"on": False})
    assert r.status == 200 and (await r.json())["on"] is False
    assert topics(events) == ["recording.started", "recording.stopped", "recording.ready"]
    assert events[-1].payload["status"] == "complete"
    await tom.wait_for("recording", lambda d: d["on"] is False)
    await asyncio.sleep(0)  # a second stop is a no-op
    await world.svc.bus.publish("session.closed", {"session_id": sid})
    assert len(events) == 3




@pytest.mark.slow
async def test_room_events_on_another_node_reach_the_recording_timeline(world: World) -> None:
    """Node B holds a socket, node A the room's media and its recording: B's lines land in A's timeline."""
    from orchestrator.recordings import Recordings

    events = collect(world)
    sid = world.defense
    tom = await enter(world, "tom", sid)
    await world.svc.bus.publish("session.opened", {"session_id": sid, "kind": "defense"})
    folder = Path(events[0].payload["folder"])
    # the app's own Recordings is node A; node B is a second one on the same media root and bus
    node_b = Recordings(world.svc)
    world.svc.bus.subscribe("recording.*", node_b.on_recording_event)
    node_b.observe("chat", {"id": 99, "sender_id": 5, "sender_name": "Zara", "body": "from the other node"}, sid)
    node_b.observe("member-left", {"person_id": 5}, sid)
    node_b.observe("hand", {"person_id": 5, "raised": True}, sid)  # not a timeline event
    await until(lambda: any(e.get("text") == "from the other node" for e in read_timeline(folder)), "B's chat line")
    await until(lambda: any(e["type"] == "leave" for e in read_timeline(folder)), "B's leave line")
    await world.svc.bus.publish("session.closed", {"session_id": sid})
    node_b.observe("chat", {"id": 100, "sender_id": 5, "sender_name": "Zara", "body": "after the end"}, sid)
    await asyncio.sleep(0.5)
    await node_b.close()
    assert not any(e.get("text") == "after the end" for e in read_timeline(folder))
    assert read_manifest(folder).status == "complete"
    assert tom.events["recording"][-1]["on"] is False
