"""Medium 3: during open/live time the thread over HTTP obeys the room's lobby, removal and denial."""

from __future__ import annotations

from tests.helpers.rooms import World


async def post(world: World, who: str, text: str) -> int:
    r = await world.request("POST", f"/api/sessions/{world.consult}/messages", who, json={"body": text})
    return r.status


async def read(world: World, who: str) -> int:
    return (await world.request("GET", f"/api/sessions/{world.consult}/chat", who)).status


async def test_lobby_removed_and_denied_people_neither_read_nor_write(world: World) -> None:
    tom = await world.socket("tom", world.consult)
    await tom.wait_for("welcome")
    # never joined the live room: refused
    assert await post(world, "stu", "hello from outside") == 403
    assert await read(world, "stu") == 403
    # waiting in the lobby: refused
    sue = await world.socket("sue", world.consult)
    await sue.wait_for("lobby")
    assert await post(world, "sue", "let me in") == 403
    assert await read(world, "sue") == 403
    # admitted: allowed
    await tom.call("admit", {"person_id": world.ids["sue"]})
    await sue.wait_for("welcome")
    assert await post(world, "sue", "thanks") == 200
    assert await read(world, "sue") == 200
    # removed: refused again
    await tom.call("remove", {"person_id": world.ids["sue"], "reason": "probe"})
    await sue.wait_for("removed")
    assert await post(world, "sue", "I am back over HTTP") == 403
    assert await read(world, "sue") == 403
    # denied at the lobby: refused
    sam = await world.socket("sam", world.consult)
    await sam.wait_for("lobby")
    await tom.call("deny", {"person_id": world.ids["sam"], "reason": "not now"})
    await sam.wait_for("denied")
    assert await post(world, "sam", "over HTTP then") == 403
    assert await read(world, "sam") == 403
    # the host is unaffected, and nothing the refused people wrote reached the thread
    r = await world.request("GET", f"/api/sessions/{world.consult}/chat", "tom")
    bodies = [m["body"] for m in (await r.json())["messages"]]
    assert bodies == ["thanks"]
