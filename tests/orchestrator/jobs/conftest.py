"""Job fixtures: the real application (jobs in-process) on the archive tests' small institution."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.store.db import Database
from tests.helpers.archive import build_world
from tests.orchestrator.archive.conftest import ArchiveServer


@pytest.fixture
async def jobs_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from orchestrator.app import create_app
    from orchestrator.archive.catalogue import Archive
    from tests.helpers.support import free_port, make_settings

    settings = make_settings(tmp_path, jobs={"lease_seconds": 5, "nice": 0})
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    world = build_world(db)
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=free_port())) as client:
        yield ArchiveServer(client, world, Archive(settings, db), settings)
    db.engine.dispose()


def recording_dir(settings: Any, session_id: int, recording_id: str = "r1") -> Path:
    return settings.effective_media_root / "recordings" / str(session_id) / recording_id


async def wait_job(get: Any, job_id: str, *, within: float = 240) -> dict[str, Any]:
    """Poll until the job is done or failed (generous: the machine is shared)."""
    deadline = time.monotonic() + within
    while True:
        job = await get(job_id)
        if job is not None and job["status"] in ("done", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job and job['status']} after {within} s: {job}")
        await asyncio.sleep(0.3)
