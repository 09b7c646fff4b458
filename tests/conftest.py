"""Shared fixtures: real SQLite and PostgreSQL databases, a real server on a free port."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("AULACAST_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
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


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; .ci/run starts it")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs against both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aulacast.db'}"
    return request.getfixturevalue("pg_schema_url")


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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiClient]:
    async with serve_api(tmp_path) as client:
        yield client


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


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoClient]:
    import json

    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.demo import load_demo
    from orchestrator.store.db import Database

    settings = make_settings(tmp_path, public_url="https://portal.example.edu", institution_domain="example.edu")
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    load_demo(settings, db)
    logins = json.loads((settings.data_dir / "demo-logins.json").read_text())
    # people the demo does not print still need a password for tests
    from orchestrator.auth import hash_password
    from orchestrator.store.models import Person

    with db.session() as s:
        for p in s.query(Person):
            if p.username not in logins:
                logins[p.username] = "demo-test-password"
                p.password_hash = hash_password(logins[p.username])
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        yield DemoClient(client, logins)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own on a free loopback port; its URL."""
    import subprocess
    import time

    import redis

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
