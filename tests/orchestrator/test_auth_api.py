"""Sign-in over the real server: cookie and bearer, logout, revocation, forged tokens, rate limits."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.support import PASSWORD, ApiClient, serve_api


async def test_cookie_session_is_httponly_samesite_and_logout_revokes(api: ApiClient) -> None:
    c = api.client
    r = await c.post("/api/auth/login", json={"username": "stu", "password": PASSWORD})
    assert r.status == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    me = await c.get("/api/me")
    assert (await me.json())["person"]["roles"] == ["student"]
    # a cookie-authenticated write without the CSRF header is refused
    r = await c.post("/api/auth/logout")
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf"
    r = await c.post("/api/auth/logout", headers={"X-Requested-With": "aulacast"})
    assert r.status == 200
    stolen = cookie.split(";")[0].split("=", 1)[1]
    r = await c.get("/api/me", headers={"Cookie": f"aulacast_session={stolen}"})
    assert r.status == 401
    assert (await r.json())["error"]["code"] in ("revoked_token", "unauthenticated")


async def test_bearer_token_and_revocation(api: ApiClient) -> None:
    headers = await api.headers("tutor")
    r = await api.client.get("/api/me", headers=headers)
    assert r.status == 200
    r = await api.client.post("/api/me/tokens", json={"label": "script"}, headers=headers)
    second = (await r.json())["token"]
    listed = await (await api.client.get("/api/me/tokens", headers=headers)).json()
    tid = [t for t in listed["tokens"] if t["label"] == "script"][0]["id"]
    r = await api.client.delete(f"/api/me/tokens/{tid}", headers=headers)
    assert r.status == 200
    r = await api.client.get("/api/me", headers={"Authorization": f"Bearer {second}"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "revoked_token"


async def test_forged_credentials_get_json_401(api: ApiClient) -> None:
    for headers in (
        {"Authorization": "Bearer aca_forged-token-value"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": "aulacast_session=acs_forged"},
    ):
        r = await api.client.get("/api/me", headers=headers)
        assert r.status == 401
        body = await r.json()
        assert body["error"]["code"] in ("invalid_token", "unauthenticated")
        assert "Traceback" not in await r.text()


async def test_wrong_password_and_rate_limit(tmp_path: Path) -> None:
    # 3 attempts a minute refill one token every 20 s: 8 quick tries exhaust it however slow the machine
    async with serve_api(tmp_path, auth={"login_attempts_per_minute": 3}) as api:
        statuses = []
        for _ in range(8):
            r = await api.client.post("/api/auth/login", json={"username": "reg", "password": "wrong password!"})
            statuses.append(r.status)
        assert statuses[0] == 401
        assert 429 in statuses
        body = await r.json()
        assert body["error"]["code"] == "rate_limited"
        # even the right password is refused while the account is throttled
        r = await api.client.post("/api/auth/login", json={"username": "reg", "password": PASSWORD})
        assert r.status == 429
        # the limit is per account: another account still signs in
        r = await api.client.post("/api/auth/login", json={"username": "stu", "password": PASSWORD})
        assert r.status == 200


async def test_malformed_login_body(api: ApiClient) -> None:
    r = await api.client.post("/api/auth/login", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    r = await api.client.post("/api/auth/login", json={"username": "x"})
    assert r.status == 422 and "password" in (await r.json())["error"]["message"]


async def test_health_ready_openapi(api: ApiClient) -> None:
    assert (await api.client.get("/healthz")).status == 200
    r = await api.client.get("/readyz")
    body = await r.json()
    assert body["checks"]["database"] == "ok"
    doc = await (await api.client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/api/auth/login" in doc["paths"]
    assert r.headers.get("X-Request-Id")
