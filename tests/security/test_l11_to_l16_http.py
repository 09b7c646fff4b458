"""Low 11, 12, 16, 18, 19: login CSRF, feed secrets in the log, huge numbers and deep JSON, small leaks, static pages."""

from __future__ import annotations

import logging

import pytest

from tests.helpers.support import PASSWORD, ApiClient


async def test_l11_login_needs_json_and_this_origin(api: ApiClient) -> None:
    body = f'{{"username": "stu", "password": "{PASSWORD}"}}'
    r = await api.client.post("/api/auth/login", data=body, headers={"Content-Type": "text/plain",
                                                                      "Origin": "https://evil.example"})  # fmt: skip
    assert r.status == 415 and "Set-Cookie" not in r.headers
    r = await api.client.post("/api/auth/login", data=body, headers={"Content-Type": "application/json",
                                                                      "Origin": "https://evil.example"})  # fmt: skip
    assert r.status == 403 and "Set-Cookie" not in r.headers
    own = str(api.client.make_url("")).rstrip("/")
    r = await api.client.post("/api/auth/login", data=body, headers={"Content-Type": "application/json", "Origin": own})
    assert r.status == 200 and "Set-Cookie" in r.headers


async def test_l12_feed_tokens_stay_out_of_the_log(api: ApiClient, caplog: pytest.LogCaptureFixture) -> None:
    r = await api.call("POST", "/api/me/feed-token", "student")
    token = (await r.json())["feed_url"].rsplit("/", 1)[1].removesuffix(".ics")
    with caplog.at_level(logging.INFO, logger="aulacast"):
        assert (await api.client.get(f"/feeds/{token}.ics")).status == 200
        assert (await api.client.get(f"/feeds/{token}x.ics")).status == 404
    seen = [r for r in caplog.records if r.name.startswith("aulacast")]
    assert seen, "the request log was not captured"
    for rec in seen:
        assert token not in rec.getMessage() and token not in str(rec.__dict__), rec.__dict__


async def test_l16_huge_numbers_and_deep_json_are_client_errors(api: ApiClient) -> None:
    huge = "9" * 40
    for path in (f"/api/sessions/{huge}", f"/api/students/{huge}/plan", f"/api/people/{huge}/schedule.ics",
                 f"/api/groups/{huge}/schedule.ics", f"/api/archive/{huge}"):
        r = await api.call("GET", path, "registrar")
        assert r.status == 404, (path, r.status)
    for path in (f"/api/archive?limit={huge}", f"/api/archive?discipline={huge}", f"/api/archive/presentations?session={huge}",
                 f"/api/archive/presentations?student={huge}", f"/api/jobs?session={huge}", f"/api/jobs?limit=-{huge}"):
        r = await api.call("GET", path, "registrar")
        assert r.status < 500, (path, r.status)
    r = await api.call("POST", "/api/sessions", "registrar", data=(
        '{"title": "x", "start": "2026-12-20T10:00:00+00:00", "minutes": 60, "group_id": ' + huge + "}"),
        headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status == 422, await r.text()
    deep = "[" * 100_000 + "]" * 100_000
    r = await api.client.post("/api/auth/login", data=deep, headers={"Content-Type": "application/json"})
    assert r.status in (400, 413, 422), r.status
    r = await api.client.post("/api/auth/login", data='{"username": ' + "[" * 5000 + "]" * 5000 + ', "password": "x"}',
                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status in (400, 422), r.status


async def test_l18_small_leaks(api: ApiClient) -> None:
    r = await api.client.get("/healthz")
    assert r.status == 200 and set(await r.json()) == {"status"}
    for path in ("/healthz", "/login", "/static/login.js", "/api/me"):
        r = await api.client.get(path)
        assert r.headers.get("Server") == "aulacast", (path, r.headers.get("Server"))


async def test_l19_static_copies_of_pages_carry_the_protections(api: ApiClient) -> None:
    for name in ("login.html", "room.html", "schedule.html", "archive.html"):
        r = await api.client.get(f"/static/{name}")
        assert r.status == 200
        assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", ""), name
        assert r.headers.get("X-Frame-Options") == "DENY"
