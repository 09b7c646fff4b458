"""Helpers shared by the test modules: free ports, settings, seeded people, API clients.

Test modules import these from ``tests.helpers``, never from a ``conftest``: fixtures
live in conftest files, plain functions and classes here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("AULACAST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
"""Small files the tests read: the XMLTV DTD, a test-only 600 kbit/s broadcast profile."""
TINY_PROFILE = (TEST_DATA / "tiny-180p25.toml").read_text()
REDIS_URL = os.environ.get("AULACAST_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def make_settings(tmp_path: Path, **over: Any) -> Any:
    from orchestrator.config import Settings

    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "secret_key": "test-secret-key-not-for-production",
        "scheduler_enabled": False,
    }
    values.update(over)
    return Settings(**values)


ROLE_PEOPLE = {
    "admin": "ada",
    "registrar": "reg",
    "tutor": "tom",
    "teacher": "tea",
    "student": "stu",
    "committee": "com",
    "engineer": "eng",
    "producer": "pro",
}
PASSWORD = "correct horse battery"


def seed_people(db: Any) -> dict[str, int]:
    from orchestrator.auth import create_person

    ids: dict[str, int] = {}
    with db.session() as s:
        for role, username in ROLE_PEOPLE.items():
            p = create_person(s, username=username, display_name=username.title(), roles=[role], password=PASSWORD)
            ids[role] = p.id
    return ids


class ApiClient:
    """A thin JSON client over a real server; ``as_role`` logs in and returns a bearer header."""

    def __init__(self, client: Any, ids: dict[str, int]) -> None:
        self.client = client
        self.ids = ids
        self._tokens: dict[str, str] = {}

    async def token(self, role: str) -> str:
        if role not in self._tokens:
            r = await self.client.post(
                "/api/auth/login", json={"username": ROLE_PEOPLE[role], "password": PASSWORD, "kind": "api"}
            )
            assert r.status == 200, await r.text()
            self._tokens[role] = (await r.json())["token"]
        return self._tokens[role]

    async def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {await self.token(role)}"}

    async def call(self, method: str, path: str, role: str | None = None, **kw: Any) -> Any:
        headers = {**(await self.headers(role)), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)


@asynccontextmanager
async def serve_api(tmp_path: Path, **over: Any) -> AsyncIterator[ApiClient]:
    """The real application on a free loopback port, SQLite store, one person per role."""
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.store.db import Database

    settings = make_settings(tmp_path, **over)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    ids = seed_people(db)
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        yield ApiClient(client, ids)


class DemoClient:
    """A real server holding the demo institution (calendar, roster, offerings, plan)."""

    def __init__(self, client: Any, logins: dict[str, str]) -> None:
        self.client = client
        self.logins = logins
        self._tokens: dict[str, str] = {}

    async def headers(self, username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        if username not in self._tokens:
            r = await self.client.post(
                "/api/auth/login", json={"username": username, "password": self.logins[username], "kind": "api"}
            )
            assert r.status == 200, await r.text()
            self._tokens[username] = (await r.json())["token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def call(self, method: str, path: str, username: str | None = None, **kw: Any) -> Any:
        return await self.client.request(method, path, headers={**(await self.headers(username)), **kw.pop("headers", {})}, **kw)


def wait_for(pred: Callable[[], bool], limit: float) -> bool:
    """Poll ``pred`` until true or ``limit`` seconds pass; its last answer (a hang guard, never a timing claim)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


async def until(predicate: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for a condition; the limit only turns a hang into a failure (never a timing claim)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.05)


def stop_processes(procs: Sequence[subprocess.Popen[Any]], grace: float = 15.0) -> None:
    """Terminate service processes a test started (those still running), killing any that linger."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
