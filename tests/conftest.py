"""Shared fixtures: real SQLite and PostgreSQL databases, a real server on a free port, private Redis."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers.support import (
    PG_ADMIN_URL,
    ApiClient,
    DemoClient,
    free_port,
    make_settings,
    pg_available,
    serve_api,
)


@pytest.fixture(autouse=True)
def no_ice_patch_outlives_its_test() -> Iterator[None]:
    """aioice's process-wide settings are scoped (media/live/aiortc_hooks.py): none may leak into the next test."""
    yield
    hooks = sys.modules.get("media.live.aiortc_hooks")
    left = hooks.active_patches() if hooks is not None else []
    for patch in left:
        patch.undo()
    assert not left, f"close the media server or leave the with block; these aioice patches outlived the test: {left}"


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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiClient]:
    async with serve_api(tmp_path) as client:
        yield client


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
