"""``aulacast tv series -o series.yaml``: the channel's series from the calendar's TV offerings (§2).

Every offering whose technology is ``tv`` becomes a series titled after its
discipline (in each language the discipline has). Lectures, with their packaged
media, come from the recordings archive and/or a lectures file:

    aulacast tv series -o series.yaml --from-archive --channel channel.yaml --profile hd-720p25

    # lectures.yaml (lectures recorded elsewhere)
    HIST100-EC22-TV:
      - {number: 1, date: 2026-09-05, title: {ru: "Введение"}, media: media/hist-01.ts, duration: 2700}

``--from-archive`` takes every archived lecture of a TV offering and packages it
for the channel (the profile's encoding, the channel file's service) as a
``package`` job of the job queue (in this process without Redis, by the job
workers with it), keeping the stream with the asset in the archive (done once
per channel and profile); the episode's ``media`` is that stream. ``tv schedule build --series series.yaml``
adds these episodes to the channel file's series of the same offering.

The output is the ``series:`` section of a channel file (docs/broadcast-engineer.md),
ready to paste or to keep beside it; lectures without media yet are listed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError


def register(tv_sub: argparse._SubParsersAction) -> None:
    p = tv_sub.add_parser("series", help="series for the channel file from the calendar's TV offerings")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="SERIES.yaml")
    p.add_argument("--lectures", type=Path, metavar="LECTURES.yaml",
                   help="recorded lectures per offering code (number, date, title, media, duration)")
    p.add_argument("--from-archive", action="store_true",
                   help="episodes from the archive's lectures of TV offerings, packaged for the channel")
    p.add_argument("--channel", type=Path, metavar="FILE", help="with --from-archive: the channel file (its service)")
    p.add_argument("--profile", help="with --from-archive: the channel's broadcast profile (name or .toml file)")
    p.add_argument("--profiles-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="directory of operator profiles; repeatable")
    p.set_defaults(func=run)


def _load_lectures(path: Path | None) -> dict[str, list[dict[str, Any]]]:
    if path is None:
        return {}
    from fileio import FileFormatError, read_yaml

    try:
        data = read_yaml(path).data or {}
    except FileFormatError as exc:
        raise UserError(str(exc)) from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise UserError(f"{path}: expected a mapping of offering code to a list of lectures")
    return {str(k): v for k, v in data.items()}


def series_records(s: Any, lectures: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """TV offerings of the store as the plain records ``schedules.tv.series`` takes."""
    from sqlalchemy import select

    from orchestrator.planning import active_calendar
    from orchestrator.store.models import Discipline, Offering

    cal = active_calendar(s)
    periods = {p.id: p for p in cal.periods}
    out = []
    for o in s.scalars(select(Offering).where(Offering.technology == "tv").order_by(Offering.code)):
        d = s.get(Discipline, o.discipline_id)
        period = periods.get(o.period)
        if d is None or period is None:
            raise UserError(f"offering {o.code}: its discipline or period {o.period!r} is not in the calendar")
        out.append({"offering_id": o.code, "titles": dict(d.titles or {}) or {"en": d.title},
                    "period_start": period.start, "period_end": period.end, "lectures": lectures.get(o.code, [])})
    unknown = set(lectures) - {r["offering_id"] for r in out}
    if unknown:
        raise UserError(f"lectures given for offerings that are not TV offerings: {', '.join(sorted(unknown))}")
    return out


def run(args: argparse.Namespace) -> int:
    import yaml

    from fileio import write_text_atomic
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database
    from schedules.errors import ScheduleError
    from schedules.tv.series import series_from_offerings

    lectures = _load_lectures(args.lectures)
    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    if args.from_archive:
        for code, found in _archive_lectures(args, settings, db).items():
            lectures.setdefault(code, []).extend(found)
    elif args.channel or args.profile:
        raise UserError("--channel and --profile go with --from-archive")
    with db.session() as s:
        records = series_records(s, lectures)
    skipped: list[str] = []
    try:
        series = series_from_offerings(records, skipped)
    except ScheduleError as exc:
        raise UserError(str(exc)) from None
    doc = {"series": [
        {"id": se.id, "offering": se.offering_id, "title": se.title, "category": se.category, "season": se.season,
         "episodes": [{"number": e.number, "title": e.title, "media": e.media, "duration": e.duration,
                       "date": e.date.isoformat() if e.date else None} for e in se.episodes]}
        for se in series
    ]}
    write_text_atomic(args.output, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    for line in skipped:
        print(f"not yet on air: {line}", file=sys.stderr)
    print(f"wrote {args.output}: {len(series)} series, {sum(len(se.episodes) for se in series)} episode(s)")
    return 0


def _archive_lectures(args: argparse.Namespace, settings: Any, db: Any) -> dict[str, list[dict[str, Any]]]:
    """The archive's TV lectures, each packaged for the channel by a ``package`` job of the job queue."""
    import asyncio

    from media.errors import MediaError
    from media.transcode.profiles import load_profile
    from orchestrator.channel.episodes import archived_lectures, lecture_records
    from orchestrator.channel.packaging import packaged_name, service_args
    from orchestrator.commands.tv_playout import channel_service
    from orchestrator.commands.tv_schedule import read_channel_file

    if args.channel is None or args.profile is None:
        raise UserError("--from-archive needs --channel FILE (whose service the streams carry) and --profile")
    if args.profile.endswith(".toml"):
        raise UserError("--from-archive takes a profile name (packaging jobs never take a path): put the file in "
                        "a folder given with --profiles-dir and name it")
    channel = read_channel_file(args.channel).channel
    try:
        profile = load_profile(args.profile, extra_dirs=args.profiles_dir).for_service(channel_service(channel))
    except MediaError as exc:
        raise UserError(str(exc)) from None
    with db.session() as s:
        found = archived_lectures(s)
    asset_ids = [lec.asset_id for lectures in found.values() for lec in lectures]
    base = {"profile": args.profile, "profiles_dirs": [str(d.resolve()) for d in args.profiles_dir], "service": service_args(profile.service)}
    results = asyncio.run(_package_by_jobs(settings, asset_ids, base, packaged_name(profile)))
    failed = [f"archive item {a}: {r['error']}" for a, r in results.items() if r["status"] != "done"]
    if failed:
        raise UserError("packaging failed: " + "; ".join(failed))
    made = sum(1 for r in results.values() if r["now"] and r["result"].get("created"))
    print(f"packaged {made} lecture(s) for {channel.id} ({profile.name}), {len(results) - made} already packaged",
          file=sys.stderr)
    media = {a: (r["result"]["path"], float(r["result"]["duration"])) for a, r in results.items()}
    return lecture_records(found, media)


async def _package_by_jobs(settings: Any, asset_ids: list[int], base: dict[str, Any],
                           tag: str) -> dict[int, dict[str, Any]]:  # fmt: skip
    """Submit one ``package`` job per asset (idempotent by key) and wait for each; the finished jobs by asset.

    Without Redis the jobs run in this process; with it, ``aulacast jobs worker`` processes take them.
    ``asset.packaged`` goes on this process's bus; the webhook outbox records it (docs/webhooks.md).
    """
    import asyncio

    from orchestrator.jobs.queue import Jobs
    from orchestrator.services import Services
    from orchestrator.webhooks.service import record_on

    svc = Services.build(settings)
    record_on(svc)
    jobs = Jobs(svc)
    await jobs.start()
    try:
        pending: dict[int, str] = {}
        submitted: dict[str, bool] = {}
        for asset_id in asset_ids:
            key = f"package:{asset_id}:{tag}"
            job = await jobs.submit("package", {**base, "asset_id": asset_id}, key=key)
            for _ in range(100):  # failed before (a missing file since restored): a new job, keyed after that one
                if job["status"] != "failed":
                    break
                job = await jobs.submit("package", {**base, "asset_id": asset_id}, key=f"{key}:{job['id'][:8]}")
            pending[asset_id] = job["id"]
            submitted[job["id"]] = job["status"] == "queued"  # made now (else a job of an earlier run)
        if pending and not jobs.embedded:
            print(f"waiting for job workers to package {len(pending)} lecture(s)", file=sys.stderr)
        results: dict[int, dict[str, Any]] = {}
        while pending:
            for asset_id, job_id in list(pending.items()):
                job = await jobs.get(job_id)
                if job is not None and job["status"] in ("done", "failed"):
                    results[asset_id] = {**job, "result": job["result"] or {}, "now": submitted[job_id]}
                    del pending[asset_id]
            if pending:
                await asyncio.sleep(0.5)
        return results
    finally:
        await jobs.close()
        await svc.close()
