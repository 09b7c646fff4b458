"""Medium 8: the client address comes from a configured trusted proxy; per account, slow-down, not lockout."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.support import PASSWORD, serve_api


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"{address}"}


async def test_behind_the_proxy_people_do_not_share_one_bucket(tmp_path: Path) -> None:
    async with serve_api(tmp_path, auth={"login_attempts_per_address_per_minute": 3},
                         http={"trusted_proxies": ["127.0.0.1/32"]}) as api:  # fmt: skip
        for i in range(8):  # eight people behind the proxy, one mistake each
            r = await api.client.post("/api/auth/login", json={"username": "reg", "password": "wrong password!"},
                                      headers=via(f"198.51.100.{i + 1}"))  # fmt: skip
            assert r.status == 401, (i, r.status)


async def test_the_header_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    async with serve_api(tmp_path, auth={"login_attempts_per_address_per_minute": 3}) as api:
        statuses = []
        for i in range(8):
            r = await api.client.post("/api/auth/login", json={"username": "reg", "password": "wrong password!"},
                                      headers=via(f"198.51.100.{i + 1}"))  # fmt: skip
            statuses.append(r.status)
        assert 429 in statuses  # spoofed addresses do not buy fresh buckets


async def test_a_guesser_cannot_lock_the_owner_out(tmp_path: Path) -> None:
    async with serve_api(tmp_path, auth={"login_attempts_per_minute": 3},
                         http={"trusted_proxies": ["127.0.0.1"]}) as api:  # fmt: skip
        statuses = []
        for _ in range(8):
            r = await api.client.post("/api/auth/login", json={"username": "reg", "password": "wrong password!"},
                                      headers=via("203.0.113.9"))  # fmt: skip
            statuses.append(r.status)
        assert statuses[:3] == [401, 401, 401] and 429 in statuses
        assert int(r.headers["Retry-After"]) >= 1
        # the guesser's address waits, whatever it sends
        r = await api.client.post("/api/auth/login", json={"username": "reg", "password": PASSWORD}, headers=via("203.0.113.9"))
        assert r.status == 429
        # the owner, elsewhere, signs in at once
        r = await api.client.post("/api/auth/login", json={"username": "reg", "password": PASSWORD}, headers=via("192.0.2.44"))
        assert r.status == 200, await r.text()
