"""Issue 13 §2: in a consultation the host's "make presenter" hands over the share-screen control.

Real aiortc peers through Socket.IO and the in-process SFU, on 127.0.0.1 only. A student's join grant
has no screen; while the host has made them presenter they may share one (the signaling choke point
and the media plane both let it through, the others receive it); when the host moves the presenter
on or takes it back, that share is taken off the air at once and a new screen offer is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCSessionDescription

from tests.helpers.media_peer import MediaPeer, until
from tests.helpers.rooms import RoomClient, World

pytestmark = pytest.mark.slow


async def enter(world: World, username: str) -> RoomClient:
    c = await world.socket(username, world.consult)
    await c.wait_for("welcome")
    return c


async def publish(peer: MediaPeer, sources: tuple[str, ...]) -> dict[str, Any]:
    """A new publish offer with ``sources`` (what the page sends when a share starts)."""
    sdp, labels = await peer.offer(sources)
    ack = await peer.rc.call("media-renegotiate", {"sdp": sdp, "sources": labels})
    if ack.get("ok"):
        await peer.publish_pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))  # type: ignore[union-attr]
    return ack


def screens(peer: MediaPeer, person_id: int) -> int:
    return sum(i.frames for i in peer.incoming.values() if i.person_id == person_id and i.source == "screen")


async def test_the_presenter_gets_the_screen_and_loses_it_with_the_role(world: World) -> None:
    ids = world.ids
    tom = await enter(world, "tom")
    await tom.call("lobby-policy", {"auto_admit": True})
    stu, sam = await enter(world, "stu"), await enter(world, "sam")
    peers = {"tom": MediaPeer(tom), "stu": MediaPeer(stu, publish=()), "sam": MediaPeer(sam, publish=())}
    try:
        for peer in peers.values():
            assert (await peer.join())["ok"] is True
        # a participant's own grant: camera and microphone, no screen
        refused = await publish(peers["stu"], ("camera", "microphone", "screen"))
        assert refused["error"]["code"] == "not_allowed", refused

        # the host makes stu presenter: the screen is stu's to share, and the others receive it
        made = await tom.call("presenter", {"person_id": ids["stu"]})
        assert made["ok"] and made["person_id"] == ids["stu"]
        ack = await publish(peers["stu"], ("camera", "microphone", "screen"))
        assert ack["ok"], ack
        await until(lambda: screens(peers["sam"], ids["stu"]) >= 10, "sam receives stu's screen", 40)
        await until(lambda: screens(peers["tom"], ids["stu"]) >= 10, "tom receives stu's screen", 40)
        added = await sam.wait_for("track-added", lambda d: d["person_id"] == ids["stu"] and d["source"] == "screen")
        assert added["kind"] == "video"
        # sam, not presenter, is still refused
        assert (await publish(peers["sam"], ("camera", "screen")))["error"]["code"] == "not_allowed"

        # the host moves the role to sam: stu's screen leaves the air in the same step, sam may share
        await tom.call("presenter", {"person_id": ids["sam"]})
        gone = await tom.wait_for("track-removed", lambda d: d["person_id"] == ids["stu"] and d["source"] == "screen")
        assert gone["person_id"] == ids["stu"]
        assert (await publish(peers["stu"], ("camera", "screen")))["error"]["code"] == "not_allowed"
        assert (await publish(peers["sam"], ("camera", "microphone", "screen")))["ok"]
        await until(lambda: screens(peers["tom"], ids["sam"]) >= 10, "tom receives sam's screen", 40)

        # taken back: nobody presents, sam's share ends, the host keeps their own screen control
        await tom.call("presenter", {"person_id": None})
        await tom.wait_for("track-removed", lambda d: d["person_id"] == ids["sam"] and d["source"] == "screen")
        assert (await publish(peers["sam"], ("camera", "screen")))["error"]["code"] == "not_allowed"
        assert (await publish(peers["tom"], ("camera", "microphone", "screen")))["ok"]
        # a participant cannot hand the role to themselves
        assert (await stu.call("presenter", {"person_id": ids["stu"]}))["error"]["code"] == "forbidden"
        for name, peer in peers.items():
            assert not peer.errors, (name, peer.errors)
    finally:
        for peer in peers.values():
            await peer.close()
