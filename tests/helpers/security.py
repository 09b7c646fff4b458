"""Helpers of the security tests: names to ids on the demo institution, extra accounts made over HTTP."""

from __future__ import annotations

from typing import Any

from tests.helpers.support import DemoClient

STRANGER_PASSWORD = "stranger-tutor-password"
CSRF = {"X-Requested-With": "aulacast"}


async def people_ids(demo: DemoClient) -> dict[str, int]:
    r = await demo.call("GET", "/api/people", "reg")
    assert r.status == 200, await r.text()
    return {p["username"]: p["id"] for p in (await r.json())["people"]}


async def group_ids(demo: DemoClient) -> dict[str, int]:
    r = await demo.call("GET", "/api/groups", "reg")
    assert r.status == 200, await r.text()
    return {g["code"]: g["id"] for g in (await r.json())["groups"]}


async def add_tutor(demo: DemoClient, username: str = "kairat") -> int:
    """A tutor who teaches nothing in the demo curriculum, created by the registrar over HTTP."""
    body: dict[str, Any] = {"username": username, "display_name": username.title(), "roles": ["tutor"],
                            "password": STRANGER_PASSWORD}
    r = await demo.call("POST", "/api/people", "reg", json=body)
    assert r.status == 200, await r.text()
    demo.logins[username] = STRANGER_PASSWORD
    return int((await r.json())["person"]["id"])
