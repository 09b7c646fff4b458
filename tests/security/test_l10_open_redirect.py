"""Low 10: after sign-in the page only goes to a page of this site (checked in Debian's Chromium)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.helpers.support import PASSWORD, ApiClient

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium")]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
HOSTILE = ["/\\evil.example/", "/\t/evil.example/", "//evil.example/", "https://evil.example/", "/\\/evil.example",
           "javascript:alert(1)"]  # fmt: skip


async def test_next_never_leaves_the_site(api: ApiClient) -> None:
    from playwright.async_api import async_playwright

    base = str(api.client.make_url("")).rstrip("/")
    own = urlsplit(base).netloc
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(base_url=base)
            elsewhere: list[str] = []

            async def guard(route, request):  # type: ignore[no-untyped-def]
                if urlsplit(request.url).netloc != own:
                    elsewhere.append(request.url)
                    await route.abort()
                else:
                    await route.continue_()

            await context.route("**/*", guard)
            page = await context.new_page()
            for nxt in [*HOSTILE, "/schedule?week=2"]:
                await page.goto(f"/login?next={quote(nxt, safe='')}")
                await page.fill("input[name=username]", "stu")
                await page.fill("input[name=password]", PASSWORD)
                async with page.expect_navigation(timeout=30_000):
                    await page.click("button[type=submit]")
                landed = urlsplit(page.url)
                assert landed.netloc == own, (nxt, page.url)
            assert page.url.endswith("/schedule?week=2")  # a real same-site next still works
            assert elsewhere == [], elsewhere
        finally:
            await browser.close()
