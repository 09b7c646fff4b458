"""Socket.IO signaling against the real server: lobby, presence, hands, chat, reconnect, refusals."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from signaling.protocol import MAX_EVENT_BYTES
from tests.helpers.rooms import RoomClient, World


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    client = await world.socket(username, session_id)
    await client.wait_for("welcome")
    return client


async def test_lobby_admit_presence_hand_chat_history(world: World) -> None:
    tom = await enter(world, "tom", world.consult)
    welcome = tom.events["welcome"][0]
    assert welcome["you"]["grant"]["moderate"] is True and welcome["room"]["auto_admit"] is False
    assert welcome["session"]["id"] == world.consult

    stu = await world.socket("stu", world.consult)
    lobby = await stu.wait_for("lobby")
    assert lobby["you"]["role"] == "participant"
    waiting = await tom.wait_for("waiting")
    assert waiting["person_id"] == world.ids["stu"]
    # in the lobby nothing but `state` is accepted
    refused = await stu.call("chat", {"body": "let me in"})
    assert refused["ok"] is False and refused["error"]["code"] == "not_admitted"
    assert (await stu.wait_for("error"))["code"] == "not_admitted"

    # a student cannot admit; the host can
    assert (await stu.call("admit", {"person_id": world.ids["stu"]}))["error"]["code"] == "not_admitted"
    assert (await tom.call("admit", {"person_id": world.ids["stu"]}))["ok"] is True
    welcome = await stu.wait_for("welcome")
    assert {m["person_id"] for m in welcome["members"] if m["online"]} == {world.ids["tom"], world.ids["stu"]}
    joined = await tom.wait_for("member-joined")
    assert joined["person_id"] == world.ids["stu"] and joined["online"] is True
    assert (await tom.wait_for("waiting-left"))["admitted"] is True

    # hand raise reaches the host
    assert (await stu.call("hand", {"raised": True}))["ok"] is True
    hand = await tom.wait_for("hand")
    assert hand == {"person_id": world.ids["stu"], "raised": True, "by": world.ids["stu"]}
    # a student may not lower someone else's hand, the host may
    other = await stu.call("hand", {"raised": False, "person_id": world.ids["tom"]})
    assert other["error"]["code"] == "forbidden"

    # chat crosses, with server identity and timestamps
    ack = await stu.call("chat", {"body": "hello tutor", "client_id": "c-1"})
    assert ack["ok"] is True
    got = await tom.wait_for("chat", lambda m: m["body"] == "hello tutor")
    assert got["sender_id"] == world.ids["stu"] and got["sender_name"] == "Stu" and got["client_id"] == "c-1"
    assert got["sent_at"].endswith("+00:00")
    await tom.call("chat", {"body": "hello student"})

    # a late joiner gets history and the raised hand in the member list
    await tom.call("lobby-policy", {"auto_admit": True})
    sam = await enter(world, "sam", world.consult)
    welcome = sam.events["welcome"][0]
    assert [m["body"] for m in welcome["history"]] == ["hello tutor", "hello student"]
    assert {m["person_id"]: m["hand_raised"] for m in welcome["members"]}[world.ids["stu"]] is True

    # presence: leaving is seen
    await sam.close()
    left = await tom.wait_for("member-left")
    assert left["person_id"] == world.ids["sam"]


async def test_reconnect_restores_state(world: World) -> None:
    tom = await enter(world, "tom", world.consult)
    token = (await world.join("stu", world.consult))["token"]
    stu = await world.socket("stu", world.consult, token)
    await tom.wait_for("waiting")
    await tom.call("admit", {"person_id": world.ids["stu"]})
    await stu.wait_for("welcome")
    await stu.call("hand", {"raised": True})
    await stu.close()  # page reload
    await tom.wait_for("member-left")
    again = await world.socket("stu", world.consult, token)
    welcome = await again.wait_for("welcome")  # no second lobby: admission is remembered
    assert welcome["resumed"] is True
    me = next(m for m in welcome["members"] if m["person_id"] == world.ids["stu"])
    assert me["hand_raised"] is True and me["online"] is True
    assert "lobby" not in again.events


async def test_moderation_remove_mute_presenter_end(world: World) -> None:
    tom = await enter(world, "tom", world.defense)  # defense: auto-admit
    sam = await enter(world, "sam", world.defense)
    stu = await enter(world, "stu", world.defense)
    assert sam.events["welcome"][0]["you"]["role"] == "presenter"
    assert stu.events["welcome"][0]["you"]["grant"]["publish"] == []

    assert (await stu.call("remove", {"person_id": world.ids["sam"]}))["error"]["code"] == "forbidden"
    assert (await stu.call("end", {}))["error"]["code"] == "forbidden"

    await tom.call("mute-request", {"person_id": world.ids["sam"], "source": "microphone"})
    assert (await sam.wait_for("mute-requested")) == {"source": "microphone", "muted": True, "by": world.ids["tom"]}
    assert "mute-requested" not in stu.events

    await tom.call("presenter", {"person_id": world.ids["sam"]})
    assert (await stu.wait_for("presenter"))["person_id"] == world.ids["sam"]

    assert (await tom.call("remove", {"person_id": world.ids["stu"], "reason": "disruptive"}))["ok"] is True
    removed = await stu.wait_for("removed")
    assert removed["reason"] == "disruptive" and removed["reason_code"] is None  # typed by the host: shown as typed
    await asyncio.wait_for(stu.disconnected.wait(), 10)
    # back again: a removed person waits in the lobby even though the defense auto-admits
    back = await world.socket("stu", world.defense)
    await back.wait_for("lobby")
    assert (await tom.wait_for("waiting"))["removed_before"] is True

    sue_token = (await world.join("sue", world.defense))["token"]  # issued before the end
    await tom.call("end", {"reason": "defense over"})
    ended = await sam.wait_for("session-ended")
    assert ended["reason"] == "defense over" and ended["by"] == world.ids["tom"]
    await asyncio.wait_for(sam.disconnected.wait(), 10)
    late = RoomClient("late")
    world.clients.append(late)
    # the session is closed now (issue 13 §1.1): a token issued before the end is refused at connect
    with pytest.raises(socketio.exceptions.ConnectionError):
        await late.connect(world.url, sue_token)
    assert late.connect_error["data"]["code"] == "session_ended"


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("chat", {"body": ""}, "bad_event"),
        ("chat", {"text": "wrong field"}, "bad_event"),
        ("chat", "not an object", "bad_event"),
        ("hand", {"raised": "maybe"}, "bad_event"),
        ("chat", {"body": "x" * (MAX_EVENT_BYTES + 10)}, "too_large"),
        ("media-join", {"sdp": "v=0\r\n" + "a" * 40_000}, "bad_event"),
        ("no-such-event", {}, "unknown_event"),
        ("admit", {"person_id": 1}, "forbidden"),
        ("chat-delete", {"message_id": 1, "reason": "x"}, "forbidden"),
        ("media-join", {"sdp": None, "sources": {"0": "screen"}}, "not_allowed"),
    ],
)
async def test_malformed_oversized_unauthorized_events_get_error(
    world: World, event: str, payload: object, code: str
) -> None:
    await world.request("POST", f"/api/sessions/{world.defense}/join", "tom")
    stu = await enter(world, "stu", world.defense)  # audience: no publish, no moderate
    ack = await stu.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    err = await stu.wait_for("error")
    assert err["code"] == code and err["event"] == event[:64] and err["message"]


async def test_student_cannot_publish_screen_in_consultation(world: World) -> None:
    await enter(world, "tom", world.consult)
    await world.socket("tom", world.consult)
    stu = await world.socket("stu", world.consult)
    await stu.wait_for("lobby")
    tom = world.clients[0]
    await tom.call("admit", {"person_id": world.ids["stu"]})
    await stu.wait_for("welcome")
    ack = await stu.call("media-join", {"sdp": None, "sources": {"0": "screen"}})
    assert ack["error"]["code"] == "not_allowed"


async def test_connect_refusals_carry_codes(world: World) -> None:
    c = RoomClient("x")
    world.clients.append(c)
    with pytest.raises(Exception):  # noqa: B017 - socketio raises its ConnectionError
        await c.connect(world.url, "not-a-jwt")
    assert c.connect_error["data"]["code"] == "forged"
    d = RoomClient("y")
    world.clients.append(d)
    with pytest.raises(Exception):  # noqa: B017
        await d.sio.connect(world.url, transports=["websocket"], wait_timeout=10)
    assert d.connect_error["data"]["code"] == "missing_token"


async def test_lifecycle_events_open_and_close_the_room(world: World) -> None:
    router = world.svc.media_router
    assert router is not None
    await world.svc.bus.publish("session.opened", {"session_id": world.defense, "kind": "defense"})
    assert f"session-{world.defense}" in router.owned  # media placed ahead of time, when the session opens
    await world.svc.bus.publish("session.opened", {"session_id": world.defense, "kind": "defense"})  # idempotent
    assert list(router.owned).count(f"session-{world.defense}") == 1
    stu = await enter(world, "stu", world.defense)
    await world.svc.bus.publish("session.closed", {"session_id": world.defense, "kind": "defense"})
    ended = await stu.wait_for("session-ended")
    assert ended["by"] is None and "over" in ended["reason"] and ended["reason_code"] == "time_over"
    await asyncio.wait_for(stu.disconnected.wait(), 10)
    assert f"session-{world.defense}" not in router.owned
