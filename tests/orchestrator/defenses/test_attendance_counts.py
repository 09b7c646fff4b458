"""Attendance counts towards a control where the curriculum says so (issue 12 §5), on SQLite and PostgreSQL.

Ten held consultations of the planted offering (plus a cancelled one, one whose room never opened and
one still running, which do not count); the lab control requires 70 % of them. st1 attends 7 (one by
two stays that add up), st2 attends 5, st3 all 10. The standing shows in the student's plan, the
tutor's and registrar's gradebook and the CLI's; §29 refuses st2's defense turn and the planner's
admission check names the same reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from orchestrator.store.models import Attendance, Offering, SessionParticipant, SessionRecord
from tests.helpers.defenses import DefenseClient, serve_defense

RULE = {"sessions": ["consultation"], "min_percent": 70, "presence_percent": 50}
REASON = "attended 5 of 10 sessions, 70 % required"


def _plant(dc: DefenseClient, controls: list[dict[str, Any]]) -> None:
    ids = dc.ids
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    with dc.db.session() as s:
        off = s.get(Offering, ids["offering"])
        off.rules = {**off.rules, "controls": controls}

        def session(i: int, status: str, start: datetime) -> SessionRecord:
            row = SessionRecord(key=f"CW300-G1/consultation/{i}", offering_id=off.id, kind="consultation",
                                title=f"Consultation {i}", start_at=start, end_at=start + timedelta(minutes=40),
                                status=status, group_id=off.group_id, tutor_id=ids["tut"])
            row.participants = [SessionParticipant(person_id=ids["tut"], role="host")]
            s.add(row)
            s.flush()
            return row

        def stay(row: SessionRecord, who: str, start_min: int, end_min: int | None) -> None:
            s.add(Attendance(session_id=row.id, person_id=ids[who], role="participant",
                             joined_at=row.start_at + timedelta(minutes=start_min),
                             left_at=None if end_min is None else row.start_at + timedelta(minutes=end_min)))

        held = [session(i, "closed" if i % 2 else "archived", base + timedelta(days=i)) for i in range(10)]
        for i, row in enumerate(held):
            stay(row, "st3", -5, 50 if i else None)  # early and late count within the planned time; one never closed
            if i < 6:
                stay(row, "st1", 0, 30)
            if i < 5:
                stay(row, "st2", 0, 40)
        stay(held[6], "st1", 0, 12)  # two stays that add up to 22 of 40 minutes: attended
        stay(held[6], "st1", 25, 35)
        stay(held[7], "st1", 0, 10)  # overlapping stays are not counted twice: 15 of 40 minutes, not attended
        stay(held[7], "st1", 5, 15)
        stay(held[8], "st2", 0, 19)  # 19 of 40 minutes: under half, not attended
        for i, status in enumerate(("cancelled", "planned")):
            session(20 + i, status, base + timedelta(days=11 + i))
        running = session(30, "live", datetime.now(UTC) - timedelta(minutes=5))
        stay(running, "st2", 0, None)


async def test_attendance_requirement_shows_everywhere_and_gates_section_29(tmp_path: Path, db_url: str) -> None:
    async with serve_defense(tmp_path, database_url=db_url) as dc:
        _plant(dc, [{"id": "lab", "name": "Lab report", "attendance": RULE}])
        ids = dc.ids

        plan = await dc.ok("GET", f"/api/students/{ids['st2']}/plan", "st2")
        (item,) = [o for o in plan["offerings"] if o["offering"] == "CW300-G1"]
        (lab,) = item["controls"]
        assert lab["points"] == 80 and lab["result_passed"] is True and lab["passed"] is False
        assert lab["attendance"] == {"attended": 5, "held": 10, "min_percent": 70, "met": False}
        assert lab["reason"] == f"control 'Lab report' (lab) not passed: {REASON}"
        assert item["admitted_to_defense"] is False and item["not_admitted_because"] == [lab["reason"]]
        mine = await dc.ok("GET", f"/api/students/{ids['st1']}/plan", "reg")
        (lab1,) = [o for o in mine["offerings"] if o["offering"] == "CW300-G1"][0]["controls"]
        assert lab1["attendance"]["attended"] == 7 and lab1["passed"] is True and lab1["reason"] is None

        for who in ("tut", "reg"):  # the tutor's gradebook and the registrar's
            (book,) = [o for o in (await dc.ok("GET", "/api/me/offerings", who))["offerings"] if o["code"] == "CW300-G1"]
            assert book["controls"][0]["attendance"]["min_percent"] == 70
            by = {st["username"]: st for st in book["students"]}
            assert by["st2"]["results"]["lab"] == {"points": 80, "passed": True}  # the tutor's mark stays as entered
            assert by["st2"]["standing"]["lab"]["reason"].endswith(REASON)
            assert {u: by[u]["standing"]["lab"]["attendance"]["attended"] for u in ("st1", "st2", "st3")} == \
                {"st1": 7, "st2": 5, "st3": 10}

        # §29 at the sitting: st2's turn is refused with the reason, st1's starts
        sid = await dc.sitting_id()
        queue = (await dc.ok("GET", f"/api/sittings/{sid}", "chr"))["queue"]
        turn = {t["student"]["username"]: t["id"] for t in queue}
        r = await dc.call("POST", f"/api/sittings/{sid}/turns/{turn['st2']}/start", "chr")
        assert r.status == 422
        assert REASON in (await r.json())["error"]["message"]
        await dc.ok("POST", f"/api/sittings/{sid}/turns/{turn['st1']}/start", "chr")

        # §29 at planning: the planner's admission check gives the same reason
        from orchestrator.curriculum import to_planner_offering
        from orchestrator.planning import _control_results
        from orchestrator.store.models import Person
        from schedules.academic.eligibility import eligibility

        with dc.db.session() as s:
            usernames = {p.id: p.username for p in s.scalars(select(Person))}
            off = s.get(Offering, ids["offering"])
            results = _control_results(s, [off], usernames, {off.id: off.code})
            plan_off = to_planner_offering(off, discipline="CW", group_code="G", tutor="tut", usernames=usernames)
        admitted, refused = eligibility(plan_off, ["st1", "st2", "st3", "out"], results)
        assert admitted == ["st1", "st3"]
        why = {i.student_id: i.reason for i in refused}
        assert why["st2"] == f"§29: control 'Lab report' (lab) not passed: {REASON}"
        assert why["out"] == "§29: control 'Lab report' (lab) not passed: attended 0 of 10 sessions, 70 % required"


async def test_a_control_passed_by_attendance_alone_takes_no_points(tmp_path: Path) -> None:
    async with serve_defense(tmp_path) as dc:
        _plant(dc, [{"id": "lab", "name": "Lab report"},
                    {"id": "visits", "name": "Consultations attended", "graded": False, "attendance": RULE}])
        r = await dc.call("POST", "/api/results", "tut",
                          json={"offering": "CW300-G1", "student": "st1", "activity": "visits", "points": 90})
        assert r.status == 422 and "passed by attendance alone" in (await r.json())["error"]["message"]
        (book,) = [o for o in (await dc.ok("GET", "/api/me/offerings", "tut"))["offerings"] if o["code"] == "CW300-G1"]
        by = {st["username"]: st["standing"]["visits"] for st in book["students"]}
        assert by["st3"]["passed"] is True and by["st3"]["points"] is None
        assert by["st2"]["passed"] is False and by["st2"]["reason"].endswith(REASON)
        with dc.db.session() as s:  # nothing was written by the refused result
            from orchestrator.store.models import ControlResult

            assert s.scalars(select(ControlResult).where(ControlResult.activity == "visits")).all() == []
