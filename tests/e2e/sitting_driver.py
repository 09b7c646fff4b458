"""A whole defense sitting in Chromium; runs INSIDE a network namespace of its own (see room_driver.py).

    unshare --net --pid --fork --kill-child python sitting_driver.py --workdir W --out result.json --img-dir D

The real ``aulacast serve --demo`` gets a sitting planted in its database (tests/helpers/defenses.py:
chair chr, members mem1 and mem2, students st1 and st2, the group's other student ``out`` as the
audience); st1 hands in a written work over tus. Then, as people do it: the chair opens the sitting
from the committee page and enters its room; the students, member mem1 and the audience join from
the room page (fake camera and microphone). The chair starts turn 1 and turn 2 from the committee
page; mem1 gets the word; the members enter points on the committee page; the chair closes grading,
signs off and ends the room; the recording is composed and archived by itself; the signed protocol
is downloaded and checked with ``aulacast protocol verify``; ``aulacast audit verify`` runs clean, then
once more after a grade was changed in SQLite behind the application's back.
What every page showed is written as JSON for tests/e2e/test_sitting_browser.py to judge.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.helpers
import axe_check  # noqa: E402  (this folder is on sys.path: the driver runs as a script)
import room_driver as rd  # noqa: E402

from tests.helpers.support import PASSWORD  # noqa: E402

WARNING_SECONDS = 45  # a one-minute turn warns 15 s in, and its time is up at 60 s
TURN_MINUTES = 1
T0 = time.monotonic()


def plant(workdir: Path) -> dict[str, int]:
    """The sitting of tests/helpers/defenses.py in the demo database, on now: its two slots open,
    the first (the sitting's room) long enough for the whole run."""
    from sqlalchemy import select

    from orchestrator.auth import create_person
    from orchestrator.store.db import Database
    from orchestrator.store.models import Person, SessionRecord
    from tests.helpers.defenses import PEOPLE, plant_sitting

    db = Database.from_url(f"sqlite:///{workdir / 'var' / 'aulacast.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    with db.session() as s:  # the demo has its own registrar "reg": the others are made here
        taken = set(s.scalars(select(Person.username)))
        for username, roles in PEOPLE.items():
            if username not in taken:
                create_person(s, username=username, display_name=username.upper(), roles=roles, password=PASSWORD)
    ids = plant_sitting(db, start=now - timedelta(minutes=2), students=("st1", "st2"), people=False)
    with db.session() as s:
        slots = sorted(s.scalars(select(SessionRecord).where(SessionRecord.key.like("CW300-G1/defense/%"))),
                       key=lambda r: r.start_at)  # fmt: skip
        for row in slots:
            row.status = "open"
        slots[0].end_at = now + timedelta(minutes=50)
        ids["st1_slot"] = slots[0].id
    db.engine.dispose()
    return ids


def sql(workdir: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Plain SQLite, no application (what someone with the database file can do)."""
    raw = sqlite3.connect(str(workdir / "var" / "aulacast.db"), timeout=30)
    try:
        with raw:
            return raw.execute(statement, params).fetchall()
    finally:
        raw.close()


def cli(workdir: Path, *args: str) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("aulacast")
    res = subprocess.run([str(exe), *args], cwd=workdir, capture_output=True, text=True, timeout=300)
    return {"rc": res.returncode, "stdout": res.stdout[-6000:], "stderr": res.stderr[-3000:]}


async def api_token(http: Any, base: str, username: str) -> dict[str, str]:
    r = await http.post(f"{base}/api/auth/login", json={"username": username, "password": PASSWORD, "kind": "api"})
    body = await r.json()
    if r.status != 200:
        raise RuntimeError(f"login {username}: {r.status} {body}")
    return {"Authorization": f"Bearer {body['token']}"}


async def hand_in(base: str, slot: int, data: bytes) -> dict[str, Any]:
    """st1 hands in the written work over tus 1.0 (§31), as web/static/handin.js does; waits until archived."""
    import aiohttp

    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    async with aiohttp.ClientSession() as http:
        auth = await api_token(http, base, "st1")
        tus = {**auth, "Tus-Resumable": "1.0.0"}
        meta = f"session {b64(str(slot))},kind {b64('written_work')},filename {b64('course-work.pdf')}"
        r = await http.post(f"{base}/api/uploads", headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
        if r.status != 201:
            raise RuntimeError(f"upload refused: {r.status} {await r.text()}")
        url = base + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
        r = await http.patch(url, data=data, headers={**tus, "Upload-Offset": "0",
                                                     "Content-Type": "application/offset+octet-stream"})  # fmt: skip
        if r.status != 204:
            raise RuntimeError(f"upload PATCH: {r.status} {await r.text()}")

        async def archived() -> dict[str, Any] | None:
            body = await (await http.get(url, headers=auth)).json()
            return body if body.get("status") == "archived" else None

        return await rd.until("the written work is archived", archived, 120, 0.5)


def make_pdf(path: Path) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.setFont("Helvetica-Bold", 20)
    c.drawString(72, 760, "Course work: a distributed timetable")
    c.setFont("Helvetica", 12)
    for i, line in enumerate(("ST1, group G-CW300-G1", "1. Introduction", "2. The planner", "3. Results")):
        c.drawString(72, 720 - 22 * i, line)
    c.showPage()
    c.save()
    return path


class Run:
    """The browser contexts and what they saw."""

    def __init__(self, browser: Any, base: str, result: dict[str, Any]) -> None:
        self.browser, self.base, self.result = browser, base, result
        self.people: dict[str, rd.Person] = {}

    def step(self, name: str, **data: Any) -> None:
        self.result["steps"].append({"step": name, "t": round(time.monotonic() - T0, 1), **data})

    async def context(self, username: str) -> Any:
        context = await self.browser.new_context(viewport=rd.VIEWPORT, base_url=self.base)
        await context.grant_permissions(["camera", "microphone"], origin=self.base)
        page = await context.new_page()
        await page.goto("/login?next=/committee")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(lambda url: "/login" not in url)
        return context, page

    async def enter_room(self, username: str, room: int, page: Any = None, language: str | None = None) -> rd.Person:
        if page is None:
            context, page = await self.context(username)
            if language:  # the profile's language: the sitting's words come from its catalogue
                r = await context.request.put("/api/me/language", data={"language": language},
                                              headers={"X-Requested-With": "aulacast"})  # fmt: skip
                if not r.ok:
                    raise RuntimeError(f"language {language} for {username}: {r.status} {await r.text()}")
            await page.goto(f"/join/{room}")
        person = self.people[username] = rd.Person(username, page.context, page)
        await page.wait_for_selector("#check:not([hidden])", timeout=30_000)
        await page.wait_for_function("() => !document.getElementById('enter').disabled", timeout=30_000)
        await page.click("#enter")
        await page.wait_for_selector("#room:not([hidden])", timeout=30_000)
        return person


async def status(page: Any, text: str) -> None:
    await page.wait_for_function("(t) => document.getElementById('status').textContent.includes(t)", arg=text,
                                 timeout=30_000)  # fmt: skip
    await page.evaluate("() => { document.getElementById('status').textContent = ''; }")


def sees(p: rd.Person, person_id: int) -> Any:
    """``p``'s page decodes new frames of ``person_id``'s camera (two snapshots apart)."""

    async def check() -> dict[str, Any] | None:
        a = await p.snap()
        await asyncio.sleep(1.2)
        b = await p.snap()
        key = f"{person_id}:camera"
        before = next((t for t in a["tiles"] if t["key"] == key), None)
        after = next((t for t in b["tiles"] if t["key"] == key), None)
        if before and after and after["frames"] > before["frames"] > 0 and after["width"] > 0:
            return {"frames_before": before["frames"], "frames_after": after["frames"], "width": after["width"],
                    "presenter_label": b["sitting"]["presenter_label"] if b.get("sitting") else None}  # fmt: skip
        return None

    return check


def hears(p: rd.Person, person_id: int) -> Any:
    async def check() -> dict[str, Any] | None:
        a = await p.snap()
        await asyncio.sleep(1.2)
        b = await p.snap()
        got = {r["mid"]: r.get("packets", 0) for r in a["remote"] if r["person_id"] == person_id and r["kind"] == "audio"}
        for r in b["remote"]:
            if r["person_id"] == person_id and r["kind"] == "audio" and r.get("packets", 0) > got.get(r["mid"], 0) > 0:
                return {"packets_before": got[r["mid"]], "packets_after": r["packets"], "ready": r["ready"]}
        return None

    return check


def snap_where(p: rd.Person, pred: Any) -> Any:
    async def check() -> dict[str, Any] | None:
        s = await p.snap()
        return s if s and pred(s) else None

    return check


def summary(s: dict[str, Any]) -> dict[str, Any]:
    """What a test asserts on from one room snapshot."""
    return {
        "sitting": s.get("sitting"), "senders": s.get("senders"),
        "camera_tiles": sorted(t["person_id"] for t in s["tiles"] if t["key"].endswith(":camera")),
        "screen_tiles": sorted(t["key"] for t in s["tiles"] if t["key"].endswith("screen")),
        "remote": [{k: r.get(k) for k in ("person_id", "source", "kind")} for r in s["remote"]],
    }


async def controls(p: rd.Person) -> dict[str, bool]:
    return await p.page.evaluate(
        "() => Object.fromEntries(['screen', 'mic', 'cam'].map((id) => [id, !document.getElementById(id).hidden]))")


async def scenario(base: str, workdir: Path, shots: Path, ids: dict[str, int], result: dict[str, Any]) -> None:
    import aiohttp
    from playwright.async_api import async_playwright

    async with aiohttp.ClientSession() as http:
        chr_auth = await api_token(http, base, "chr")
        mine = await (await http.get(f"{base}/api/sittings", headers=chr_auth)).json()  # made from the plan here
        sitting = mine["sittings"][0]["id"]
        detail = await (await http.get(f"{base}/api/sittings/{sitting}", headers=chr_auth)).json()
    room = detail["room"]
    turns = {t["student"]["username"]: t["id"] for t in detail["queue"]}
    result.update(sitting=sitting, room=room, turns=turns, ids={k: v for k, v in ids.items() if isinstance(v, int)})
    result["handin"] = await hand_in(base, ids["st1_slot"], make_pdf(workdir / "course-work.pdf").read_bytes())

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=rd.CHROMIUM, args=rd.CHROMIUM_ARGS)
        run = Run(browser, base, result)
        result["steps"] = []
        try:
            # the chair: committee page -> the sitting -> start it -> its room (a second tab)
            chr_ctx, desk = await run.context("chr")
            await desk.goto("/committee")
            await desk.get_by_role("link", name=detail["title"]).click()
            await desk.wait_for_selector("#queue tbody tr")
            await desk.get_by_role("button", name="Start the sitting").click()
            await status(desk, "has started")
            # one-minute turns, so the timer's warning and time-up come within the run
            sql(workdir, "UPDATE defense_sittings SET slot_minutes = ? WHERE id = ?", (TURN_MINUTES, sitting))
            room_href = await desk.get_by_role("link", name="Open the sitting's room").get_attribute("href")
            result["room_link"] = room_href
            chair_page = await chr_ctx.new_page()
            await chair_page.goto(room_href)
            chair = await run.enter_room("chr", room, chair_page)
            run.step("the chair is in the sitting's room")
            for who in ("mem1", "st1", "st2", "out"):
                await run.enter_room(who, room, language="kk" if who == "st2" else None)  # st2 reads Kazakh
            run.step("member, students and audience are in the room")
            st1, st2, aud, mem1 = (run.people[n] for n in ("st1", "st2", "out", "mem1"))
            # the sitting is open: st1 is on deck and pre-publishes on standby (seen by nobody)
            await rd.until("st1 pre-publishes on standby", snap_where(st1, lambda s: s["senders"].get("camera")), 30)
            await asyncio.sleep(2)  # a frame would have reached the audience by now, were it forwarded
            result["before"] = {n: summary(await run.people[n].snap()) for n in ("st1", "st2", "out", "mem1")}
            result["controls_before"] = {n: await controls(run.people[n]) for n in ("st1", "st2")}

            # turn 1, from the committee page
            await desk.locator("tr[data-student=st1]").get_by_role("button", name="Start turn").click()
            await status(desk, "ST1 presents")
            result["turn1_audience_video"] = await rd.until("the audience sees st1", sees(aud, ids["st1"]), 60)
            run.step("turn 1: the audience sees st1")
            await rd.until("st2, now on deck, pre-publishes", snap_where(st2, lambda s: s["senders"].get("camera")), 30)
            await st2.page.screenshot(path=str(shots / "room-sitting-standby.png"))
            axe = result.setdefault("axe", {})  # issue 13 §5: each person's view of the sitting, judged
            axe["on deck, in Kazakh"] = await axe_check.violations(st2.page)
            await asyncio.sleep(1)
            result["turn1"] = {n: summary(await run.people[n].snap()) for n in ("st1", "st2", "out", "mem1")}
            result["turn1_controls"] = {n: await controls(run.people[n]) for n in ("st1", "st2")}
            result["turn1_work"] = (await rd.until("the member's written-work pane", snap_where(
                mem1, lambda s: s["sitting"]["work"]["state"] is not None), 30))["sitting"]["work"]  # fmt: skip
            frame = mem1.page.locator("#work-frame")
            result["turn1_work_fetch"] = await mem1.page.evaluate(
                "async (u) => { const r = await fetch(u); return {status: r.status, type: r.headers.get('content-type')}; }",
                await frame.get_attribute("src"))  # fmt: skip
            result["audience_work_fetch"] = await aud.page.evaluate(
                "async (u) => (await fetch(u)).status", await frame.get_attribute("src"))
            await asyncio.sleep(2)  # the PDF viewer draws its first page
            await mem1.page.screenshot(path=str(shots / "room-sitting-committee.png"))
            await aud.page.screenshot(path=str(shots / "room-sitting-audience.png"))
            axe["member with the written work"] = await axe_check.violations(mem1.page)
            axe["audience"] = await axe_check.violations(aud.page)
            warned = await rd.until("the turn's warning on the audience's page", snap_where(
                aud, lambda s: s["sitting"]["timer"]["state"] == "warning"), 40)  # fmt: skip
            result["turn1_warning"] = warned["sitting"]["timer"]
            run.step("turn 1: the warning shows")

            # the presenter shares their screen (the control they got with the floor)
            await st1.page.get_by_role("button", name="Share screen").click()
            result["turn1_screen"] = await rd.until("the audience sees st1's screen", rd._screen_frames(aud, ids["st1"]), 40)
            run.step("turn 1: st1 shares the screen")
            axe["presenter sharing the screen"] = await axe_check.violations(st1.page)
            axe["chair"] = await axe_check.violations(chair.page)

            # the chair gives mem1 the word in the room, then takes it back
            await chair.page.get_by_role("button", name="Give the word: MEM1").click()
            opened = await rd.until("mem1's microphone is sent", snap_where(
                mem1, lambda s: s["senders"].get("microphone")), 30)  # fmt: skip
            result["mic_open"] = {"senders": opened["senders"], "me": opened["sitting"]["me"],
                                  "heard": await rd.until("the audience hears mem1", hears(aud, ids["mem1"]), 30)}  # fmt: skip
            await chair.page.get_by_role("button", name="Close microphone: MEM1").click()
            closed = await rd.until("mem1's microphone is no longer sent", snap_where(
                mem1, lambda s: not s["senders"].get("microphone")), 30)  # fmt: skip
            result["mic_closed"] = {"senders": closed["senders"], "me": closed["sitting"]["me"]}
            run.step("mem1 had the word")

            # turn 2: the grant moves from st1 to st2
            await desk.locator("tr[data-student=st2]").get_by_role("button", name="Start turn").click()
            await status(desk, "ST2 presents")
            result["turn2_audience_video"] = await rd.until("the audience sees st2", sees(aud, ids["st2"]), 60)
            await rd.until("st1's camera and screen leave the audience's page", snap_where(
                aud, lambda s: not any(t["key"].startswith(f"{ids['st1']}:") for t in s["tiles"])), 30)  # fmt: skip
            result["turn2"] = {n: summary(await run.people[n].snap()) for n in ("st1", "st2", "out", "mem1")}
            result["recording_state"] = await (await desk.request.get(f"/api/sessions/{room}/recording")).json()
            result["turn2_controls"] = {n: await controls(run.people[n]) for n in ("st1", "st2")}
            result["turn2_st1_sharing"] = await st1.page.get_attribute("#screen", "aria-pressed")
            run.step("turn 2: the audience sees st2, st1 stopped")

            # the members enter points on the committee page while turn 2 runs out of time
            pages = {"chr": desk}
            for who in ("mem1", "mem2"):
                _ctx, pages[who] = await run.context(who)
                await pages[who].goto(f"/committee?sitting={sitting}")
                await pages[who].wait_for_selector("#queue tbody tr")
            points = {"st1": {"chr": 92, "mem1": 85, "mem2": 78}, "st2": {"chr": 70, "mem1": 75, "mem2": 80}}
            for student, by in points.items():
                for who, value in by.items():
                    row = pages[who].locator(f"tr[data-student={student}]")
                    await row.get_by_label(f"My points for {student.upper()}").fill(str(value))
                    await row.get_by_role("button", name="Save").click()
                    await status(pages[who], "Points saved")
            await desk.locator("tr[data-student=st1]").get_by_role("button", name="Close grading").click()
            await status(desk, "Grading closed")
            timeup = await rd.until("turn 2's time is up on the audience's page", snap_where(
                aud, lambda s: s["sitting"]["timer"]["state"] == "over"), 90)  # fmt: skip
            result["turn2_timeup"] = timeup["sitting"]["timer"]
            await desk.get_by_role("button", name="End turn").click()
            await status(desk, "Turn ended")
            ended = await rd.until("nobody presents", snap_where(aud, lambda s: s["sitting"]["room"]["floor"] is None), 30)
            result["after_end_turn"] = summary(ended)
            result["after_end_turn_st2"] = summary(await st2.snap())
            await desk.locator("tr[data-student=st2]").get_by_role("button", name="Close grading").click()
            await status(desk, "Grading closed")
            result["grades"] = {s: await desk.locator(f"tr[data-student={s}] td.grade").text_content() for s in ("st1", "st2")}
            await desk.get_by_role("button", name="Sign off").click()
            await status(desk, "Signed off")
            result["signed_grades"] = {s: await desk.locator(f"tr[data-student={s}] td.grade").text_content() for s in ("st1", "st2")}
            run.step("graded and signed off")

            # the chair ends the room: the recording stops, is composed and archived by itself
            await chair.page.click("#end")
            await chair.page.click("#end-yes")
            await aud.page.wait_for_function("() => document.body.dataset.phase === 'ended'", timeout=30_000)
            run.step("the room is closed")

            async def protocol_with_links() -> dict[str, Any] | None:
                r = await desk.request.get(f"/api/sittings/{sitting}/protocol?format=json")
                env = await r.json() if r.ok else {}
                turns_ = env.get("protocol", {}).get("turns", [])
                return env if turns_ and all(t.get("recording") for t in turns_ if t["status"] == "done") else None

            env = await rd.until("the protocol links the archived recording", protocol_with_links, 480, 3)
            result["protocol"] = env["protocol"]
            result["queue_final"] = (await (await desk.request.get(f"/api/sittings/{sitting}")).json())["queue"]
            (workdir / "protocol.json").write_text(json.dumps(env))
            r = await desk.request.get(f"/api/sittings/{sitting}/protocol?format=pdf")
            (workdir / "protocol.pdf").write_bytes(await r.body())
            key = await (await desk.request.get("/.well-known/aulacast/protocol-key")).json()
            (workdir / "key.json").write_text(json.dumps(key))
            run.step("the protocol links the recording")
        finally:
            result["console"] = {n: p.console[-25:] for n, p in run.people.items()}
            await browser.close()

    # verification, as the registrar does it from a shell
    result["protocol_verify"] = cli(workdir, "protocol", "verify", str(workdir / "protocol.pdf"), "--key", str(workdir / "key.json"))
    result["audit_clean"] = cli(workdir, "audit", "verify")
    gid = sql(workdir, "SELECT id, points FROM defense_grades WHERE turn_id = ?", (turns["st1"],))[0]
    sql(workdir, "UPDATE defense_grades SET points = ? WHERE id = ?", (gid[1] + 10, gid[0]))
    result["falsified"] = {"grade_id": gid[0], "from": gid[1], "to": gid[1] + 10}
    result["audit_after"] = cli(workdir, "audit", "verify")


def main() -> int:
    async def run(base: str, _logins: dict[str, str], workdir: Path, shots: Path, result: dict[str, Any]) -> None:
        await scenario(base, workdir, shots, plant(workdir), result)  # the sitting planted once the demo is up

    return rd.drive(run, env={"AULACAST_GRADING__DEFENSE_WARNING_SECONDS": str(WARNING_SECONDS)}, result={"steps": []})


if __name__ == "__main__":
    sys.exit(main())
