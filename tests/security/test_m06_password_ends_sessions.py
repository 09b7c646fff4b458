"""Medium 6: a new password ends the person's sessions and API tokens (self-service keeps the current one)."""

from __future__ import annotations

from tests.helpers.support import PASSWORD, ApiClient


async def login(api: ApiClient, username: str, password: str = PASSWORD) -> str:
    r = await api.client.post("/api/auth/login", json={"username": username, "password": password, "kind": "api"})
    assert r.status == 200, await r.text()
    return (await r.json())["token"]


async def me(api: ApiClient, token: str) -> int:
    return (await api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status


async def test_admin_password_reset_signs_the_person_out_everywhere(api: ApiClient) -> None:
    first, second = await login(api, "stu"), await login(api, "stu")
    r = await api.call("PUT", f"/api/people/{api.ids['student']}/password", "admin", json={"password": "a brand new secret"})
    assert r.status == 200, await r.text()
    assert await me(api, first) == 401 and await me(api, second) == 401
    assert await me(api, await login(api, "stu", "a brand new secret")) == 200


async def test_self_service_change_keeps_only_the_current_token(api: ApiClient) -> None:
    current, other = await login(api, "tom"), await login(api, "tom")
    headers = {"Authorization": f"Bearer {current}"}
    r = await api.client.put("/api/me/password", json={"current_password": "wrong one!", "new_password": "x" * 12},
                             headers=headers)  # fmt: skip
    assert r.status == 403 and await me(api, other) == 200
    r = await api.client.put("/api/me/password", json={"current_password": PASSWORD, "new_password": "tom's new secret"},
                             headers=headers)  # fmt: skip
    assert r.status == 200, await r.text()
    assert await me(api, current) == 200
    assert await me(api, other) == 401
