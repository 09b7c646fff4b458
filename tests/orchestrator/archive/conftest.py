"""Archive fixtures: generated media once per session, a database holding the small institution."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.store.db import Database
from tests.helpers.archive import Media, World, build_world, make_media


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("archive-media"))


@pytest.fixture
def world_db(db_url: str) -> tuple[Database, World]:
    """Both backends (see tests/conftest.py ``db_url``), migrated, holding the small institution."""
    db = Database.from_url(db_url)
    db.upgrade()
    world = build_world(db)
    yield db, world
    db.engine.dispose()


@pytest.fixture
def sqlite_world(tmp_path: Path) -> tuple[Database, World]:
    db = Database.from_url(f"sqlite:///{tmp_path / 'aulacast.db'}")
    db.upgrade()
    world = build_world(db)
    yield db, world
    db.engine.dispose()


class ArchiveServer:
    """The real application on a free port, holding the small institution; ``call`` as a named person."""

    def __init__(self, client, world: World, archive, settings) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.world = world
        self.archive = archive
        self.settings = settings
        self._tokens: dict[str, str] = {}

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def token(self, who: str) -> str:
        if who not in self._tokens:
            from tests.helpers.archive import PASSWORD

            r = await self.client.post("/api/auth/login", json={"username": who, "password": PASSWORD, "kind": "api"})
            assert r.status == 200, await r.text()
            self._tokens[who] = (await r.json())["token"]
        return self._tokens[who]

    async def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {await self.token(who)}"}

    async def call(self, method: str, path: str, who: str | None = None, **kw):  # type: ignore[no-untyped-def]
        headers = {**(await self.headers(who)), **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    def services(self):  # type: ignore[no-untyped-def]
        from orchestrator.api import SERVICES

        return self.client.server.app[SERVICES]


@pytest.fixture
async def archive_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.archive.catalogue import Archive
    from tests.helpers.support import free_port, make_settings

    settings = make_settings(tmp_path, archive={"upload_max_bytes": 4 * 1024 * 1024, "upload_pdf_max_bytes": 1024 * 1024,
                                                "upload_max_seconds": 30})  # fmt: skip
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    world = build_world(db)
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        yield ArchiveServer(client, world, Archive(settings, db), settings)
    db.engine.dispose()
