"""The archive player in Debian's Chromium: HLS (remuxed, played by the vendored hls.js), chapters, chat replay.

The server runs in this test's event loop on a loopback port; Chromium is driven by Playwright with
``executable_path=/usr/bin/chromium`` (never a downloaded browser). Times asserted are the video's own
clock (``currentTime`` when a chat line appeared), not wall-clock times.
Set AULACAST_E2E_SCREENSHOTS=docs/img to refresh the player's screenshot in the docs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.archive import PASSWORD, Media, build_world, make_media
from tests.helpers.support import free_port, make_settings

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium (apt-get install chromium)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

# Records, for every chat line the page adds, the video time at that moment.
WATCH_CHAT = """() => {
  window.__chatSeen = [];
  const list = document.getElementById("chat");
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1) window.__chatSeen.push({
        text: n.querySelector(".text").textContent, at: document.getElementById("video").currentTime });
    }
  }).observe(list, { childList: true });
}"""


@pytest.fixture
async def player_site(tmp_path: Path) -> Any:
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.archive.catalogue import Archive
    from orchestrator.store.db import Database

    media: Media = make_media(tmp_path / "media")
    settings = make_settings(tmp_path)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    world = build_world(db)
    archive = Archive(settings, db)
    result = await asyncio.to_thread(
        archive.ingest_recording, world.sessions["consultation"], media.lecture, chat_vtt=media.chat_vtt)
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=free_port())) as client:
        yield str(client.make_url("")).rstrip("/"), result.asset_id, media
    db.engine.dispose()


async def _signed_in(browser: Any, base: str, who: str) -> Any:
    context = await browser.new_context(base_url=base, viewport={"width": 1200, "height": 800})
    r = await context.request.post("/api/auth/login", data={"username": who, "password": PASSWORD, "kind": "session"})
    assert r.ok, await r.text()
    return context


async def test_chromium_plays_the_recording_with_chapters_and_chat_in_time(player_site: Any, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    base, asset_id, _media = player_site
    shots = Path(os.environ.get("AULACAST_E2E_SCREENSHOTS") or tmp_path / "img")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await _signed_in(browser, base, "s1")
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            await page.goto(f"/archive/{asset_id}")
            await page.wait_for_function("() => document.getElementById('video').readyState >= 2", timeout=60_000)
            assert await page.locator("#title").text_content() == "Databases: normal forms"
            assert await page.locator("#chat li").count() == 0  # nothing said yet at 0:00
            chapters = await page.locator("#chapters li").all_text_contents()
            assert chapters == ["0:00 Intro", "0:04 Normal forms"]
            await page.evaluate(WATCH_CHAT)
            await page.evaluate("() => document.getElementById('video').play()")
            await page.wait_for_function("() => document.getElementById('video').currentTime > 6.5", timeout=120_000)
            state = await page.evaluate("""() => { const v = document.getElementById('video');
                return { w: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames, t: v.currentTime,
                         src: v.currentSrc, seen: window.__chatSeen }; }""")
            assert state["w"] == 320 and state["frames"] > 100, state  # decoded pictures, through MSE (blob:)
            assert state["src"].startswith("blob:"), "hls.js did not drive the video"
            seen = {s["text"]: s["at"] for s in state["seen"]}
            assert set(seen) == {"first question", "about the second normal form"}, state["seen"]
            # Each line appeared at its moment in the video (timeupdate fires about every 0.25 s).
            assert 1.5 <= seen["first question"] < 2.5, seen
            assert 5.0 <= seen["about the second normal form"] < 6.0, seen
            await page.screenshot(path=str(shots / "archive-player.png"))
            # A chapter seeks; going back in time takes the later chat line off again.
            await page.evaluate("() => document.getElementById('video').pause()")
            await page.get_by_role("button", name="0:00 Intro").click()
            await page.wait_for_function("() => document.querySelectorAll('#chat li').length === 0", timeout=30_000)
            assert not [e for e in errors if "favicon" not in e and "Failed to load resource" not in e], errors
            await context.close()

            # A student of another group gets the refusal, in words, and no video.
            other = await _signed_in(browser, base, "s2")
            page = await other.new_page()
            await page.goto(f"/archive/{asset_id}")
            await page.wait_for_function("() => document.getElementById('status').textContent.length > 0", timeout=30_000)
            assert "another group" in await page.locator("#status").text_content()
            assert await page.evaluate("() => document.getElementById('video').currentSrc") == ""
        finally:
            await browser.close()


async def test_a_student_hands_in_a_presentation_and_a_bad_file_is_refused(player_site: Any, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    base, _asset, media = player_site
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await (await _signed_in(browser, base, "s1")).new_page()
            await page.goto("/handin")
            await page.wait_for_function("() => !document.getElementById('handin').hidden", timeout=30_000)
            options = await page.locator("select[name=session] option").all_text_contents()
            assert len(options) == 1 and options[0].startswith("Course work defense: s1")
            # Not a video: refused at the last byte, with the reason, in words.
            await page.get_by_label("File").set_input_files(str(media.text))
            await page.get_by_role("button", name="Upload").click()
            await page.wait_for_function("() => document.getElementById('error').textContent.length > 0", timeout=60_000)
            assert "not a media file" in await page.locator("#error").text_content()
            # A browser-made WebM: uploaded, converted, archived, linked.
            await page.get_by_label("File").set_input_files(str(media.webm))
            await page.get_by_role("button", name="Upload").click()
            await page.wait_for_function(
                "() => document.getElementById('done').textContent.includes('archived')", timeout=120_000)
            assert "Handed in" in await page.locator("#status").text_content()
            done = await page.locator("#done li").all_text_contents()
            assert any("talk.webm — archived" in d for d in done), done
            assert any("notes.mp4 — refused" in d for d in done), done
            await page.get_by_role("link", name="Open in the archive").click()
            await page.wait_for_url("**/archive/*", timeout=60_000)  # (the hand-in page has no #video to poll)
            await page.wait_for_function("() => document.getElementById('video')?.readyState >= 2", timeout=60_000)
            await page.screenshot(path=str(tmp_path / "handin-player.png"))
        finally:
            await browser.close()


async def test_a_student_records_the_presentation_in_the_browser_and_hands_it_in(player_site: Any) -> None:
    """MediaRecorder on /handin with Chromium's fake camera and microphone: about three seconds recorded,
    watched back in the page, uploaded over tus, checked, normalised and archived for the committee."""
    from playwright.async_api import async_playwright

    base, _asset, _media = player_site
    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS + fake)
        try:
            context = await _signed_in(browser, base, "s1")
            await context.grant_permissions(["camera", "microphone"], origin=base)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto("/handin")
            await page.wait_for_function("() => !document.getElementById('recorder').hidden", timeout=30_000)
            await page.get_by_role("button", name="Start recording").click()
            await page.wait_for_function("() => document.getElementById('preview').videoWidth > 0", timeout=30_000)
            # the page's own clock says how long it has recorded; stop after three seconds of it
            await page.wait_for_function("() => document.getElementById('rec-time').textContent === '0:03'",
                                         timeout=60_000)
            await page.get_by_role("button", name="Stop").click()
            await page.wait_for_function("() => !document.getElementById('rec-send').disabled", timeout=30_000)
            kind = await page.evaluate("() => document.getElementById('preview').src")
            assert kind.startswith("blob:")  # the recording plays back in the page before it is sent
            await page.get_by_role("button", name="Hand in this recording").click()
            await page.wait_for_function(
                "() => /presentation-[0-9-]+\\.webm — archived/.test(document.getElementById('done').textContent)",
                timeout=240_000)
            assert await page.locator("#rec-error").text_content() == ""
            data = await (await context.request.get("/api/uploads")).json()
            ups = [u for d in data["defenses"] for u in d["uploads"] if u["filename"].startswith("presentation-")]
            assert len(ups) == 1 and ups[0]["status"] == "archived" and ups[0]["kind"] == "presentation", ups
            item = await (await context.request.get(f"/api/archive/{ups[0]['asset_id']}")).json()
            assert item["kind"] == "presentation" and 2.0 <= item["duration"] <= 6.0, item
            assert item["width"] and item["height"], item  # a picture, normalised to the archive's format
            assert not errors, errors
        finally:
            await browser.close()


async def test_a_refused_camera_is_said_in_words_and_nothing_is_sent(player_site: Any) -> None:
    from playwright.async_api import async_playwright

    base, _asset, _media = player_site
    async with async_playwright() as pw:  # a fake camera, but no permission granted: the browser refuses
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                           args=[*ARGS, "--use-fake-device-for-media-stream", "--deny-permission-prompts"])
        try:
            page = await (await _signed_in(browser, base, "s1")).new_page()
            await page.goto("/handin")
            await page.wait_for_function("() => !document.getElementById('recorder').hidden", timeout=30_000)
            await page.get_by_role("button", name="Start recording").click()
            await page.wait_for_function("() => document.getElementById('rec-error').textContent.length > 0",
                                         timeout=30_000)
            assert "not allowed to use your camera" in await page.locator("#rec-error").text_content()
            assert await page.get_by_role("button", name="Hand in this recording").is_disabled()
            data = await (await page.context.request.get("/api/uploads")).json()
            assert [u for d in data["defenses"] for u in d["uploads"]] == []
        finally:
            await browser.close()


# what a page says in words: visible text, every aria-label, title and placeholder, the document's title
PROBE = """() => ({lang: document.documentElement.lang, text: document.body.innerText,
  labels: [...document.querySelectorAll('[aria-label], [title], [placeholder]')].map(e => [e.getAttribute('aria-label'),
    e.getAttribute('title'), e.getAttribute('placeholder')].filter(Boolean).join(' ')).join(' '),
  title: document.title})"""


async def test_the_archive_player_and_hand_in_speak_each_language(player_site: Any) -> None:
    """Issue 13 §4: the archive, the player (with a record and chapters) and the hand-in page in kk, ru
    and en, as the browser's language chooses: no untranslated key (⟦key⟧), and the page's own words."""
    import json

    from playwright.async_api import async_playwright

    from tests.helpers.support import REPO

    base, asset_id, _media = player_site
    i18n = REPO / "web" / "static" / "i18n"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for lang in ("kk", "ru", "en"):
                cat = {**json.loads((i18n / f"{lang}.json").read_text()), **json.loads((i18n / "archive" / f"{lang}.json").read_text())}
                context = await browser.new_context(base_url=base, viewport={"width": 1200, "height": 800}, locale=lang)
                r = await context.request.post("/api/auth/login", data={"username": "s1", "password": PASSWORD, "kind": "session"})
                assert r.ok, await r.text()
                page = await context.new_page()
                for path, phrase in (("/archive", "archive.search"), (f"/archive/{asset_id}", "archive.record.duration"),
                                     ("/handin", "archive.handin.upload")):  # fmt: skip
                    await page.goto(path)
                    await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                    got = await page.evaluate(PROBE)
                    assert got["lang"] == lang, (path, got["lang"])
                    for where in ("text", "labels", "title"):
                        assert "⟦" not in got[where], (lang, path, where, got[where][:500])
                    assert cat[phrase] in got["text"], (lang, path, phrase, got["text"][:500])
                    if path == f"/archive/{asset_id}":  # the record's language by its name, not its code
                        assert any(cat[f"archive.lang.{c}"] in got["text"] for c in ("kk", "ru", "en")), got["text"][:500]
                await context.close()
                # a refusal by its code: another group's student is told in the language (English: the server's words)
                other = await browser.new_context(base_url=base, locale=lang)
                r = await other.request.post("/api/auth/login", data={"username": "s2", "password": PASSWORD, "kind": "session"})
                assert r.ok, await r.text()
                page = await other.new_page()
                await page.goto(f"/archive/{asset_id}")
                await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                status = await page.locator("#status").text_content()
                errors = json.loads((i18n / "errors" / f"{lang}.json").read_text())
                assert ("another group" in status) if lang == "en" else (status == errors["error.not_yours"]), (lang, status)
                await other.close()
        finally:
            await browser.close()
