"""A node that stops mid-job hands the job back: it is queued again, not failed, and the next start finishes it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from orchestrator.jobs.queue import Jobs
from orchestrator.services import Services
from tests.helpers.archive import build_world
from tests.helpers.composition import lecture
from tests.helpers.support import make_settings
from tests.orchestrator.jobs.conftest import wait_job

pytestmark = pytest.mark.slow


async def test_stopping_mid_compose_requeues_and_the_next_start_finishes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, jobs={"lease_seconds": 5, "nice": 0, "ffmpeg_threads": 1})
    svc = Services.build(settings)
    svc.db.upgrade()
    sid = build_world(svc.db).sessions["consultation"]
    folder = lecture(
        settings.effective_media_root / "recordings" / str(sid) / "r1", 24.0, session_id=str(sid)
    )
    jobs = Jobs(svc)
    await jobs.start()
    job = await jobs.submit("compose", {"folder": str(folder), "session_id": str(sid), "recording_id": "r1"},
                            key=f"compose:{sid}:r1", session_id=sid)  # fmt: skip
    deadline = time.monotonic() + 180
    while (row := await jobs.get(job["id"]))["progress"] < 0.05:
        assert row["status"] in ("queued", "running") and time.monotonic() < deadline, row
        await asyncio.sleep(0.1)
    await jobs.close()  # the service stops mid-encode
    row = await jobs.get(job["id"])
    assert (row["status"], row["attempts"], row["owner"], row["error"]) == ("queued", 1, None, None)
    assert not [
        p for p in (settings.effective_media_root / "compositions").iterdir() if not p.name.startswith(".")
    ]

    again = Jobs(svc)  # the next start hands queued jobs out again
    await again.start()
    try:
        done = await wait_job(again.get, job["id"])
    finally:
        await again.close()
        await svc.close()
    assert done["status"] == "done" and done["attempts"] == 2, done
