"""Archive fixtures: generated media once per session, a database holding the small institution."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_world import Media, World, build_world, make_media

from orchestrator.store.db import Database


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
