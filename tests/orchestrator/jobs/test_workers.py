"""Two real ``aulacast jobs worker`` processes over a private Redis: one is SIGKILLed mid-composition,
the job runs again on the other, and there is one composition and one archive item."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from orchestrator.archive.models import Asset
from orchestrator.config import load_settings
from orchestrator.jobs.models import Job
from orchestrator.jobs.queue import Jobs
from orchestrator.metrics import render
from orchestrator.services import Services
from orchestrator.store.db import Database
from tests.helpers.archive import build_world
from tests.helpers.composition import lecture
from tests.helpers.jobs import WorkerProcess, owner_pid, write_config

pytestmark = pytest.mark.slow


def ffmpeg_writing_under(folder: Path) -> list[int]:
    """Processes whose command line names a file under ``folder`` (an ffmpeg writing there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(folder) + "/" in cmd and "ffmpeg" in cmd:
            found.append(int(proc.name))
    return found


def _job(db: Database, job_id: str) -> Job:
    with db.session() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _job_runs(svc: Services) -> dict[tuple[str, str, str], float]:
    """aulacast_job_runs_total by (kind, outcome, runner), read back from /metrics by prometheus' own parser."""
    return {(s.labels["kind"], s.labels["outcome"], s.labels["runner"]): s.value
            for f in text_string_to_metric_families(render(svc).decode()) for s in f.samples
            if s.name == "aulacast_job_runs_total"}  # fmt: skip


async def test_a_worker_killed_mid_compose_the_job_runs_again_elsewhere_once(
    tmp_path: Path, private_redis: str
) -> None:
    cfg = write_config(tmp_path, private_redis, lease_seconds=4, heartbeat_seconds=4, maintenance_chance=500000,
                       ffmpeg_threads=1)  # fmt: skip
    settings = load_settings(cfg)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    sid = build_world(db).sessions["consultation"]
    folder = lecture(
        settings.effective_media_root / "recordings" / str(sid) / "r1", 24.0, session_id=str(sid)
    )

    with WorkerProcess(cfg, tmp_path / "w1.log") as w1, WorkerProcess(cfg, tmp_path / "w2.log") as w2:
        workers = {w1.pid: w1, w2.pid: w2}
        base = os.getpriority(os.PRIO_PROCESS, 0)
        for pid in workers:  # batch work below the live rooms: jobs.nice (10) on the whole process
            assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, base + 10)
        svc = Services.build(settings)
        before = _job_runs(svc)
        front = Jobs(svc)
        await front.start()
        try:
            job = await front.submit("compose", {"folder": str(folder), "session_id": str(sid), "recording_id": "r1"},
                                     key=f"compose:{sid}:r1", session_id=sid)  # fmt: skip
            # Wait until a worker is well into the encode, then kill it without warning.
            deadline = time.monotonic() + 180
            while True:
                row = await asyncio.to_thread(_job, db, job["id"])
                if row.status == "running" and row.progress > 0.1:
                    break
                assert row.status in ("queued", "running"), (row.status, row.error)
                assert time.monotonic() < deadline, f"the job never got going: {row.status} {row.progress}"
                await asyncio.sleep(0.1)
            victim = owner_pid(row.owner)
            assert victim in workers, row.owner
            workers[victim].kill()
            survivor = next(p for p in workers if p != victim)

            deadline = time.monotonic() + 300
            while (row := await asyncio.to_thread(_job, db, job["id"])).status not in ("done", "failed"):
                assert time.monotonic() < deadline, f"job still {row.status} on {row.owner}"
                await asyncio.sleep(0.3)
            # the survivor wrote its run to the service's multiprocess folder; /metrics adds it up. This
            # process's own runs (earlier tests' in-process jobs) are in the figures too: count what changed.
            after = _job_runs(svc)
            runs = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
            assert runs == {("compose", row.status, "worker"): 1.0}, runs
        finally:
            await front.close()
            await svc.close()
        log = (tmp_path / f"w{1 if survivor == w1.pid else 2}.log").read_text(errors="replace")
        assert row.status == "done", (row.error, log[-3000:])
        assert row.attempts == 2 and owner_pid(row.owner) == survivor and row.lease_until is None
        assert row.result is not None and row.result["archived_now"] is True

    outputs = [
        p for p in (settings.effective_media_root / "compositions").iterdir() if not p.name.startswith(".")
    ]
    assert [p.name for p in outputs] == [Path(row.result["folder"]).name]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Asset).where(Asset.session_id == sid)) == 1
    db.engine.dispose()
