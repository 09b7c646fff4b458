"""Join grants: the role table, and every way a token is refused (forged, expired, early, wrong session, revoked)."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import jwt
import pytest

from signaling.grants import GRANTS, Grant, GrantError, JoinClaims, grant_for, issue, verify
from tests.helpers.rooms import RoomClient, World

KEY = "k" * 48
NOW = 1_800_000_000.0


def token(**over: object) -> str:
    base = dict(person_id=7, session_id=42, name="Aigerim", grant=grant_for("consultation", "participant"),
                not_before=NOW - 600, expires=NOW + 3600)  # fmt: skip
    base.update(over)
    return issue(KEY, JoinClaims(**base))  # type: ignore[arg-type]


def code_of(tok: str, **kw: object) -> str:
    args: dict = {"session_id": 42, "now": NOW, **kw}
    with pytest.raises(GrantError) as exc:
        verify(tok, KEY, **args)
    return exc.value.code


def test_valid_token_round_trips() -> None:
    claims = verify(token(), KEY, session_id=42, now=NOW)
    assert claims.person_id == 7 and claims.name == "Aigerim"
    assert claims.grant.publish == ("camera", "microphone") and not claims.grant.moderate


def test_forged_tokens() -> None:
    assert code_of(issue("another key" * 4, JoinClaims(7, 42, "x", grant_for("consultation", "host"), NOW - 1,
                                                       NOW + 60))) == "forged"  # fmt: skip
    # a student edits their grant to moderate: the signature no longer matches
    head, body, sig = token().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["grant"]["moderate"] = True
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert code_of(f"{head}.{edited}.{sig}") == "forged"
    # alg=none and garbage
    unsigned = jwt.encode({"sub": "7", "sid": 42}, key=None, algorithm="none")
    assert code_of(unsigned) == "forged"
    assert code_of("not.a.jwt") == "forged"
    assert code_of("") == "missing_token"


def test_time_window_and_session() -> None:
    assert code_of(token(), now=NOW + 3600) == "expired"
    assert code_of(token(), now=NOW - 601) == "not_yet_valid"
    assert code_of(token(), session_id=43) == "wrong_session"
    revoked = token(jti="abc")
    assert code_of(revoked, is_revoked=lambda jti: jti == "abc") == "revoked"


def test_one_table_maps_roles_to_grants() -> None:
    assert grant_for("consultation", "tutor") == grant_for("consultation", "host")
    assert grant_for("consultation", "host").moderate and grant_for("consultation", "host").can_publish("screen")
    student = grant_for("consultation", "student")
    assert student.can_publish("camera") and not student.can_publish("screen") and not student.moderate
    presenter = grant_for("defense", "presenter")
    assert presenter.can_publish("screen") and presenter.can_publish("screen_audio") and presenter.featured
    audience = grant_for("defense", "audience")
    assert audience.publish == () and audience.chat and audience.subscribe and not audience.sees_all_cameras
    assert grant_for("control", "participant") == student  # other kinds follow consultations
    assert all(isinstance(g, Grant) for table in GRANTS.values() for g in table.values())
    with pytest.raises(GrantError):
        grant_for("defense", "janitor")


async def test_http_join_only_for_people_in_the_plan(world: World) -> None:
    r = await world.request("POST", f"/api/sessions/{world.consult}/join", "zed")  # student of G2
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_participant"
    r = await world.request("POST", "/api/sessions/99999/join", "stu")
    assert r.status == 404
    body = await world.join("reg", world.consult)
    assert body["grant"]["role"] == "observer" and body["grant"]["publish"] == []
    body = await world.join("sam", world.defense)
    assert body["grant"]["role"] == "presenter" and body["ice_servers"] == []
    body = await world.join("stu", world.defense)
    assert body["grant"]["role"] == "audience"


async def test_socket_refuses_expired_wrong_and_revoked_tokens(world: World) -> None:
    key = world.svc.settings.signing_key()
    now = time.time()
    grant = grant_for("consultation", "participant")

    async def refused(tok: str) -> str:
        c = RoomClient("x")
        world.clients.append(c)
        with pytest.raises(Exception):  # noqa: B017 - socketio's ConnectionError
            await c.connect(world.url, tok)
        return c.connect_error["data"]["code"]

    sid, pid = world.consult, world.ids["stu"]
    assert await refused(issue(key, JoinClaims(pid, sid, "Stu", grant, now - 600, now - 1))) == "expired"
    assert await refused(issue(key, JoinClaims(pid, sid, "Stu", grant, now + 600, now + 900))) == "not_yet_valid"
    assert await refused(issue("other" * 10, JoinClaims(pid, sid, "Stu", grant, now - 1, now + 60))) == "forged"
    assert await refused(issue(key, JoinClaims(pid, 99999, "Stu", grant, now - 1, now + 60))) == "not_found"

    # revoke while connected: the holder is removed at once, and cannot come back
    tom = await world.socket("tom", world.consult)
    await tom.wait_for("welcome")
    await tom.call("lobby-policy", {"auto_admit": True})
    joined = await world.join("stu", world.consult)
    stu = await world.socket("stu", world.consult, joined["token"])
    await stu.wait_for("welcome")
    r = await world.request("POST", f"/api/sessions/{world.consult}/grants/{joined['jti']}/revoke", "stu")
    assert r.status == 403  # a student cannot revoke
    r = await world.request("POST", f"/api/sessions/{world.consult}/grants/{joined['jti']}/revoke", "tom")
    assert r.status == 200, await r.text()
    removed = await stu.wait_for("removed")
    assert "revoked" in removed["reason"] and (removed["reason_code"], removed["reason_params"]) == ("link_revoked", {})
    await asyncio.wait_for(stu.disconnected.wait(), 10)
    assert await refused(joined["token"]) == "revoked"


def test_a_consultation_presenter_gains_the_screen_and_nobody_else_does() -> None:
    from signaling.grants import presenting

    participant = grant_for("consultation", "participant")
    assert not participant.can_publish("screen")
    assert presenting(participant, True).can_publish("screen")
    assert presenting(participant, True).can_publish("camera")
    assert presenting(participant, False) == participant
    observer, host = grant_for("consultation", "observer"), grant_for("consultation", "host")
    assert presenting(observer, True) == observer  # publishes nothing: being named changes nothing
    assert presenting(host, True) == host
