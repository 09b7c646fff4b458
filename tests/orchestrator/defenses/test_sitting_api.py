"""The sitting over HTTP on a real server: queue, points, closing, sign-off, changes; every refusal named."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.defenses.models import DefenseGrade, GradeChange, Score
from orchestrator.store.models import AuditEntry, ControlResult
from tests.helpers.defenses import DefenseClient, serve_defense


@pytest.fixture
async def dc(tmp_path: Path) -> Any:
    async with serve_defense(tmp_path) as client:
        yield client


async def _queue(dc: DefenseClient, sid: int, who: str = "chr") -> list[dict[str, Any]]:
    return (await dc.ok("GET", f"/api/sittings/{sid}", who))["queue"]


async def _error(r: Any, status: int) -> str:
    assert r.status == status, await r.text()
    body = await r.json()
    assert "Traceback" not in body["error"]["message"]
    return body["error"]["message"]


async def test_sitting_comes_from_the_plan_and_its_queue_is_reordered_before_the_start(dc: DefenseClient) -> None:
    mine = (await dc.ok("GET", "/api/sittings", "chr"))["sittings"]
    assert len(mine) == 1 and mine[0]["my_seat"] == "chair" and mine[0]["students"] == 3
    sid = mine[0]["id"]
    assert (await dc.ok("GET", "/api/sittings", "mem1"))["sittings"][0]["my_seat"] == "member"
    assert (await dc.ok("GET", "/api/sittings", "oth"))["sittings"] == []  # another committee's member
    await _error(await dc.call("GET", f"/api/sittings/{sid}", "oth"), 403)
    await _error(await dc.call("GET", f"/api/sittings/{sid}", "out"), 403)  # a student not in the queue
    q = await _queue(dc, sid)
    assert [t["student"]["username"] for t in q] == ["st1", "st2", "st3"]

    # members cannot reorder; the chair can; the registrar names a secretary, who can too
    assert "chair or the secretary" in await _error(
        await dc.call("PUT", f"/api/sittings/{sid}/order", "mem1", json={"students": ["st3", "st2", "st1"]}), 403)
    await dc.ok("PUT", f"/api/sittings/{sid}/order", "chr", json={"students": ["st3", "st1", "st2"]})
    await _error(await dc.call("PUT", f"/api/sittings/{sid}/secretary", "chr", json={"username": "sec"}), 403)
    await dc.ok("PUT", f"/api/sittings/{sid}/secretary", "reg", json={"username": "sec"})
    await dc.ok("PUT", f"/api/sittings/{sid}/order", "sec", json={"students": ["st2", "st3", "st1"]})
    assert [t["student"]["username"] for t in await _queue(dc, sid, "sec")] == ["st2", "st3", "st1"]
    msg = await _error(await dc.call("PUT", f"/api/sittings/{sid}/order", "chr", json={"students": ["st1", "st2"]}), 422)
    assert "every student of the queue once" in msg
    await _error(await dc.call("PUT", f"/api/sittings/{sid}/order", "chr", json={"students": ["st1", "st1", "st2"]}), 422)

    await dc.ok("POST", f"/api/sittings/{sid}/start", "chr")
    assert "before the sitting starts" in await _error(
        await dc.call("PUT", f"/api/sittings/{sid}/order", "chr", json={"students": ["st1", "st2", "st3"]}), 403)


async def _turn_ids(dc: DefenseClient, sid: int) -> dict[str, int]:
    return {t["student"]["username"]: t["id"] for t in await _queue(dc, sid)}


async def test_grading_secrecy_close_sign_off_and_change_with_history(dc: DefenseClient) -> None:
    sid = await dc.sitting_id()
    turns = await _turn_ids(dc, sid)
    t1 = f"/api/sittings/{sid}/turns/{turns['st1']}"
    assert "has not started" in await _error(await dc.call("PUT", t1 + "/score", "mem1", json={"points": 80}), 403)
    await dc.ok("POST", t1 + "/start", "chr")
    await _error(await dc.call("POST", t1 + "/start", "mem1"), 403)

    await dc.ok("PUT", t1 + "/score", "chr", json={"points": 92})
    await dc.ok("PUT", t1 + "/score", "mem1", json={"points": 85})
    # before the chair closes, a member sees their own points and how many entered, never the others'
    item = (await _queue(dc, sid, "mem1"))[0]
    assert item["my_score"] == {"points": 85, "criteria": None} and item["entered"] == 2 and "scores" not in item
    assert (await _queue(dc, sid, "mem2"))[0]["my_score"] is None
    student_view = (await _queue(dc, sid, "st1"))[0]
    assert "scores" not in student_view and "my_score" not in student_view and "grade" not in student_view
    public = await dc.ok("GET", f"/api/sittings/{sid}/public")
    assert public["current_turn"] == turns["st1"]
    assert all(set(t) <= {"id", "position", "status", "path", "student"} for t in public["queue"])
    assert all(set(t["student"]) == {"name"} for t in public["queue"])

    assert "only the chair" in await _error(await dc.call("POST", t1 + "/close", "mem1"), 403)
    assert "have not entered points" in await _error(await dc.call("POST", t1 + "/close", "chr"), 422)
    await dc.ok("PUT", t1 + "/score", "mem2", json={"points": 77})
    await dc.ok("PUT", t1 + "/score", "mem2", json={"points": 78})  # replaced before closing
    closed = await dc.ok("POST", t1 + "/close", "chr")
    first = closed["queue"][0]
    assert first["grade"]["points"] == 85 and first["grade"]["letter"] == "B+" and not first["grade"]["final"]
    assert sorted(x["points"] for x in (await _queue(dc, sid, "mem2"))[0]["scores"]) == [78, 85, 92]
    assert "closed this turn's grading" in await _error(await dc.call("PUT", t1 + "/score", "mem2", json={"points": 99}), 403)

    # the others: st2 graded, st3 absent twice -> out of the queue
    t2 = f"/api/sittings/{sid}/turns/{turns['st2']}"
    await dc.ok("POST", t2 + "/start", "chr")
    for who, p in (("chr", 49), ("mem1", 49), ("mem2", 50)):
        await dc.ok("PUT", t2 + "/score", who, json={"points": p})
    await dc.ok("POST", t2 + "/close", "chr")
    t3 = f"/api/sittings/{sid}/turns/{turns['st3']}"
    await dc.ok("POST", t3 + "/absent", "chr", json={"to": "end"})
    assert "not finished" in await _error(await dc.call("POST", f"/api/sittings/{sid}/sign", "chr"), 422)
    await dc.ok("POST", t3 + "/absent", "chr", json={"to": "end"})
    assert "only the chair" in await _error(await dc.call("POST", f"/api/sittings/{sid}/sign", "mem1"), 403)
    signed = await dc.ok("POST", f"/api/sittings/{sid}/sign", "chr")
    assert signed["status"] == "signed"
    assert [t["grade"]["final"] for t in signed["queue"] if "grade" in t] == [True, True]

    # the student sees their own final grade, the others' letters only; the audience letters, no points
    mine = {t["student"]["username"]: t for t in await _queue(dc, sid, "st1")}
    assert mine["st1"]["grade"]["letter"] == "B+" and mine["st1"]["grade"]["points"] == 85
    assert mine["st2"]["grade"] == {"letter": "F"}
    public = await dc.ok("GET", f"/api/sittings/{sid}/public")
    assert [t.get("grade") for t in public["queue"]] == [{"letter": "B+"}, {"letter": "F"}, None]
    # the grade is in the student's progress record, the same store as control results
    with dc.db.session() as s:
        rec = s.scalar(select(ControlResult).where(ControlResult.student_id == dc.ids["st1"],
                                                   ControlResult.activity == "defense"))
        assert rec is not None and rec.points == 85 and rec.passed and rec.audit_hash

    # after sign-off: no more points; only the chair changes a grade, with a written reason
    assert "signed off" in await _error(await dc.call("PUT", t2 + "/score", "mem1", json={"points": 60}), 403)
    assert "only the chair" in await _error(
        await dc.call("PUT", t2 + "/grade", "mem1", json={"points": 55, "reason": "recount of the answers"}), 403)
    assert "written reason" in await _error(await dc.call("PUT", t2 + "/grade", "chr", json={"points": 55}), 422)
    assert "written reason" in await _error(await dc.call("PUT", t2 + "/grade", "chr", json={"points": 55, "reason": "  ok "}), 422)
    assert "whole number" in await _error(
        await dc.call("PUT", t2 + "/grade", "chr", json={"points": 155, "reason": "recount of the answers"}), 422)
    changed = await dc.ok("PUT", t2 + "/grade", "chr", json={"points": 55, "reason": "recount of the answers"})
    g = next(t for t in changed["queue"] if t["id"] == turns["st2"])["grade"]
    assert (g["points"], g["letter"], g["final"]) == (55, "D+", True)
    assert g["history"][0]["reason"] == "recount of the answers"
    assert (g["history"][0]["before"]["letter"], g["history"][0]["after"]["letter"]) == ("F", "D+")
    with dc.db.session() as s:
        assert s.scalar(select(ControlResult).where(ControlResult.student_id == dc.ids["st2"],
                                                    ControlResult.activity == "defense")).points == 55
        assert len(s.scalars(select(GradeChange)).all()) == 1
        actions = [e.action for e in s.scalars(select(AuditEntry))]
        assert "defense.grade.change" in actions and "defense.sitting.sign" in actions
    # a student cannot change a grade
    await _error(await dc.call("PUT", t2 + "/grade", "st2", json={"points": 99, "reason": "I deserve more, really"}), 403)


@pytest.mark.parametrize(("points", "says"), [
    (101, "whole number 0–100, not 101"), (-1, "not -1"), (80.5, "not 80.5"), (80.0, "not 80.0"),
    ("80", "not '80'"), (True, "not True"), (None, "give points"),
])  # fmt: skip
async def test_bad_points_are_refused_with_the_reason_and_nothing_is_kept(dc: DefenseClient, points: object, says: str) -> None:
    sid = await dc.sitting_id()
    tid = (await _turn_ids(dc, sid))["st1"]
    await dc.ok("POST", f"/api/sittings/{sid}/turns/{tid}/start", "chr")
    msg = await _error(await dc.call("PUT", f"/api/sittings/{sid}/turns/{tid}/score", "mem1", json={"points": points}), 422)
    assert says in msg
    with dc.db.session() as s:
        assert s.scalars(select(Score)).all() == []


async def test_points_from_anyone_off_the_committee_are_refused(dc: DefenseClient) -> None:
    sid = await dc.sitting_id()
    tid = (await _turn_ids(dc, sid))["st1"]
    await dc.ok("POST", f"/api/sittings/{sid}/turns/{tid}/start", "chr")
    await dc.ok("PUT", f"/api/sittings/{sid}/secretary", "reg", json={"username": "sec"})
    for who in ("oth", "sec", "st1", "tut", "reg"):
        msg = await _error(await dc.call("PUT", f"/api/sittings/{sid}/turns/{tid}/score", who, json={"points": 90}), 403)
        assert "only the chair and the members" in msg
    assert (await dc.call("PUT", f"/api/sittings/{sid}/turns/{tid}/score", None, json={"points": 90})).status == 401


async def test_a_turn_for_a_student_no_longer_admitted_is_refused_with_the_reason(dc: DefenseClient) -> None:
    sid = await dc.sitting_id()
    tid = (await _turn_ids(dc, sid))["st2"]
    with dc.db.session() as s:  # the lab graded fail after planning
        row = s.scalar(select(ControlResult).where(ControlResult.student_id == dc.ids["st2"]))
        row.passed, row.points = False, 30
    msg = await _error(await dc.call("POST", f"/api/sittings/{sid}/turns/{tid}/start", "chr"), 422)
    assert "§29" in msg and "Lab report" in msg and "not passed" in msg
    q = {t["student"]["username"]: t for t in await _queue(dc, sid)}
    assert q["st2"]["status"] == "refused" and "not passed" in q["st2"]["note"]


async def test_an_absent_student_moves_to_the_end_then_to_a_reserve_sitting(dc: DefenseClient) -> None:
    from tests.helpers.defenses import START, plant_sitting

    sid = await dc.sitting_id()
    turns = await _turn_ids(dc, sid)
    await dc.ok("POST", f"/api/sittings/{sid}/start", "chr")
    q = await dc.ok("POST", f"/api/sittings/{sid}/turns/{turns['st1']}/absent", "chr", json={"to": "end"})
    assert [t["student"]["username"] for t in q["queue"]] == ["st2", "st3", "st1"]
    from datetime import timedelta

    plant_sitting(dc.db, key="sitting/chr/2026-12-22/1000", start=START + timedelta(days=1), students=(), people=False)
    with dc.db.session() as s:  # a reserve sitting: same offering, next day (planted without students)
        from orchestrator.defenses.models import Seat, Sitting

        reserve = Sitting(key="reserve", offering_id=dc.ids["offering"], title="Reserve", start_at=START + timedelta(days=1),
                          status="planned", rule="mean", rubric=[], slot_minutes=20)
        reserve.seats = [Seat(person_id=dc.ids["chr"], seat="chair")]
        s.add(reserve)
        s.flush()
        rid = reserve.id
    await _error(await dc.call("POST", f"/api/sittings/{sid}/turns/{turns['st1']}/absent", "chr",
                               json={"to": "reserve", "reserve": sid}), 422)
    q = await dc.ok("POST", f"/api/sittings/{sid}/turns/{turns['st1']}/absent", "chr", json={"to": "reserve", "reserve": rid})
    st1 = next(t for t in q["queue"] if t["student"]["username"] == "st1")
    assert st1["status"] == "moved" and str(rid) in st1["note"]
    assert [t["student"]["username"] for t in await _queue(dc, rid)] == ["st1"]


async def _race(dc: DefenseClient, calls: list[tuple[str, int]], path: str) -> None:
    rs = await asyncio.gather(*(dc.call("PUT", path, who, json={"points": p}) for who, p in calls))
    for r in rs:
        assert r.status == 200, await r.text()


async def test_two_members_submitting_at_once_both_count(tmp_path: Path, db_url: str) -> None:
    async with serve_defense(tmp_path, database_url=db_url) as dc:
        sid = await dc.sitting_id()
        tid = (await _turn_ids(dc, sid))["st1"]
        path = f"/api/sittings/{sid}/turns/{tid}/score"
        await dc.ok("POST", f"/api/sittings/{sid}/turns/{tid}/start", "chr")
        for who in ("chr", "mem1", "mem2"):
            await dc.headers(who)  # log in first so the puts start together
        await _race(dc, [("mem1", 70), ("mem2", 90), ("chr", 80)], path)
        await _race(dc, [("mem1", 71), ("mem1", 72)], path)  # one member twice at once: one row, one of the two
        with dc.db.session() as s:
            rows = {r.member_id: r.points for r in s.scalars(select(Score))}
            assert rows[dc.ids["mem2"]] == 90 and rows[dc.ids["chr"]] == 80 and rows[dc.ids["mem1"]] in (71, 72)
            assert len(rows) == 3
        closed = await dc.ok("POST", f"/api/sittings/{sid}/turns/{tid}/close", "chr")
        assert closed["queue"][0]["grade"]["points"] in (80, 81)
        with dc.db.session() as s:
            assert len(s.scalars(select(DefenseGrade)).all()) == 1
            from orchestrator.audit import verify_chain

            assert verify_chain(s) is None  # concurrent writers keep one chain


async def test_a_recorded_presentation_is_graded_without_a_live_turn_and_reaches_the_plan(dc: DefenseClient) -> None:
    from tests.helpers.archive import add_asset

    sid = await dc.sitting_id()
    q = {t["student"]["username"]: t for t in await _queue(dc, sid)}
    add_asset(dc.db, kind="presentation", title="st3's talk", session_id=q["st3"]["session"], owner_id=dc.ids["st3"])
    await dc.ok("GET", "/api/sittings", "chr")  # the list follows the plan and the hand-ins (sync)
    q = {t["student"]["username"]: t for t in await _queue(dc, sid)}
    assert q["st3"]["path"] == "recorded" and q["st1"]["path"] == "live"
    await dc.ok("POST", f"/api/sittings/{sid}/start", "chr")
    t3 = f"/api/sittings/{sid}/turns/{q['st3']['id']}"
    for who, p in (("chr", 70), ("mem1", 71), ("mem2", 72)):
        await dc.ok("PUT", t3 + "/score", who, json={"points": p})  # graded from the archive, no live turn
    assert "waiting" in await _error(await dc.call("PUT", f"/api/sittings/{sid}/turns/{q['st1']['id']}/score", "mem1",
                                                   json={"points": 80}), 403)  # a live student must present first
    closed = await dc.ok("POST", t3 + "/close", "chr")
    g = next(t for t in closed["queue"] if t["id"] == q["st3"]["id"])
    assert g["status"] == "done" and g["grade"]["letter"] == "C+"
    for who in ("st1", "st2"):
        for _ in range(2):
            await dc.ok("POST", f"/api/sittings/{sid}/turns/{q[who]['id']}/absent", "chr", json={"to": "end"})
    await dc.ok("POST", f"/api/sittings/{sid}/sign", "chr")
    plan = await dc.ok("GET", f"/api/students/{dc.ids['st3']}/plan", "st3")
    item = next(o for o in plan["offerings"] if o["offering"] == "CW300-G1")
    assert item["defense_result"] == {"points": 71, "passed": True}
    tutor_view = await dc.ok("GET", f"/api/students/{dc.ids['st3']}/plan", "tut")
    assert next(o for o in tutor_view["offerings"] if o["offering"] == "CW300-G1")["defense_result"]["points"] == 71
