"""Issue 13 §1.4 and §2 on the wire: first admission is not a return, auto-admit pauses without a host,
microphone/camera state reaches everyone, "ask everyone to mute"."""

from __future__ import annotations

import asyncio

from tests.helpers.rooms import RoomClient, World


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    client = await world.socket(username, session_id)
    await client.wait_for("welcome")
    return client


async def test_a_first_admission_is_not_a_return(world: World) -> None:
    tom = await enter(world, "tom", world.consult)
    stu = await world.socket("stu", world.consult)
    await stu.wait_for("lobby")
    await tom.call("admit", {"person_id": world.ids["stu"]})
    assert (await stu.wait_for("welcome"))["resumed"] is False  # was True: "You are back in the room"


async def test_auto_admit_pauses_while_no_host_is_in_the_room(world: World) -> None:
    tom = await enter(world, "tom", world.consult)
    assert (await tom.call("lobby-policy", {"auto_admit": True}))["ok"] is True
    stu = await enter(world, "stu", world.consult)  # host present: straight in
    await tom.close()
    await asyncio.wait_for(tom.disconnected.wait(), 10)
    await stu.wait_for("member-left", lambda d: d["person_id"] == world.ids["tom"])

    sam = await world.socket("sam", world.consult)
    lobby = await sam.wait_for("lobby")  # was: let in with nobody to host
    assert "no host" in lobby["message"]
    assert "welcome" not in sam.events

    await enter(world, "tom", world.consult)  # the host is back: the paused auto-admit lets sam in
    assert (await sam.wait_for("welcome"))["resumed"] is False


async def test_media_state_and_ask_everyone_to_mute(world: World) -> None:
    tom = await enter(world, "tom", world.defense)  # defense: auto-admit
    sam = await enter(world, "sam", world.defense)
    stu = await enter(world, "stu", world.defense)
    assert (await sam.call("media-state", {"microphone": False, "camera": True}))["ok"] is True
    state = await tom.wait_for("media-state")
    assert state == {"person_id": world.ids["sam"], "microphone": False, "camera": True}
    await tom.call("state", {})
    welcome = tom.events["welcome"][-1]
    me = next(m for m in welcome["members"] if m["person_id"] == world.ids["sam"])
    assert me["microphone"] is False and me["camera"] is True
    assert (await sam.call("media-state", {"microphone": "yes", "camera": True}))["error"]["code"] == "bad_event"

    assert (await stu.call("mute-all", {}))["error"]["code"] == "forbidden"
    assert (await tom.call("mute-all", {}))["ok"] is True
    for who in (sam, stu):
        asked = await who.wait_for("mute-requested")
        assert asked["source"] == "microphone" and asked["muted"] is True and asked["everyone"] is True
    await asyncio.sleep(0.3)
    assert "mute-requested" not in tom.events
