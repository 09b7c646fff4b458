"""Benchmark: 20 compose jobs over 2 worker processes, one SIGKILLed mid-run, against the same jobs serially in one process.

    .venv/bin/python bench/job_queue.py                   # 20 jobs of an 8 s 3-party recording
    .venv/bin/python bench/job_queue.py --jobs 8 --seconds 6

Queue: a private redis-server, two ``aulacast jobs worker`` processes (the defaults:
concurrency 1, nice 10, 2 encoder threads each); all jobs are submitted at once, and when a
quarter of them are done the worker running one is killed with SIGKILL. It is not
replaced: the other worker finishes the rest, including the killed job once its lease
lapses (lease and broker heartbeat 5 s here). Serial: the same jobs through the in-process
runner (``jobs.broker = "embedded"``, one at a time) in this process. Each job composes
a recording and archives it (``compose`` job body). Afterwards every job must be done, with
exactly one composition folder and one archive item per recording.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from orchestrator.archive.models import Asset  # noqa: E402
from orchestrator.config import load_settings  # noqa: E402
from orchestrator.jobs.models import Job  # noqa: E402
from orchestrator.jobs.queue import Jobs  # noqa: E402
from orchestrator.services import Services  # noqa: E402
from orchestrator.store.db import Database  # noqa: E402
from orchestrator.store.models import SessionRecord  # noqa: E402
from tests.helpers.archive import START, build_world  # noqa: E402
from tests.helpers.composition import lecture  # noqa: E402
from tests.helpers.jobs import WorkerProcess, owner_pid, write_config  # noqa: E402
from tests.helpers.support import free_port  # noqa: E402


def prepare(folder: Path, template: Path, n: int, redis_url: str, **jobs: object) -> tuple[Path, list[int]]:
    """A data dir with the small institution, n sessions and a recording folder for each."""
    folder.mkdir(parents=True)
    cfg = write_config(folder, redis_url, **jobs)
    settings = load_settings(cfg)
    db = Database.from_url(settings.effective_database_url)
    db.upgrade()
    world = build_world(db)
    ids = []
    with db.session() as s:
        for k in range(n):
            row = SessionRecord(key=f"bench-{k}", kind="consultation", title=f"Bench consultation {k}",
                                offering_id=world.offerings["D1-G1"], start_at=START + timedelta(days=k, hours=5),
                                end_at=START + timedelta(days=k, hours=6), status="closed",
                                tutor_id=world.people["t1"], group_id=world.groups["G1"])  # fmt: skip
            s.add(row)
            s.flush()
            ids.append(row.id)
    db.engine.dispose()
    for sid in ids:
        dest = settings.effective_media_root / "recordings" / str(sid) / "r1"
        shutil.copytree(template, dest)
        manifest = json.loads((dest / "manifest.json").read_text())
        manifest["session_id"] = str(sid)
        (dest / "manifest.json").write_text(json.dumps(manifest))
    return cfg, ids


async def submit_all(front: Jobs, settings: object, ids: list[int]) -> list[str]:
    out = []
    for sid in ids:
        folder = settings.effective_media_root / "recordings" / str(sid) / "r1"  # type: ignore[attr-defined]
        job = await front.submit("compose", {"folder": str(folder), "session_id": str(sid), "recording_id": "r1"},
                                 key=f"compose:{sid}:r1", session_id=sid)  # fmt: skip
        out.append(job["id"])
    return out


def rows(db: Database, ids: list[str]) -> list[Job]:
    with db.session() as s:
        found = list(s.scalars(select(Job).where(Job.id.in_(ids))))
        for j in found:
            s.expunge(j)
        return found


def check(cfg: Path, ids: list[str]) -> dict[str, int]:
    settings = load_settings(cfg)
    db = Database.from_url(settings.effective_database_url)
    jobs = rows(db, ids)
    comps = [
        p for p in (settings.effective_media_root / "compositions").iterdir() if not p.name.startswith(".")
    ]
    with db.session() as s:
        assets = s.scalar(select(func.count()).select_from(Asset))
    db.engine.dispose()
    return {"done": sum(j.status == "done" for j in jobs), "failed": sum(j.status == "failed" for j in jobs),
            "attempts": sum(j.attempts for j in jobs), "compositions": len(comps), "assets": int(assets or 0)}  # fmt: skip


async def serial(cfg: Path, sessions: list[int]) -> tuple[float, list[str]]:
    settings = load_settings(cfg)
    settings.jobs.broker = "embedded"
    svc = Services.build(settings)
    front = Jobs(svc)
    await front.start()
    t0 = time.monotonic()
    ids = await submit_all(front, settings, sessions)
    await front.idle()
    wall = time.monotonic() - t0
    await front.close()
    await svc.close()
    return wall, ids


async def queued(cfg: Path, sessions: list[int], work: Path, kill_after: int) -> tuple[float, list[str], str]:
    settings = load_settings(cfg)
    db = Database.from_url(settings.effective_database_url)
    with WorkerProcess(cfg, work / "w1.log") as w1, WorkerProcess(cfg, work / "w2.log") as w2:
        workers = {w1.pid: w1, w2.pid: w2}
        svc = Services.build(settings)
        front = Jobs(svc)
        await front.start()
        t0 = time.monotonic()
        ids = await submit_all(front, settings, sessions)
        killed = ""
        while True:
            now = await asyncio.to_thread(rows, db, ids)
            done = sum(j.status in ("done", "failed") for j in now)
            if done == len(ids):
                break
            if not killed and done >= kill_after:
                victim = next((j for j in now if j.status == "running" and j.progress > 0.1), None)
                pid = owner_pid(victim.owner) if victim else None
                if pid in workers:
                    workers[pid].kill()
                    killed = f"worker {pid} killed at {time.monotonic() - t0:.1f} s, {done} jobs done, during job {victim.id[:8]}"
                    print("  " + killed, file=sys.stderr)
            await asyncio.sleep(0.2)
        wall = time.monotonic() - t0
        await front.close()
        await svc.close()
    db.engine.dispose()
    return wall, ids, killed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each recording")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobq-bench-") as tmp:
        work = Path(tmp)
        template = lecture(work / "template", args.seconds)
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(0.5)
            url = f"redis://127.0.0.1:{port}/0"
            knobs = {"lease_seconds": 5, "heartbeat_seconds": 5, "maintenance_chance": 500000}
            cfg_s, sess_s = prepare(work / "serial", template, args.jobs, url, **knobs)
            cfg_q, sess_q = prepare(work / "queue", template, args.jobs, url, **knobs)
            print(f"serial: {args.jobs} jobs in this process ...", file=sys.stderr)
            s_wall, s_ids = asyncio.run(serial(cfg_s, sess_s))
            s_check = check(cfg_s, s_ids)
            print(f"  {s_wall:.1f} s {s_check}", file=sys.stderr)
            print(f"queue: {args.jobs} jobs over 2 worker processes ...", file=sys.stderr)
            q_wall, q_ids, killed = asyncio.run(queued(cfg_q, sess_q, work, max(1, args.jobs // 4)))
            q_check = check(cfg_q, q_ids)
            print(f"  {q_wall:.1f} s {q_check}", file=sys.stderr)
        finally:
            redis.terminate()
            redis.wait(10)
    print(f"machine: {os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}")
    print(
        f"{args.jobs} compose jobs, each a {args.seconds:g} s 3-party recording with a screen share -> 720p + archive"
    )
    print("| run | wall s | done | failed | runs (attempts) | composition folders | archive items |")
    print("|---|---|---|---|---|---|---|")
    for name, wall, c in (("serial, one process (in-process runner)", s_wall, s_check),
                          ("queue, 2 worker processes, one SIGKILLed", q_wall, q_check)):  # fmt: skip
        print(
            f"| {name} | {wall:.1f} | {c['done']} | {c['failed']} | {c['attempts']} | {c['compositions']} | {c['assets']} |"
        )
    print(f"kill: {killed or 'no job was running when the kill was due'}")
    print(f"queue / serial: wall {q_wall / s_wall:.3f}")
    ok = all(c["done"] == args.jobs and c["compositions"] == args.jobs and c["assets"] == args.jobs
             for c in (s_check, q_check))  # fmt: skip
    print("all complete once" if ok else "NOT all complete once")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
