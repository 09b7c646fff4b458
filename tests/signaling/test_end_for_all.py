"""§1 defect 1 of issue 13: "End session for all" ends the session everywhere, not only the room.

Before: the room closed, but ``GET /api/sessions/{id}`` still said open, "My schedule" kept the
join link and ``/join`` kept issuing tokens (the page opened the camera before saying it ended).
"""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.store.models import Transition
from tests.helpers.rooms import World


async def test_end_for_all_closes_the_session_once_and_every_view_follows(world: World) -> None:
    sid = world.consult
    tom = await world.socket("tom", sid)
    await tom.wait_for("welcome")
    assert (await tom.call("end", {"reason": "we are done early"}))["ok"] is True
    await tom.wait_for("session-ended")

    r = await world.request("GET", f"/api/sessions/{sid}", "stu")
    assert r.status == 200 and (await r.json())["status"] == "closed"
    r = await world.request("GET", "/api/me/schedule", "stu")
    mine = next(s for s in (await r.json())["sessions"] if s["id"] == sid)
    assert mine["status"] == "closed"  # the page shows a join link only for open/live
    r = await world.request("POST", f"/api/sessions/{sid}/join", "stu")
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "session_ended", body

    # a second "end" (another node, a double click) records nothing more
    from orchestrator.lifecycle import close_now

    assert await close_now(world.svc, sid, by=world.ids["tom"]) == []

    def closed(s: object) -> list[tuple[str, str]]:
        rows = s.scalars(select(Transition).where(Transition.session_id == sid))  # type: ignore[attr-defined]
        return [(t.from_status, t.to_status) for t in rows]

    assert await world.svc.db_call(closed) == [("open", "closed")]


async def test_a_student_cannot_end_it(world: World) -> None:
    stu = await world.socket("stu", world.consult)
    await stu.wait_for("lobby")
    r = await world.request("GET", f"/api/sessions/{world.consult}", "stu")
    assert (await r.json())["status"] == "open"
