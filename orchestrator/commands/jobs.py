"""``aulacast jobs``: run a job worker, see jobs and follow one with a progress bar.

    aulacast jobs worker [--concurrency N]     # take jobs from the Redis queue (any node with ffmpeg)
    aulacast jobs list [--status running] [--kind compose] [--limit 20]
    aulacast jobs show JOB                     # everything about one job, as JSON
    aulacast jobs wait JOB [--timeout S]       # a progress bar until it ends; exit 1 if it failed

These run as the operator of the machine (who holds the database), as the other commands do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="batch jobs: compose, package for TV, HLS cut, verify")
    jsub = p.add_subparsers(dest="jobs_command", metavar="JOBS_COMMAND")
    jsub.required = True
    w = jsub.add_parser(
        "worker", help="take jobs from the queue (needs redis_url); Ctrl-C stops after the running job"
    )
    w.add_argument("--concurrency", type=int, help="jobs at once (default: jobs.concurrency)")
    w.set_defaults(func=run_worker)
    ls = jsub.add_parser("list", help="recent jobs, newest first")
    ls.add_argument("--status", choices=("queued", "running", "done", "failed"))
    ls.add_argument("--kind", choices=("compose", "package", "hls", "verify"))
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(func=run_list)
    sh = jsub.add_parser("show", help="one job as JSON")
    sh.add_argument("job")
    sh.set_defaults(func=run_show)
    wt = jsub.add_parser("wait", help="follow a job with a progress bar until it ends")
    wt.add_argument("job")
    wt.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (0: never)")
    wt.set_defaults(func=run_wait)


def _db(args: argparse.Namespace) -> Any:
    import orchestrator.jobs.models  # noqa: F401  (the table must be known before the first query)
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    return db


def _find(db: Any, ref: str) -> dict[str, Any]:
    from sqlalchemy import select

    from orchestrator.jobs.models import Job

    ref = ref.strip().lower()
    if not ref or any(c not in "0123456789abcdef" for c in ref):
        raise UserError(f"{ref!r} is not a job id (hex digits; a unique prefix will do)")
    with db.session() as s:
        rows = list(s.scalars(select(Job).where(Job.id.startswith(ref)).limit(2)))
        if not rows:
            raise UserError(f"no job {ref}")
        if len(rows) > 1:
            raise UserError(f"{ref} names more than one job; give more digits")
        return rows[0].to_dict()


def run_worker(args: argparse.Namespace) -> int:
    from orchestrator.commands.jobs_worker import serve
    from orchestrator.config import load_settings
    from orchestrator.logs import setup_logging

    settings = load_settings(args.config)
    if settings.redis_url is None:
        raise UserError(
            "a job worker takes jobs from Redis: set redis_url (without it the service runs jobs itself)"
        )
    if args.concurrency is not None and not 1 <= args.concurrency <= 64:
        raise UserError("--concurrency must be 1..64")
    setup_logging(settings.log_level)
    return serve(settings, concurrency=args.concurrency)


def run_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator.jobs.models import Job

    db = _db(args)
    with db.session() as s:
        stmt = select(Job).order_by(Job.created_at.desc()).limit(max(1, min(args.limit, 1000)))
        if args.status:
            stmt = stmt.where(Job.status == args.status)
        if args.kind:
            stmt = stmt.where(Job.kind == args.kind)
        rows = [j.to_dict() for j in s.scalars(stmt)]
    if not rows:
        print("no jobs")
        return 0
    print(f"{'job':<12} {'kind':<8} {'status':<8} {'progress':>8}  {'tries':>5}  {'session':>7}  created")
    for j in rows:
        print(f"{j['id'][:12]:<12} {j['kind']:<8} {j['status']:<8} {j['progress'] * 100:7.1f}%  {j['attempts']:>5}  "
              f"{j['session_id'] or '-':>7}  {j['created_at'][:19]}")  # fmt: skip
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(json.dumps(_find(_db(args), args.job), indent=2, ensure_ascii=False))
    return 0


def bar(job: dict[str, Any], width: int = 30) -> str:
    done = int(round(job["progress"] * width))
    return (f"[{'#' * done}{'.' * (width - done)}] {job['progress'] * 100:5.1f}%  {job['status']:<7} {job['stage']}"
            f"{'  (try ' + str(job['attempts']) + ')' if job['attempts'] > 1 else ''}")  # fmt: skip


def run_wait(args: argparse.Namespace) -> int:
    db = _db(args)
    job = _find(db, args.job)
    tty = sys.stdout.isatty()
    started = time.monotonic()
    last = ""
    while True:
        line = bar(job)
        if line != last:
            print(("\r" + line.ljust(len(last))) if tty else line, end="" if tty else "\n", flush=True)
            last = line
        if job["status"] in ("done", "failed"):
            break
        if args.timeout and time.monotonic() - started > args.timeout:
            print("" if not tty else "\n", end="")
            raise UserError(f"job {job['id']} still {job['status']} after {args.timeout:g} s")
        time.sleep(0.5)
        job = _find(db, job["id"])
    if tty:
        print()
    if job["status"] == "failed":
        print(f"failed: {job['error']}", file=sys.stderr)
        return 1
    print(json.dumps(job["result"], ensure_ascii=False))
    return 0
