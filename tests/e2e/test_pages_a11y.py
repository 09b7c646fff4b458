"""Issue 13 §5 on the pages the portal run does not visit: the archive search, the player (as a viewer
and as the tutor who may edit), its refusal, the hand-in page with a refused file, and the tutor desk
listing the tutor's recordings (§3), in Debian's
Chromium with axe-core (tests/e2e/axe_check.py): no serious or critical violation in any state.
The committee page and a sitting's room are judged in their own browser runs
(test_committee_page.py, sitting_driver.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.axe_check import serious, violations
from tests.e2e.test_archive_player import ARGS, CHROMIUM, _signed_in, player_site  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)"),
]


async def test_archive_player_and_hand_in_have_no_serious_axe_violation(player_site: Any) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, asset_id, media = player_site
    found: dict[str, list[dict[str, Any]]] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            student = await (await _signed_in(browser, base, "s1")).new_page()
            await student.goto("/archive")
            await student.wait_for_selector("#results li, #results tr", timeout=30_000)
            found["archive search"] = await violations(student)
            await student.goto(f"/archive/{asset_id}")
            await student.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=60_000)
            found["player (student)"] = await violations(student)
            await student.goto("/handin")
            await student.wait_for_function("() => !document.getElementById('handin').hidden", timeout=30_000)
            found["hand-in"] = await violations(student)
            await student.get_by_label("File").set_input_files(str(media.text))
            await student.get_by_role("button", name="Upload").click()
            await student.wait_for_function("() => document.getElementById('error').textContent.length > 0",
                                            timeout=60_000)  # fmt: skip
            found["hand-in: a refused file"] = await violations(student)

            tutor = await (await _signed_in(browser, base, "t1")).new_page()
            await tutor.goto(f"/archive/{asset_id}")
            await tutor.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=60_000)
            found["player (tutor, may edit)"] = await violations(tutor)
            # the tutor desk lists the recordings of my sessions (issue 13 §3), each linked to its player
            await tutor.goto("/staff/tutor")
            await tutor.wait_for_selector("body[data-ready='1']", timeout=30_000)
            mine = tutor.locator("section.staff", has_text="My recordings")
            row = mine.locator("tbody tr").first
            assert await row.locator("a").inner_text() == "Databases: normal forms"
            assert await row.locator("a").get_attribute("href") == f"/archive/{asset_id}"
            assert "ready to play" in await row.inner_text()
            found["tutor desk with my recordings"] = await violations(tutor)

            outsider = await (await _signed_in(browser, base, "s2")).new_page()
            await outsider.goto(f"/archive/{asset_id}")
            await outsider.wait_for_function("() => document.getElementById('status').textContent.length > 0",
                                             timeout=30_000)  # fmt: skip
            found["player: refused"] = await violations(outsider)
        finally:
            await browser.close()
    assert len(found) == 7
    assert serious(found) == {}, serious(found)


async def test_the_admin_page_issues_a_token_shown_once_and_revokes_it(player_site: Any) -> None:  # noqa: F811
    """Issue 13 §3 (admin: tokens): made on the page, it signs an API call in; revoked there, it no longer does."""
    from playwright.async_api import async_playwright

    base, _asset, _media = player_site
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await _signed_in(browser, base, "adm")
            page = await context.new_page()
            await page.goto("/staff/admin")
            await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            await page.get_by_label("Label of a new API token").fill("ci-bot")
            await page.get_by_role("button", name="Create token").click()
            value = page.get_by_label("The new token")
            await value.wait_for(timeout=30_000)
            token = await value.input_value()
            assert len(token) > 20 and "shown only this once" in await page.locator(".new-token").inner_text()
            found = {"admin: a new token shown once": await violations(page)}
            me = await context.request.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.ok and (await me.json())["person"]["username"] == "adm"
            await page.reload()
            await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            await page.get_by_role("button", name="Revoke: ci-bot").click()
            await page.wait_for_function("() => document.body.textContent.includes('ci-bot: revoked')", timeout=30_000)
            assert await page.get_by_role("button", name="Revoke: ci-bot").count() == 0
            fresh = await browser.new_context(base_url=base)  # no session cookie: the token alone
            after = await fresh.request.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert after.status == 401
            assert serious(found) == {}, serious(found)
        finally:
            await browser.close()
