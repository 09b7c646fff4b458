"""The archive over HTTP on the real server: policy on every read, signed expiring media URLs, edits, holds."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import pytest

from orchestrator.archive.signing import UrlSigner
from tests.helpers.archive import Media

pytestmark = pytest.mark.slow


async def _ingest(server, media: Media, session: str = "consultation") -> int:  # type: ignore[no-untyped-def]
    sid = server.world.sessions[session]
    result = await asyncio.to_thread(server.archive.ingest_recording, sid, media.lecture, chat_vtt=media.chat_vtt)
    return result.asset_id


async def test_playback_urls_are_signed_and_serve_hls(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)
    r = await archive_server.call("GET", f"/api/archive/{aid}/playback", "s1")
    assert r.status == 200, await r.text()
    p = await r.json()
    assert p["hls"].startswith(f"/archive/play/{aid}/") and p["hls"].endswith("/hls/index.m3u8")
    assert p["chapters"][1] == {"start": 4.0, "title": "Normal forms"}
    assert p["chat"][0]["text"] == "first question"
    playlist = await archive_server.call("GET", p["hls"])  # no credentials: the signature is the key
    assert playlist.status == 200 and playlist.content_type == "application/vnd.apple.mpegurl"
    lines = [ln for ln in (await playlist.text()).splitlines() if ln and not ln.startswith("#")]
    for name in ["init.mp4", *lines]:
        seg = await archive_server.call("GET", urljoin(p["hls"], name))
        assert seg.status == 200 and seg.content_type == "video/mp4", name
    whole = await archive_server.call("GET", p["download"])
    assert whole.status == 200 and "attachment" in whole.headers["Content-Disposition"]
    assert await whole.read() == media.lecture.read_bytes()
    part = await archive_server.call("GET", p["download"], headers={"Range": "bytes=0-99"})
    assert part.status == 206 and len(await part.read()) == 100
    poster = await archive_server.call("GET", p["poster"])
    assert poster.status == 200 and poster.content_type == "image/jpeg"


async def test_bad_expired_or_misused_signatures_are_refused(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)
    other = await _ingest(archive_server, media, "defense-s1")
    p = await (await archive_server.call("GET", f"/api/archive/{aid}/playback", "s1")).json()
    prefix, token, rest = p["hls"].rsplit("/", 3)[0], p["hls"].split("/")[4], "hls/index.m3u8"
    mac = token.split(".")[2]
    forged = token[: -len(mac)] + ("A" if mac[0] != "A" else "B") + mac[1:]
    r = await archive_server.call("GET", f"{prefix}/{forged}/{rest}")
    assert r.status == 403 and (await r.json())["error"]["code"] == "bad_signature"
    viewer, expires, _ = token.split(".")
    longer = f"{viewer}.{int(expires) + 86400}.{mac}"  # a later expiry under the old MAC
    assert (await archive_server.call("GET", f"{prefix}/{longer}/{rest}")).status == 403
    signer = UrlSigner(archive_server.settings.signing_key())
    expired = signer.url("play", aid, viewer=int(viewer), expires=int(time.time()) - 5, file=rest)
    r = await archive_server.call("GET", expired)
    body = await r.json()
    assert r.status == 403 and body["error"]["code"] == "expired_url" and "expired" in body["error"]["message"]
    # A token for one item does not open another; a play token does not download.
    assert (await archive_server.call("GET", p["hls"].replace(f"/play/{aid}/", f"/play/{other}/"))).status == 403
    assert (await archive_server.call("GET", p["download"].replace("/download/", "/play/"))).status == 403
    assert (await archive_server.call("GET", p["hls"].replace("/play/", "/download/"))).status == 403
    assert (await archive_server.call("GET", urljoin(p["hls"], "../../etc/passwd"))).status in (403, 404)


async def test_a_student_of_another_group_is_refused(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)
    for path in (f"/api/archive/{aid}", f"/api/archive/{aid}/playback", f"/api/archive/{aid}/dublincore.xml"):
        r = await archive_server.call("GET", path, "s2")
        body = await r.json()
        assert r.status == 403 and body["error"]["code"] == "not_yours", path
        assert "another group" in body["error"]["message"]
        assert (await archive_server.call("GET", path, "t2")).status == 403  # another tutor
        assert (await archive_server.call("GET", path)).status == 401  # nobody signed in
    assert (await archive_server.call("GET", f"/api/archive/{aid}", "s1")).status == 200
    assert (await archive_server.call("GET", f"/api/archive/{aid}", "s3")).status == 403  # G3: not its consultation
    bad = await archive_server.call("GET", f"/api/archive/{aid}", headers={"Authorization": "Bearer nonsense"})
    assert bad.status == 401


async def test_search_shows_only_what_you_may_see(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)

    async def found(who: str | None, query: str = "") -> list[int]:
        r = await archive_server.call("GET", f"/api/archive{query}", who)
        assert r.status == 200, await r.text()
        return [i["id"] for i in (await r.json())["items"]]

    assert await found("s1", "?q=second+normal") == [aid]  # the chat transcript
    assert await found("s2", "?q=second+normal") == []
    assert await found(None) == []
    assert await found("s1", "?discipline=D1&tutor=t1&group=G1&from=2026-11-01&to=2026-11-30") == [aid]
    assert await found("s1", "?discipline=D2") == []
    assert await found("s1", "?from=2026-12-01") == []
    r = await archive_server.call("GET", "/api/archive?from=yesterday", "s1")
    assert r.status == 422


async def test_the_tutor_edits_the_record_and_nobody_else(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)
    edit = {"title": "Normal forms, 2NF and 3NF", "description": "Functional dependencies", "language": "kk"}
    r = await archive_server.call("PATCH", f"/api/archive/{aid}", "t1", json=edit)
    assert r.status == 200, await r.text()
    dc = (await r.json())["dublin_core"]
    assert (dc["title"], dc["description"], dc["language"]) == (edit["title"], edit["description"], "kk")
    hits = await (await archive_server.call("GET", "/api/archive?q=functional", "s1")).json()
    assert [i["id"] for i in hits["items"]] == [aid]
    for who in ("s1", "t2"):
        r = await archive_server.call("PATCH", f"/api/archive/{aid}", who, json={"title": "mine now"})
        assert r.status == 403, who
    r = await archive_server.call("PATCH", f"/api/archive/{aid}", "t1", json={"owner_id": 5})
    assert r.status == 422
    xml = await (await archive_server.call("GET", f"/api/archive/{aid}/dublincore.xml", "s1")).text()
    root = ET.fromstring(xml)
    assert root.find("{http://purl.org/dc/terms/}title").text == edit["title"]
    assert root.find("{http://purl.org/dc/terms/}identifier").text.startswith("urn:sha256:")


async def test_public_items_play_without_an_account(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media)
    assert (await archive_server.call("PATCH", f"/api/archive/{aid}", "t1", json={"visibility": "public"})).status == 200
    r = await archive_server.call("GET", f"/api/archive/{aid}/playback")
    assert r.status == 200
    p = await r.json()
    assert (await archive_server.call("GET", p["hls"])).status == 200


async def test_hold_blocks_deletion_and_deletion_is_final(archive_server, media: Media) -> None:
    aid = await _ingest(archive_server, media, "defense-s1")
    p = await (await archive_server.call("GET", f"/api/archive/{aid}/playback", "s1")).json()
    assert (await archive_server.call("PUT", f"/api/archive/{aid}/hold", "t1", json={"reason": "appeal"})).status == 403
    r = await archive_server.call("PUT", f"/api/archive/{aid}/hold", "reg", json={"reason": "appeal 2026-17"})
    assert r.status == 200 and (await r.json())["legal_hold"] is True
    r = await archive_server.call("DELETE", f"/api/archive/{aid}?reason=cleanup", "adm")
    body = await r.json()
    assert r.status == 403 and body["error"]["code"] == "held" and "appeal 2026-17" in body["error"]["message"]
    assert (await archive_server.call("DELETE", f"/api/archive/{aid}/hold?reason=appeal+decided", "reg")).status == 200
    assert (await archive_server.call("DELETE", f"/api/archive/{aid}?reason=cleanup", "reg")).status == 403
    r = await archive_server.call("DELETE", f"/api/archive/{aid}?reason=appeal+decided", "adm")
    assert r.status == 200 and (await r.json())["status"] == "deleted"
    assert (await archive_server.call("GET", p["hls"])).status == 404  # the link outlived the file: nothing served
    assert (await archive_server.call("GET", f"/api/archive/{aid}", "s1")).status == 403
    record = await (await archive_server.call("GET", f"/api/archive/{aid}", "reg")).json()
    assert record["status"] == "deleted" and record["files"] == []


async def test_the_player_page_and_its_script_are_served(archive_server) -> None:
    r = await archive_server.call("GET", "/archive/1")
    assert r.status == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "hls.light.min.js" in await r.text()
    js = await archive_server.call("GET", "/static/vendor/hls.light.min.js")
    assert js.status == 200 and len(await js.read()) > 100_000


async def test_archiving_a_recording_announces_it_once(archive_server, media: Media) -> None:
    from orchestrator.archive.service import archive_recording

    svc = archive_server.services()
    events: list[dict] = []

    async def seen(event) -> None:  # type: ignore[no-untyped-def]
        events.append(event.payload)

    svc.bus.subscribe("asset.archived", seen)
    sid = archive_server.world.sessions["consultation"]
    first = await archive_recording(svc, sid, media.lecture, chat_vtt=media.chat_vtt)
    again = await archive_recording(svc, sid, media.lecture, chat_vtt=media.chat_vtt)  # a retried job
    await asyncio.sleep(0.1)
    assert again.asset_id == first.asset_id
    assert events == [{"asset_id": first.asset_id, "kind": "consultation", "sha256": first.sha256, "session_id": sid,
                       "page": f"/archive/{first.asset_id}"}]  # fmt: skip
