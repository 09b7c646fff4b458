"""Browser run of the staff pages' server-made sentences in Kazakh (issue 13 §4); runs INSIDE a network namespace.

    unshare --net --pid --fork --kill-child python staff_lang_driver.py --workdir W --out result.json --img-dir D

The real ``aulacast serve --demo`` (room_driver.py's namespace set-up and server start) and Debian's
Chromium with the browser's language set to Kazakh. The registrar checks a calendar, uploads a roster with bad rows
(dry run), a curriculum whose offerings cannot all be placed, then asks for the plan's dry run:
what the page shows of the roster's rows, the unplaced sessions and the §29 reasons is recorded,
with every element the page marked ``lang="en"`` (the server's English, shown only for a code the
catalogue lacks). The pytest side (test_staff_messages_browser.py) judges the JSON written here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import room_driver as rd  # noqa: E402  (the sibling script: namespace, server start, Chromium flags)

CALENDAR = Path(__file__).resolve().parents[2] / "examples" / "calendar-kz-2026-2027.yaml"
BAD_ROSTER = ("username,display_name,roles,email,timezone\n"
              "Bad Name,Bad Name,student,,\n"
              "ok.one,,wizard,not-an-address,Mars/Base\n"
              "ok.one,Again,student,,\n")  # fmt: skip
BAD_CURRICULUM = "offerings:\n  - {code: E2E-BAD, discipline: DB201, group: NOPE, period: autumn, tutor: dana}\n"
# two offerings the planner cannot place in full: a 2-hour consultation in a 1-hour strict window, and
# three strict Tuesday hours a week for one tutor, with a control in a week the period does not have
CURRICULUM = """
offerings:
  - code: E2E-FIT
    discipline: DB201
    group: IS-21
    period: autumn
    tutor: aigerim
    consultations: {per_week: 1, minutes: 120, weekdays: [tue], hours: ["10:00", "11:00"], strict: true}
  - code: E2E-FULL
    discipline: DB201
    group: IS-21
    period: autumn
    tutor: aigerim
    consultations: {per_week: 3, minutes: 60, weekdays: [tue], hours: ["10:00", "11:00"], strict: true}
    controls:
      - {id: late, name: Late test, minutes: 60, week: 30}
"""
CONTRADICTION = ("offerings:\n  - {code: E2E-WIN, discipline: DB201, group: IS-21, period: autumn, tutor: aigerim,\n"
                 "     controls: [{id: c, name: C, minutes: 60, window: nope}]}\n")  # fmt: skip
# what the page shows in an element: its text, and the text of every part marked as the server's English
SHOWN = """(box) => ({text: box.innerText, english: [...box.querySelectorAll('[lang=en]')].map(e => e.textContent)})"""


async def scenario(base: str, logins: dict[str, str], _workdir: Path, shots: Path, result: dict[str, Any]) -> None:
    from playwright.async_api import async_playwright

    steps: list[dict[str, Any]] = []
    result["steps"] = steps

    def step(name: str) -> None:
        steps.append({"step": name, "t": round(time.monotonic() - rd.T0, 1)})

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=rd.CHROMIUM, args=rd.CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(viewport=rd.VIEWPORT, base_url=base, timezone_id="UTC", locale="kk")
            page = await ctx.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            await page.goto("/login?next=/staff/registrar")
            await page.fill("input[name=username]", "reg")
            await page.fill("input[name=password]", logins["reg"])
            await page.click("button[type=submit]")
            await page.wait_for_url(lambda url: "/login" not in url, timeout=30000)
            await page.wait_for_selector("body[data-ready='1']", timeout=30000)
            result["lang"] = await page.evaluate("() => document.documentElement.lang")
            step("signed in")

            # a wrong calendar's check (dry run): its place and what is wrong, then the right one's
            calendar = page.locator("section.staff").nth(0)
            wrong = CALENDAR.read_text(encoding="utf-8").replace("timezone: Asia/Almaty", "timezone: Mars/Olympus", 1)
            await calendar.locator("input[type=file]").set_input_files(
                files=[{"name": "wrong.yaml", "mimeType": "application/yaml", "buffer": wrong.encode()}])
            await calendar.locator(".upload .buttons button").first.click()
            await calendar.locator("table.data").wait_for(timeout=60000)
            result["calendar_wrong"] = await calendar.locator("[aria-live]").first.evaluate(SHOWN)
            await calendar.locator("input[type=file]").set_input_files(
                files=[{"name": CALENDAR.name, "mimeType": "application/yaml", "buffer": CALENDAR.read_bytes()}])
            await calendar.locator(".upload .buttons button").first.click()
            await calendar.locator(".cal-notes").wait_for(timeout=60000)
            result["calendar"] = await calendar.locator("[aria-live]").first.evaluate(SHOWN)
            step("calendar check")

            # the roster's dry run with bad rows: the table of every bad row
            roster = page.locator("section.staff").nth(1)
            await roster.locator("input[type=file]").set_input_files(
                files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": BAD_ROSTER.encode()}])
            await roster.locator(".upload .buttons button").first.click()
            await roster.locator("table.data").wait_for(timeout=30000)
            result["roster"] = await roster.locator("[aria-live]").first.evaluate(SHOWN)
            step("roster dry run")

            # a curriculum naming a group and a tutor that do not exist: its table of bad offerings
            cur = page.locator("section.staff").nth(2)
            await cur.locator("input[type=file]").set_input_files(
                files=[{"name": "bad.yaml", "mimeType": "application/yaml", "buffer": BAD_CURRICULUM.encode()}])
            await cur.locator(".upload .buttons button.primary").click()
            await cur.locator("table.data").wait_for(timeout=30000)
            result["curriculum"] = await cur.locator("[aria-live]").first.evaluate(SHOWN)
            step("bad curriculum")

            # offerings that cannot be placed, then the plan's dry run: unplaced and §29 reasons
            status = await page.evaluate("""async (text) => (await fetch('/api/curriculum?name=e2e.yaml', {method: 'POST',
              body: text, credentials: 'same-origin', headers: {'Content-Type': 'application/yaml', 'X-Requested-With': 'aulacast'}})).status""",
                                         CURRICULUM)  # fmt: skip
            result["curriculum_status"] = status
            plan = page.locator("#plan-dry").locator("xpath=ancestor::section")
            await page.click("#plan-dry")
            # the plan's own answer (the roster's refusal above is an .error too)
            await plan.locator(".plan-summary, .error").first.wait_for(timeout=120000)
            result["plan"] = {
                "text": await plan.inner_text(),
                "english": await plan.evaluate("(s) => [...s.querySelectorAll('[lang=en]')].map(e => e.textContent)"),
                "unplaced": await plan.locator(".unplaced").all_inner_texts(),
                "ineligible": await plan.evaluate("""(s) => [...s.querySelectorAll('table')].slice(1).flatMap(t =>
                  [...t.querySelectorAll('tbody tr')].map(r => r.innerText))"""),
            }
            await page.screenshot(path=str(shots / "staff-registrar-kk-reasons.png"), full_page=True)
            step("plan dry run")

            # an offering whose control names a window the calendar lacks: the plan is refused, each contradiction a row
            await page.evaluate("""async (text) => (await fetch('/api/curriculum?name=w.yaml', {method: 'POST',
              body: text, credentials: 'same-origin', headers: {'Content-Type': 'application/yaml', 'X-Requested-With': 'aulacast'}})).status""",
                                CONTRADICTION)  # fmt: skip
            await page.click("#plan-dry")
            await plan.locator("table.data").first.wait_for(timeout=120000)
            result["plan_refused"] = await plan.locator("[aria-live]").first.evaluate(SHOWN)
            step("plan refused")
            result["console"] = console
            await ctx.close()
        finally:
            await browser.close()


def main() -> int:
    return rd.drive(scenario)


if __name__ == "__main__":
    sys.exit(main())
