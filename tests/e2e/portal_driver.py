"""Browser run of the portal's checks (issue 13); runs INSIDE a network namespace of its own.

    unshare --net --pid --fork --kill-child python portal_driver.py --workdir W --out result.json [--img-dir D]

Same machinery as room_driver.py (its namespace set-up and server start are reused): the real
``aulacast serve --demo``, Debian's Chromium with fake camera and microphone. Every browser context
runs with the browser's zone set to UTC while the people's profiles say New York or Almaty, so a
time shown in the browser's zone instead of the profile's is caught. Few contexts, one server:
the machine is small and shared. The pytest side (test_portal_*.py) judges the JSON written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import axe_check  # noqa: E402  (sibling module: axe-core run in a page)
import room_driver as rd  # noqa: E402  (the sibling script: namespace, server start, Chromium flags)

NY = "America/New_York"
AXE_FINDINGS: dict[str, list[dict[str, Any]]] = {}


async def axe(page: Any, label: str) -> None:
    """Run axe-core in the page as it is now; keep every violation under ``label`` (the test judges)."""
    AXE_FINDINGS[label] = await axe_check.violations(page)


NYC_PASSWORD = "portal-e2e-nyc-password"
QUICK = 14  # chat messages sent as fast as the keyboard goes
# A tight chat limit for this run, so that some of the quick messages are refused (and must stay)
CHAT_ENV = {"AULACAST_CHAT__BURST": "5", "AULACAST_CHAT__RATE_PER_SECOND": "0.2"}
COUNT_CAMERA = """
  window.__mediaPrompts = 0;
  if (navigator.mediaDevices) {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (...args) => { window.__mediaPrompts += 1; return real(...args); };
  }
"""


def seed_new_yorker(workdir: Path) -> dict[str, Any]:
    """A student whose profile says New York, in a group of her own, with three sessions in one
    New York week two weeks ahead: Monday 10:00, Wednesday 12:00 and Sunday 23:00 (Monday 04:00 UTC)."""
    from orchestrator.auth import create_person
    from orchestrator.store.db import Database
    from orchestrator.store.models import Group, GroupMember, SessionRecord

    zone = ZoneInfo(NY)
    today = datetime.now(zone).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=14)

    def at(day: int, hour: int) -> datetime:
        d = monday + timedelta(days=day)
        return datetime(d.year, d.month, d.day, hour, tzinfo=zone).astimezone(UTC)

    db = Database.from_url(f"sqlite:///{workdir / 'var' / 'aulacast.db'}")
    out: dict[str, Any] = {"monday": monday.isoformat(), "sessions": {}}
    with db.session() as s:
        group = Group(code="NY-1", name="New York evening group")
        s.add(group)
        s.flush()
        p = create_person(s, username="nyc", display_name="Nora York", roles=["student"], password=NYC_PASSWORD,
                          timezone=NY)  # fmt: skip
        s.add(GroupMember(group_id=group.id, person_id=p.id))
        for name, day, hour in (("monday", 0, 10), ("wednesday", 2, 12), ("sunday", 6, 23)):
            start = at(day, hour)
            row = SessionRecord(key=f"e2e/ny/{name}", kind="consultation", title=f"NY consultation ({name})",
                                status="planned", start_at=start, end_at=start + timedelta(hours=1),
                                tutor_id=None, group_id=group.id)  # fmt: skip
            s.add(row)
            s.flush()
            out["sessions"][name] = {"id": row.id, "start": start.isoformat(), "day": (monday + timedelta(days=day)).isoformat()}
    db.engine.dispose()
    return out


def seed_channel(workdir: Path) -> dict[str, Any]:
    """The demo channel on air: the state file and as-run log ``tv playout --udp --state --as-run`` would have
    written by now (the last items before now as played, the one at now on air; its own test runs the real
    playout: tests/orchestrator/channel/test_playout_state.py), so the engineer's page has them to show."""
    from orchestrator.channel.day_view import channel_day
    from orchestrator.channel.playout_state import PlayoutState, write_state
    from orchestrator.config import Settings
    from orchestrator.demo import _demo_channel
    from schedules.tv.playlist import AsRunLog, AsRunRecord

    settings = Settings(data_dir=workdir / "var")
    _demo_channel(settings)  # the paths serve --demo configured (the channel file is already there)
    day = channel_day(settings, None)
    now = datetime.now(UTC)
    current = next(i for i, it in enumerate(day.items) if day.local(it.end_ms) > now)
    with AsRunLog(settings.tv.as_run_log) as log:
        for it in day.items[max(0, current - 6):current]:
            log.append(AsRunRecord.of(day, it, day.at(it), day.local(it.end_ms), note="udp://239.1.1.1:5000"))
    state = PlayoutState.starting(day, pid=os.getpid(), day_file="day.json", target="udp://239.1.1.1:5000")
    write_state(settings.tv.playout_state, state.at_item(day, current))
    return {"date": day.date.isoformat(), "aired": min(6, current), "current": current}


SMALL_DISK = "320k"  # the recording of a language room (two fake cameras) fills it in seconds: "disk full"


def small_disk_for(workdir: Path, session_id: int, mounts: list[Path]) -> Path:
    """A small tmpfs where the server records ``session_id`` (data dir var/, media root var/media): its recording
    stops by itself, the disk full. Mounted as root (the driver's namespaces keep the host's mounts: unmounted
    at the end of the run)."""
    folder = workdir / "var" / "media" / "recordings" / str(session_id)
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(folder)], check=True,
                   capture_output=True)  # fmt: skip
    mounts.append(folder)
    return folder


def disk_report(folder: Path) -> list[str]:
    """What a small disk holds (a failure's diagnosis): each file and its size."""
    return [f"{p.relative_to(folder)} {p.stat().st_size}" for p in sorted(folder.rglob("*")) if p.is_file()]


def unmount(mounts: list[Path]) -> None:
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


# every text the room's live region (#status) says, kept as it changes (a later announcement replaces it)
HEARD_JS = """() => { const s = document.getElementById('status'); window.__heard = [];
  new MutationObserver(() => window.__heard.push(s.textContent)).observe(s, {childList: true, characterData: true, subtree: true}); }"""


def seed_language_room(workdir: Path, lang: str) -> int:
    """A consultation open now, hosted by aigerim for dana's group: the room the language pass joins
    (the demo's own consultation is ended for all earlier in the run)."""
    from sqlalchemy import select

    from orchestrator.store.db import Database
    from orchestrator.store.models import GroupMember, Person, SessionRecord

    db = Database.from_url(f"sqlite:///{workdir / 'var' / 'aulacast.db'}")
    now = datetime.now(UTC)
    with db.session() as s:
        ids = {p.username: p.id for p in s.scalars(select(Person))}
        group = s.scalar(select(GroupMember.group_id).where(GroupMember.person_id == ids["dana"]))
        row = SessionRecord(key=f"e2e/languages/{lang}", kind="consultation", title=f"Consultation ({lang})", status="open",
                            start_at=now - timedelta(minutes=1), end_at=now + timedelta(hours=2),
                            tutor_id=ids["aigerim"], group_id=group)  # fmt: skip
        s.add(row)
        s.flush()
        session_id = row.id
    db.engine.dispose()
    return session_id


async def new_page(browser: Any, base: str, *, camera: bool = False) -> tuple[Any, Any]:
    context = await browser.new_context(viewport=rd.VIEWPORT, base_url=base, timezone_id="UTC", locale="en-US")
    if camera:
        await context.grant_permissions(["camera", "microphone"], origin=base)
    await context.add_init_script(COUNT_CAMERA)
    return context, await context.new_page()


async def log_in(page: Any, username: str, password: str, then: str) -> None:
    await page.goto(f"/login?next={then}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=30000)


async def tab_to(page: Any, name: str, walk: dict[str, Any], *, prefix: bool = False, limit: int = 120) -> bool:
    """Press Tab until the focused element's accessible name is ``name`` (or starts with it; "css:…": matches)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        walk["tabs"] += 1
        if name.startswith("css:"):
            if await page.evaluate("(sel) => Boolean(document.activeElement && document.activeElement.matches(sel))", name[4:]):
                walk["focused"] = await page.evaluate("() => document.activeElement.getAttribute('aria-label')")
                return True
            continue
        focused = await page.evaluate("""() => { const e = document.activeElement; if (!e || e === document.body) return '';
          return (e.getAttribute('aria-label') || e.textContent || '').trim(); }""")
        if focused == name or (prefix and focused.startswith(name)):
            return True
    return False


async def week_view(page: Any, monday: str) -> dict[str, Any]:
    await page.goto(f"/schedule?week={monday}")
    await page.wait_for_function("() => /session\\(s\\) this week/.test(document.getElementById('status').textContent)",
                                 timeout=30000)  # fmt: skip
    return await page.evaluate("""() => ({
      status: document.getElementById('status').textContent,
      cards: [...document.querySelectorAll('#week .session')].map(c => ({
        day: c.closest('.day').dataset.day, text: c.textContent, id: Number(c.dataset.session)})),
      days: [...document.querySelectorAll('#week .day')].map(d => d.dataset.day),
    })""")


async def scenario(base: str, logins: dict[str, str], workdir: Path, shots: Path, result: dict[str, Any]) -> None:
    from playwright.async_api import async_playwright

    result["steps"] = []
    mounts: list[Path] = []  # small disks (small_disk_for), unmounted at the end

    def step(name: str) -> None:
        result["steps"].append({"step": name, "t": round(time.monotonic() - rd.T0, 1)})

    ny = result["ny"] = seed_new_yorker(workdir)
    result["channel"] = seed_channel(workdir)
    consult = rd.find_session(base, "aigerim", logins["aigerim"])
    result["consult"] = consult
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=rd.CHROMIUM, args=rd.CHROMIUM_ARGS)
        console: dict[str, list[str]] = {}
        try:
            async def week_and_not_open() -> None:
                ctx, nyc = await new_page(browser, base, camera=True)
                console["nyc"] = []
                nyc.on("console", lambda m: console["nyc"].append(f"{m.type}: {m.text}"))
                await log_in(nyc, "nyc", NYC_PASSWORD, "/schedule")
                result["week"] = await week_view(nyc, ny["monday"])
                await axe(nyc, "schedule week")
                await nyc.screenshot(path=str(shots / "schedule-week.png"))
                step("new yorker's week")
                monday_session = ny["sessions"]["monday"]["id"]
                await nyc.goto(f"/join/{monday_session}")
                await nyc.wait_for_selector("#notice:not([hidden])", timeout=30000)
                await asyncio.sleep(1.0)  # anything that would open the camera has had its chance
                result["not_open"] = {
                    "notice": await nyc.locator("#notice-text").inner_text(),
                    "media_prompts": await nyc.evaluate("() => window.__mediaPrompts"),
                    "check_hidden": await nyc.locator("#check").is_hidden(),
                }
                await axe(nyc, "room: not open yet")
                await ctx.close()
                step("not open yet explained")

            async def chat_then_end() -> None:
                ctx, tutor = await new_page(browser, base, camera=True)
                console["aigerim"] = []
                tutor.on("console", lambda m: console["aigerim"].append(f"{m.type}: {m.text}"))
                await log_in(tutor, "aigerim", logins["aigerim"], f"/join/{consult}")
                await tutor.wait_for_selector("#check:not([hidden])", timeout=30000)
                await tutor.wait_for_function("() => !document.getElementById('enter').disabled", timeout=30000)
                await axe(tutor, "room: device check")
                await tutor.click("#enter")
                await tutor.wait_for_selector("#room:not([hidden])", timeout=30000)
                step("tutor in the room")
                await tutor.click("#chat-input")
                texts = [f"quick message {i:02d}" for i in range(1, QUICK + 1)]
                for text in texts:
                    await tutor.keyboard.type(text)
                    await tutor.keyboard.press("Enter")
                # settled: nothing pending (and, for the old page that had no pending marks, a moment)
                await asyncio.sleep(2)
                await tutor.wait_for_function("() => document.querySelectorAll('#chat-log .pending').length === 0",
                                              timeout=60000)  # fmt: skip
                history = await tutor.evaluate(f"""async () => (await (await fetch('/api/sessions/{consult}/chat',
                    {{headers: {{'X-Requested-With': 'aulacast'}}}})).json()).messages""")
                result["chat"] = {
                    "typed": texts,
                    "stored": [m["body"] for m in history],
                    "box": await tutor.locator("#chat-input").input_value(),
                    "error": await tutor.locator("#chat-error").inner_text(),
                    "times": await tutor.evaluate("""() => [...document.querySelectorAll('#chat-log li.msg')].map(li => ({
                        id: Number(li.dataset.id), shown: li.querySelector('time').textContent,
                        at: li.querySelector('time').getAttribute('datetime')}))"""),
                    "timezone": "Asia/Almaty",
                }
                await tutor.screenshot(path=str(shots / "chat-refused-kept.png"))
                await axe(tutor, "room: chat with a refused message")
                step("quick chat")

                await room_with_a_student(tutor)

                # --- §1.1 end for all: every view follows
                await tutor.get_by_role("button", name="End session for all").click()
                await tutor.get_by_role("button", name="Yes, end it").click()
                await tutor.wait_for_selector("#notice-text:has-text('ended')", timeout=30000)
                await axe(tutor, "room: ended")
                sctx, dana = await new_page(browser, base, camera=True)
                await log_in(dana, "dana", logins["dana"], "/schedule")
                await dana.wait_for_function(
                    "() => /session\\(s\\) this week/.test(document.getElementById('status').textContent)", timeout=30000)
                session_api = await dana.evaluate(f"""async () => (await fetch('/api/sessions/{consult}',
                    {{headers: {{'X-Requested-With': 'aulacast'}}}})).json()""")
                result["ended"] = {
                    "status": session_api.get("status"),
                    "join_links": await dana.locator(f'a[href="/join/{consult}"]').count(),
                    "card": await dana.locator(f'[data-session="{consult}"]').all_inner_texts(),
                }
                await dana.goto(f"/join/{consult}")
                await dana.wait_for_selector("#notice:not([hidden]), #check:not([hidden])", timeout=30000)
                await asyncio.sleep(1.0)
                result["ended"]["notice"] = await dana.locator("#notice-text").inner_text()
                result["ended"]["media_prompts"] = await dana.evaluate("() => window.__mediaPrompts")
                await sctx.close()
                await ctx.close()
                step("ended everywhere")

            async def room_with_a_student(tutor: Any) -> None:
                """§1.4-1.6 and §2 in a room of two: statuses, names, toggles, indicators, layout, a phone."""
                try:
                    await _room_checks(browser, base, logins, consult, tutor, shots, result, console)
                except Exception as exc:  # recorded; the end-for-all part still runs
                    result.setdefault("errors", {})["room_with_a_student"] = f"{type(exc).__name__}: {exc}"
                step("room with a student")

            async def keyboard_walks() -> None:
                """§5: the registrar's plan dry run and the tutor's gradebook entry with the keyboard alone."""
                walks: dict[str, Any] = {}
                result["keyboard"] = walks
                for user, target, steps_after in (
                    ("reg", "Registrar desk", "Show the plan's changes (dry run)"),
                    ("aigerim", "Tutor desk", "css:input.points"),
                ):
                    ctx, page = await new_page(browser, base)
                    await log_in(page, user, logins[user], "/home")
                    await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                    walk: dict[str, Any] = {"tabs": 0}
                    walk["reached_page_link"] = await tab_to(page, target, walk)
                    await page.keyboard.press("Enter")
                    await page.wait_for_url(lambda url: "/staff/" in url, timeout=30000)
                    await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                    walk["reached_control"] = await tab_to(page, steps_after, walk, prefix=True)
                    if user == "reg":
                        await page.keyboard.press("Enter")
                        await page.wait_for_selector(".plan-summary", timeout=60000)
                        walk["done"] = await page.locator(".plan-summary").inner_text()
                    else:
                        await page.keyboard.press("Control+A")
                        await page.keyboard.type("64")
                        await page.keyboard.press("Tab")  # leaving the field saves it
                        await page.wait_for_function(
                            "() => [...document.querySelectorAll('.gradebook p')].some(p => /recorded|Not saved/.test(p.textContent))",
                            timeout=30000)  # fmt: skip
                        walk["done"] = await page.evaluate(
                            "() => [...document.querySelectorAll('.gradebook p')].map(p => p.textContent).filter(Boolean).join(' | ')")
                    walks[user] = walk
                    await ctx.close()
                step("keyboard walks")

            async def room_in(lang: str, got: dict[str, Any]) -> None:
                """The room in one language: the host's device check and room, dana's lobby, the host's
                waiting room with her in it, then dana's room as a participant."""
                rooms = result.setdefault("language_rooms", {})  # one per language: dana waits in each afresh
                sid = rooms[lang] = seed_language_room(workdir, lang)
                probe = PROBE
                people = {}
                for user in ("aigerim", "dana"):
                    ctx = await browser.new_context(viewport=rd.VIEWPORT, base_url=base, timezone_id="UTC", locale=lang)
                    await ctx.grant_permissions(["camera", "microphone"], origin=base)
                    page = await ctx.new_page()
                    people[user] = (ctx, page)
                    await log_in(page, user, logins[user], f"/join/{sid}")
                    await page.wait_for_selector("#check:not([hidden])", timeout=30000)
                    await page.wait_for_function("() => !document.getElementById('enter').disabled", timeout=30000)
                    if user == "aigerim":
                        got["room: device check"] = await page.evaluate(probe)
                    await page.click("#enter")
                    await page.wait_for_selector("#room:not([hidden])" if user == "aigerim" else "#lobby:not([hidden])",
                                                 timeout=30000)  # fmt: skip
                host, dana = people["aigerim"][1], people["dana"][1]
                got["room: lobby"] = await dana.evaluate(probe)
                admit = host.locator("#waiting button").first
                await admit.wait_for(timeout=30000)
                got["room: host, someone waiting"] = await host.evaluate(probe)
                await admit.click()
                await dana.wait_for_selector("#room:not([hidden])", timeout=30000)
                await host.wait_for_selector("#people li[data-person] + li[data-person]", timeout=30000)
                await asyncio.sleep(1.0)  # statuses and tiles settle
                got["room: participant"] = await dana.evaluate(probe)
                got["room: host"] = await host.evaluate(probe)
                # a refusal from the server (the run's chat limit: 5 at once) is said in the language
                await host.click("#chat-input")
                for i in range(8):
                    await host.keyboard.type(f"{lang} {i}")
                    await host.keyboard.press("Enter")
                await host.wait_for_function("() => document.getElementById('chat-error').textContent.length > 0", timeout=30000)
                got["room: chat refused"] = await host.evaluate(probe)
                got["room: chat refused"]["error"] = await host.locator("#chat-error").inner_text()
                if lang != "en":  # the recording stops by itself (its disk is full): both hear why, in the language
                    stopped: dict[str, Any] = {}
                    result.setdefault("recording_stopped", {})[lang] = stopped
                    try:
                        small_disk_for(workdir, sid, mounts)
                        for page in (host, dana):
                            await page.evaluate(HEARD_JS)
                        await host.wait_for_selector("#rec-toggle:not([hidden])", timeout=20000)
                        await host.click("#rec-toggle")
                        await host.wait_for_selector("#rec:not([hidden])", timeout=30000)
                        for who, page in (("host", host), ("participant", dana)):
                            await page.wait_for_selector("#rec[hidden]", state="attached", timeout=180000)
                            await asyncio.sleep(0.5)
                            stopped[who] = await page.evaluate("() => window.__heard")
                        stopped["english"] = await host.evaluate("() => [...document.body.querySelectorAll('[lang=\"en\"]')].map(e => e.textContent)")
                    except Exception as exc:  # noqa: BLE001 - recorded, the test names it
                        stopped["error"] = f"{type(exc).__name__}: {exc}"
                        stopped["disk"] = disk_report(workdir / "var" / "media" / "recordings" / str(sid))
                        with contextlib.suppress(Exception):
                            stopped["heard"] = await host.evaluate("() => window.__heard")
                    # the host ends the session for all: the participant reads why (the server's code) in the language
                    try:
                        await host.click("#end")
                        await host.click("#end-yes")
                        await dana.wait_for_selector("body[data-phase='ended']", timeout=30000)
                        stopped["ended"] = await dana.locator("#notice-text").inner_text()
                    except Exception as exc:  # noqa: BLE001 - recorded, the test names it
                        stopped["ended"] = f"not ended: {type(exc).__name__}: {exc}"
                await host.screenshot(path=str(shots / f"room-host-{lang}.png"))
                for ctx, _page in people.values():
                    await ctx.close()

            async def languages() -> None:
                """§4: every page in kk, ru and en (the browser's language, then the profile's): sign-in, home,
                schedule, the staff pages (ada has registrar, admin and operator; aigerim the tutor desk)."""
                out: dict[str, Any] = {}
                result["languages"] = out
                probe = PROBE
                visits = (("ada", ("/home", "/schedule", "/staff/registrar", "/staff/admin", "/staff/operator", "/staff/engineer")),
                          ("aigerim", ("/staff/tutor",)))  # fmt: skip
                for lang in ("kk", "ru", "en"):
                    got: dict[str, Any] = {}
                    for user, paths in visits:
                        context = await browser.new_context(viewport=rd.VIEWPORT, base_url=base, timezone_id="UTC", locale=lang)
                        page = await context.new_page()
                        if user == "ada":
                            await page.goto("/login")
                            await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                            got["login"] = await page.evaluate(probe)
                        await log_in(page, user, logins[user], paths[0])
                        for path in paths:
                            if page.url.split(base)[-1] != path:
                                await page.goto(path)
                            await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                            got[path.strip("/").replace("staff/", "") or "home"] = await page.evaluate(probe)
                            if path == "/home":
                                await page.screenshot(path=str(shots / f"home-ada-{lang}.png"))
                        await context.close()
                    await room_in(lang, got)
                    # a student's week: the planner's session titles in the language (the discipline's own name)
                    context = await browser.new_context(viewport=rd.VIEWPORT, base_url=base, timezone_id="UTC", locale=lang)
                    page = await context.new_page()
                    await log_in(page, "dana", logins["dana"], "/schedule")
                    await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                    await page.wait_for_selector("#week .session", timeout=30000)
                    out.setdefault("session_titles", {})[lang] = await page.evaluate(
                        "() => [...document.querySelectorAll('#week .session')].map(c => c.lastChild.textContent)")
                    await context.close()
                    out[lang] = got
                # the profile's choice wins over the browser's
                ctx, page = await new_page(browser, base)
                await log_in(page, "dana", logins["dana"], "/home")
                await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                await page.evaluate("""async () => fetch('/api/me/language', {method: 'PUT', credentials: 'same-origin',
                  headers: {'Content-Type': 'application/json', 'X-Requested-With': 'aulacast'}, body: JSON.stringify({language: 'kk'})})""")
                await page.goto("/home")
                await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                out["profile_kk_in_english_browser"] = await page.evaluate(probe)
                await ctx.close()
                step("languages")

            async def staff_pages() -> None:
                """§3: each role signs in, lands on a home page listing its pages, and each page works."""
                out: dict[str, Any] = {}
                result["staff"] = out
                for user in ("reg", "ada", "aigerim", "eng", "dana"):
                    ctx, page = await new_page(browser, base)
                    errors: list[str] = []
                    page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                    if user == "reg":  # signed out, a page sends you to sign in: with no console error on the way
                        await page.goto("/schedule")
                        await page.wait_for_url(lambda url: "/login" in url, timeout=30000)
                        await page.wait_for_selector("input[name=username]", timeout=30000)
                        await asyncio.sleep(0.5)
                        out["signed_out_console_errors"] = list(errors)
                        await axe(page, "login")
                    await log_in(page, user, logins[user], "/home")
                    await page.wait_for_selector("body[data-ready='1']", timeout=30000)
                    seen: dict[str, Any] = {"landed": page.url.split(base)[-1],
                                            "tiles": await page.locator(".tiles h2").all_inner_texts(), "pages": {}}  # fmt: skip
                    await page.screenshot(path=str(shots / f"home-{user}.png"))
                    await axe(page, f"home ({user})")
                    links = await page.evaluate("() => [...document.querySelectorAll('.tiles h2 a')].map(a => a.getAttribute('href'))")
                    for href in [h for h in links if h.startswith("/staff/")]:
                        await page.goto(href)
                        await page.wait_for_selector("body[data-ready='1'], #status:not(:empty)", timeout=30000)
                        info: dict[str, Any] = {
                            "title": await page.locator("#page-title").inner_text(),
                            "sections": await page.locator("section.staff h2").all_inner_texts(),
                            "status": await page.locator("#status").inner_text(),
                        }
                        if href == "/staff/registrar":
                            await page.click("#plan-dry")
                            await page.wait_for_selector(".plan-summary, #page .error", timeout=60000)
                            info["plan"] = await page.locator(".plan-summary, #page .error").first.inner_text()
                        if href == "/staff/admin":
                            info["chain"] = await page.locator("#chain").inner_text()
                        if href in ("/staff/tutor", "/staff/registrar"):
                            info["gradebooks"] = await page.locator(".gradebook caption").all_inner_texts()
                        if href == "/staff/operator":
                            info["services"] = await page.locator("section.staff table").first.inner_text()
                        if href == "/staff/engineer":
                            info.update(await engineer_page(page))
                        await page.screenshot(path=str(shots / f"staff-{href.rsplit('/', 1)[-1]}-{user}.png"), full_page=True)
                        await axe(page, f"{href} ({user})")
                        seen["pages"][href] = info
                    seen["console_errors"] = errors
                    out[user] = seen
                    await ctx.close()
                step("staff pages")

            async def engineer_page(page: Any) -> dict[str, Any]:
                """The channel timeline: blocks, a programme reached and opened with the keyboard, the downloads."""
                out: dict[str, Any] = await page.evaluate("""async () => ({
                  blocks: [...document.querySelectorAll('.tl-block')].map(b => ({type: b.className.replace(/.*tl-/, ''),
                     name: b.textContent.trim(), width: b.parentElement.getBoundingClientRect().width})),
                  summary: document.querySelector('#tv-body .lead').textContent,
                  playout: [...document.querySelectorAll('section.staff')].find(s => /Playout/.test(s.textContent))?.innerText,
                  asrun_rows: [...document.querySelectorAll('section.staff')].pop().querySelectorAll('tbody tr').length,
                  downloads: await Promise.all([...document.querySelectorAll('.downloads a')].map(async a => {
                     const r = await fetch(a.href, {credentials: 'same-origin'});
                     return {href: a.getAttribute('href'), status: r.status, type: r.headers.get('Content-Type'),
                             disposition: r.headers.get('Content-Disposition'), head: (await r.text()).slice(0, 60)}; })),
                })""")
                await page.locator("#tv-date").focus()
                walk: dict[str, Any] = {"tabs": 0}
                out["reached_programme"] = await tab_to(page, "css:.tl-programme", walk, limit=40)
                await page.keyboard.press("Enter")
                await page.wait_for_selector(".tl-detail h3", timeout=10000)
                out["detail"] = await page.locator(".tl-detail").inner_text()
                return out

            # each part is recorded on its own: one that breaks does not hide what the others saw
            for part in (week_and_not_open, chat_then_end, staff_pages, keyboard_walks, languages):
                try:
                    await part()
                except Exception as exc:
                    result.setdefault("errors", {})[part.__name__] = f"{type(exc).__name__}: {exc}"
        finally:
            unmount(mounts)
            result["console"] = {n: c[-30:] for n, c in console.items()}
            result["axe"] = AXE_FINDINGS
            await browser.close()


# what a page says in words: visible text, every aria-label, title and placeholder (hidden parts included
# for the attributes: a control shown later is judged now), the document's title, what the page left in
# English (a server's sentence it has no words for: lang="en") and the channel day's builder notes
PROBE = """() => ({lang: document.documentElement.lang, text: document.body.innerText,
  english: [...document.body.querySelectorAll('[lang="en"]')].map(e => e.textContent),
  notes: [...document.querySelectorAll('.tv-notes li')].map(e => e.textContent),
  labels: [...document.querySelectorAll('[aria-label], [title], [placeholder]')].map(e => [e.getAttribute('aria-label'),
    e.getAttribute('title'), e.getAttribute('placeholder')].filter(Boolean).join(' ')).join(' '),
  title: document.title})"""
NAMES_JS = """() => [...document.querySelectorAll('button, a[href], [role=button]')]
  .filter(e => e.offsetParent !== null)
  .map(e => ({visible: e.textContent.trim().replace(/\\s+/g, ' '), name: (e.getAttribute('aria-label') || e.textContent)
     .trim().replace(/\\s+/g, ' '), pressed: e.getAttribute('aria-pressed')}))"""
FITS_JS = """() => ({scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
  cut: [...document.querySelectorAll('button, a[href], input, select, textarea, h1')]
    .filter(e => e.offsetParent !== null && !e.classList.contains('skip'))
    .map(e => [e.textContent.trim() || e.id || e.name, e.getBoundingClientRect()])
    .filter(([, r]) => r.left < -1 || r.right > document.documentElement.clientWidth + 1).map(([n]) => n)})"""


async def _room_checks(browser: Any, base: str, logins: dict[str, str], consult: int, tutor: Any, shots: Path,
                       result: dict[str, Any], console: dict[str, list[str]]) -> None:  # fmt: skip
    out: dict[str, Any] = {}
    result["room"] = out
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, base_url=base, timezone_id="UTC",
                                    has_touch=True, is_mobile=True)  # fmt: skip
    await ctx.grant_permissions(["camera", "microphone"], origin=base)
    dana = await ctx.new_page()
    console["dana"] = []
    dana.on("console", lambda m: console["dana"].append(f"{m.type}: {m.text}"))
    await log_in(dana, "dana", logins["dana"], "/schedule")
    await dana.wait_for_function("() => /session\\(s\\) this week/.test(document.getElementById('status').textContent)",
                                 timeout=30000)  # fmt: skip
    out["phone_schedule"] = await dana.evaluate(FITS_JS)
    await dana.screenshot(path=str(shots / "schedule-phone.png"))
    await dana.goto(f"/join/{consult}")
    await dana.wait_for_selector("#check:not([hidden])", timeout=30000)
    await dana.click("#enter")
    await dana.wait_for_selector("#lobby:not([hidden])", timeout=30000)
    await axe(dana, "room: lobby (phone)")
    dana_name = "Dana Akhmetova"
    admit = tutor.get_by_role("button", name=f"Admit: {dana_name}", exact=True)
    await admit.wait_for(timeout=30000)
    out["tutor_names_waiting"] = await tutor.evaluate(NAMES_JS)
    await admit.click()
    await dana.wait_for_selector("#room:not([hidden])", timeout=30000)
    await dana.wait_for_function("() => document.getElementById('status').textContent.length > 0", timeout=10000)
    out["first_entry_status"] = await dana.locator("#status").inner_text()
    # the phone: the room fits 390 px
    await asyncio.sleep(1.5)
    out["phone_room"] = await dana.evaluate(FITS_JS)
    await dana.screenshot(path=str(shots / "room-phone.png"), full_page=True)
    await axe(dana, "room (phone)")

    # hand: raised by dana, lowered by the host; dana's status line follows
    await dana.get_by_role("button", name="Raise hand", exact=True).click()
    await dana.wait_for_selector('#hand[aria-pressed="true"]', timeout=15000)
    lower = tutor.get_by_role("button", name=f"Lower hand: {dana_name}", exact=True)
    await lower.wait_for(timeout=15000)
    await lower.click()
    await dana.wait_for_selector('#hand[aria-pressed="false"]', timeout=15000)
    await asyncio.sleep(0.5)
    out["hand_lowered_status"] = await dana.locator("#status").inner_text()
    out["hand_label"] = await dana.locator("#hand").inner_text()

    # dana mutes: the tutor sees it on her tile and in the list, and she is never "speaking"
    await dana.get_by_role("button", name="Mute microphone", exact=True).click()
    out["mic_after_click"] = {"text": await dana.locator("#mic").inner_text(),
                              "pressed": await dana.locator("#mic").get_attribute("aria-pressed")}  # fmt: skip
    dana_id = (await dana.evaluate("() => window.aulacastRoom.snapshot()"))["you"]["person_id"]
    tile = f'#grid .tile[data-person="{dana_id}"]'
    await tutor.wait_for_selector(f'{tile}[data-mic="off"]', timeout=20000)
    speaking = []
    for _ in range(8):  # four seconds of the fake microphone's beeps, muted
        speaking.append(await tutor.locator(f"{tile}.speaking").count())
        await asyncio.sleep(0.5)
    out["muted_seen"] = {
        "speaking_marks": sum(speaking),
        "tile_flags": await tutor.locator(tile).inner_text(),
        "list": await tutor.locator(f'#people li[data-person="{dana_id}"]').inner_text(),
    }
    # dana stops her camera: initials on her tile
    await dana.get_by_role("button", name="Stop camera", exact=True).click()
    await tutor.wait_for_selector(f'{tile}[data-cam="off"].novideo', timeout=20000)
    out["camera_off_avatar"] = await tutor.locator(f"{tile} .avatar").inner_text()
    await tutor.screenshot(path=str(shots / "room-indicators.png"))

    # ask everyone to mute: dana unmutes first, the host asks all
    await dana.get_by_role("button", name="Mute microphone", exact=True).click()
    await dana.wait_for_selector('#mic[aria-pressed="false"]', timeout=10000)
    await tutor.get_by_role("button", name="Ask everyone to mute", exact=True).click()
    await dana.wait_for_selector('#mic[aria-pressed="true"]', timeout=20000)
    out["mute_all_notice"] = await dana.locator("#notice-text").inner_text()

    # the tutor's grid fills a 1280 px stage; the screen share takes the stage, the speaker beside it
    await dana.get_by_role("button", name="Stop camera", exact=True).click()  # camera back on
    snap = await tutor.evaluate("() => window.aulacastRoom.snapshot()")
    out["tutor_tiles"] = [{"key": t["key"], "box": t["box"]} for t in snap["tiles"]]
    await tutor.set_viewport_size({"width": 1920, "height": 1080})  # a large screen: the tiles grow with it
    await asyncio.sleep(1.0)
    snap = await tutor.evaluate("() => window.aulacastRoom.snapshot()")
    out["tutor_tiles_1920"] = [{"key": t["key"], "box": t["box"]} for t in snap["tiles"]]
    await tutor.set_viewport_size(rd.VIEWPORT)
    await asyncio.sleep(0.5)
    await tutor.get_by_role("button", name="Share screen", exact=True).click()
    await tutor.wait_for_selector("#grid.sharing", timeout=20000)
    await dana.wait_for_selector("#grid.sharing .tile.screen", timeout=30000)
    await asyncio.sleep(1)
    snap = await tutor.evaluate("() => window.aulacastRoom.snapshot()")
    out["tutor_tiles_sharing"] = [{"key": t["key"], "box": t["box"]} for t in snap["tiles"]]
    out["grid_sharing"] = await tutor.evaluate("""() => { const g = document.getElementById('grid');
      const cs = getComputedStyle(g); return {cls: g.className, cols: cs.gridTemplateColumns, width: g.clientWidth,
      style: g.getAttribute('style')}; }""")
    out["tutor_names_room"] = await tutor.evaluate(NAMES_JS)
    out["dana_names_room"] = await dana.evaluate(NAMES_JS)
    await tutor.screenshot(path=str(shots / "room-share-stage.png"))
    await axe(tutor, "room: screen share, host with a participant")
    await tutor.get_by_role("button", name="Share screen", exact=True).click()
    await tutor.get_by_role("button", name="Speaker view", exact=True).click()
    out["speaker_view"] = await tutor.evaluate("() => document.getElementById('grid').className")
    await tutor.get_by_role("button", name="Speaker view", exact=True).click()
    out["quality"] = (await tutor.evaluate("() => window.aulacastRoom.snapshot()"))["quality"]
    await ctx.close()


def main() -> int:
    return rd.drive(scenario, env=CHAT_ENV)


if __name__ == "__main__":
    sys.exit(main())
