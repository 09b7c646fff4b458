"""High 2: on-request consultations only for one's own students (§19); visibility from the curriculum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers.security import add_tutor, group_ids, people_ids
from tests.helpers.support import DemoClient


def adhoc(**extra: object) -> dict[str, object]:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    return {"title": "Extra consultation", "start": start.isoformat(), "minutes": 45, **extra}


async def test_a_tutor_cannot_reach_strangers_through_a_self_made_session(demo: DemoClient) -> None:
    await add_tutor(demo, "kairat")
    ids, groups = await people_ids(demo), await group_ids(demo)
    dana = ids["dana"]
    r = await demo.call("POST", "/api/sessions", "kairat", json=adhoc(student_ids=[dana], key="probe"))
    assert r.status == 403, await r.text()
    assert (await r.json())["error"]["code"] == "not_your_student"
    r = await demo.call("POST", "/api/sessions", "kairat", json=adhoc(group_id=groups["IS-21"], key="probe2"))
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_your_group"
    for path in (f"/api/students/{dana}/plan", f"/api/students/{dana}/schedule", f"/api/people/{dana}/schedule.ics",
                 f"/api/groups/{groups['IS-21']}/schedule.ics"):
        r = await demo.call("GET", path, "kairat")
        assert r.status == 403, (path, r.status)


async def test_a_tutor_of_another_group_cannot_book_its_students(demo: DemoClient) -> None:
    ids, groups = await people_ids(demo), await group_ids(demo)
    # nurlan teaches IS-21 only (NET210): EC-22 and its students are not his to book
    r = await demo.call("POST", "/api/sessions", "nurlan", json=adhoc(student_ids=[ids["yerlan"]]))
    assert r.status == 403
    r = await demo.call("POST", "/api/sessions", "nurlan", json=adhoc(group_id=groups["EC-22"], key="g"))
    assert r.status == 403
    # his own group is fine
    r = await demo.call("POST", "/api/sessions", "nurlan", json=adhoc(group_id=groups["IS-21"], student_ids=[ids["dana"]], key="own"))
    assert r.status == 200, await r.text()


async def test_the_offering_tutor_and_the_registrar_see_the_plan(demo: DemoClient) -> None:
    ids = await people_ids(demo)
    for who in ("aigerim", "reg", "dana"):
        r = await demo.call("GET", f"/api/students/{ids['dana']}/plan", who)
        assert r.status == 200, (who, await r.text())
    # a fellow student does not
    r = await demo.call("GET", f"/api/students/{ids['dana']}/plan", "timur")
    assert r.status == 403
