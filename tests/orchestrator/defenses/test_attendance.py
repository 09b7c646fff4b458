"""Attendance from the room's timeline: joins and leaves of real Socket.IO clients become rows; CSV is formula-safe."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from sqlalchemy import select

from orchestrator.defenses.tamper import verify
from orchestrator.store.models import Person
from tests.helpers.defenses import start_sitting_world


async def test_join_and_leave_become_attendance_shown_to_tutor_and_registrar(tmp_path: Path) -> None:
    world, runner, _sitting, room = await start_sitting_world(tmp_path, media=False)
    try:
        with world.svc.db.session() as s:  # a name a spreadsheet would run as a formula
            s.scalar(select(Person).where(Person.username == "out")).display_name = '=HYPERLINK("http://evil","x")'
        chair = await world.socket("chr", room)
        await chair.wait_for("welcome")
        aud = await world.socket("out", room)
        await aud.wait_for("welcome")
        st1 = await world.socket("st1", room)
        await st1.wait_for("welcome")
        await aud.close()
        await chair.wait_for("member-left", lambda d: d["person_id"] == world.ids["out"])

        async def rows(who: str) -> list[dict]:  # type: ignore[type-arg]
            r = await world.request("GET", f"/api/sessions/{room}/attendance", who)
            assert r.status == 200, await r.text()
            return (await r.json())["attendance"]

        got: list[dict] = []  # type: ignore[type-arg]

        async def refresh() -> None:
            got[:] = await rows("tut")

        await refresh()
        for _ in range(100):
            if any(r["username"] == "out" and r["left_at"] for r in got):
                break
            await asyncio.sleep(0.1)  # the leave is written just after member-left goes out
            await refresh()
        by = {r["username"]: r for r in got}
        assert set(by) == {"chr", "out", "st1"}
        assert by["chr"]["role"] == "chair" and by["st1"]["role"] == "presenter" and by["out"]["role"] == "audience"
        assert by["out"]["left_at"] is not None and by["out"]["seconds"] >= 0 and by["st1"]["left_at"] is None
        assert [r["username"] for r in await rows("reg")] == [r["username"] for r in got]

        r = await world.request("GET", f"/api/sessions/{room}/attendance?format=csv", "reg")
        assert r.status == 200 and r.content_type == "text/csv"
        table = list(csv.reader(io.StringIO(await r.text())))
        assert table[0] == ["username", "name", "role", "joined_at", "left_at", "seconds"]
        names = [row[1] for row in table[1:]]
        assert "'=HYPERLINK(\"http://evil\",\"x\")" in names  # shown as text, never run
        assert not any(cell.startswith(("=", "+", "-", "@")) for row in table[1:] for cell in row)

        # the committee page starts turns over HTTP: the room's floor moves as with the socket event
        tid = next(t["id"] for t in (await (await world.request("GET", f"/api/sittings/{_sitting}", "chr")).json())["queue"]
                   if t["student"]["username"] == "st1")
        r = await world.request("POST", f"/api/sittings/{_sitting}/turns/{tid}/start", "chr")
        assert r.status == 200, await r.text()
        floor = await st1.wait_for("floor", lambda d: d["presenter"] == world.ids["st1"])
        assert floor["turn"]["id"] == tid and floor["by"] == world.ids["chr"]
        r = await world.request("POST", f"/api/sittings/{_sitting}/end-turn", "chr")
        assert r.status == 200
        await st1.wait_for("floor", lambda d: d["presenter"] is None and d["previous"] == world.ids["st1"])

        for who, status in (("st1", 403), ("oth", 403), ("mem1", 200), ("out", 403)):
            r = await world.request("GET", f"/api/sessions/{room}/attendance", who)
            assert r.status == status, (who, await r.text())
        with world.svc.db.session() as s:  # every stay is bound to its audit entry (§28)
            report = verify(s, world.svc.settings)
            assert report.ok, report.to_dict()
    finally:
        await world.close()
        await world.http.close()
        await runner.cleanup()
