"""Medium 9: revoking a join token is bound to its session, and the revoked person goes back to the lobby."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.helpers.rooms import World


def second_session_hosted_by_com(world: World) -> int:
    """Setup only: another open consultation whose host is ``com`` (not a moderator of world.consult)."""
    from orchestrator.store.models import SessionRecord

    now = datetime.now(UTC)
    with world.svc.db.session() as s:
        row = SessionRecord(key="c2", kind="consultation", title="Other", start_at=now - timedelta(minutes=5),
                            end_at=now + timedelta(hours=1), status="open", tutor_id=world.ids["com"])  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


async def test_a_host_of_another_session_cannot_revoke(world: World) -> None:
    other = second_session_hosted_by_com(world)
    tom = await world.socket("tom", world.consult)
    await tom.wait_for("welcome")
    await tom.call("lobby-policy", {"auto_admit": True})
    joined = await world.join("stu", world.consult)
    stu = await world.socket("stu", world.consult, joined["token"])
    await stu.wait_for("welcome")
    r = await world.request("POST", f"/api/sessions/{other}/grants/{joined['jti']}/revoke", "com")
    assert r.status == 404, await r.text()
    await asyncio.sleep(0.5)  # a kick would have been sent by now (KICK_DELAY 0.3 s); none may come
    assert "removed" not in stu.events and not stu.disconnected.is_set()
    # the token still opens the room
    again = await world.socket("stu", world.consult, joined["token"])
    await again.wait_for("welcome")


async def test_a_revoked_person_comes_back_to_the_lobby(world: World) -> None:
    tom = await world.socket("tom", world.consult)
    await tom.wait_for("welcome")
    await tom.call("lobby-policy", {"auto_admit": True})
    joined = await world.join("stu", world.consult)
    stu = await world.socket("stu", world.consult, joined["token"])
    await stu.wait_for("welcome")
    r = await world.request("POST", f"/api/sessions/{world.consult}/grants/{joined['jti']}/revoke", "tom")
    assert r.status == 200, await r.text()
    await stu.wait_for("removed")
    await asyncio.wait_for(stu.disconnected.wait(), 10)
    # a fresh token lands in the lobby, even with auto-admit on; the host lets them in again
    back = await world.socket("stu", world.consult)
    await back.wait_for("lobby")
    assert "welcome" not in back.events
    await tom.call("admit", {"person_id": world.ids["stu"]})
    await back.wait_for("welcome")
