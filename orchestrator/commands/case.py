"""``aulacast case``: case technology — course material handed over as a package (disc, USB stick, zip).

    aulacast case export --title "Linear Algebra" --video l01.mkv::"Lecture 1: vectors" --video l02.mkv \\
        --material syllabus.pdf --ics my-schedule.ics -o algebra.zip
    aulacast case export DB201-IS21-A --video l01.mkv --material syllabus.pdf -o db201.zip   # title + .ics from the store

A video's title follows ``::`` after its path; without one the file name is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from media.case.export import CaseVideo, export_case
from media.errors import MediaError
from orchestrator.commands.tv_package import ProgressBar
from orchestrator.errors import UserError
from orchestrator.ffmpeg_binary import ffmpeg_from_settings

TITLE_SEPARATOR = "::"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("case", help="case technology: offline course packages")
    case_sub = parser.add_subparsers(dest="case_command", metavar="CASE_COMMAND")
    case_sub.required = True
    e = case_sub.add_parser("export", help="write a course package (videos, materials, schedule) to DIR or FILE.zip")
    e.add_argument("offering", nargs="?", metavar="OFFERING",
                   help="an offering code: the title and the group's schedule (.ics) come from the store")
    e.add_argument("--title", help="the course title shown on the package's page (default: the offering's)")
    e.add_argument("--video", action="append", default=[], metavar="FILE[::TITLE]",
                   help="a lecture video, optionally with its title; repeatable, in order")
    e.add_argument("--material", action="append", default=[], type=Path, metavar="FILE",
                   help="a file handed over as it is (PDF, slides...); repeatable")
    e.add_argument("--ics", type=Path, metavar="FILE", help="the student's schedule (iCalendar)")
    e.add_argument("-o", "--output", required=True, type=Path, help="directory, or a file ending in .zip")
    e.set_defaults(func=run_export)


def parse_video(spec: str) -> CaseVideo:
    path, sep, title = spec.partition(TITLE_SEPARATOR)
    if not path:
        raise UserError(f"--video {spec!r}: no file given")
    return CaseVideo(Path(path), title.strip() if sep and title.strip() else _title_from_name(Path(path)))


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


def offering_title_and_ics(args: argparse.Namespace) -> tuple[str, bytes]:
    """The offering's discipline title (with the group) and its group's schedule from the store."""
    from sqlalchemy import select

    from orchestrator.config import load_settings
    from orchestrator.schedule_views import group_feed
    from orchestrator.store.db import Database
    from orchestrator.store.models import Discipline, Group, Offering

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    with db.session() as s:
        off = s.scalar(select(Offering).where(Offering.code == args.offering))
        if off is None:
            raise UserError(f"no offering {args.offering!r}")
        discipline = s.get(Discipline, off.discipline_id)
        group = s.get(Group, off.group_id)
        assert discipline is not None and group is not None
        ics = group_feed(s, group, tz=settings.timezone, public_url=settings.effective_public_url,
                         domain=settings.institution_domain)
        return f"{discipline.title} — {group.name}", ics


def run_export(args: argparse.Namespace) -> int:
    videos = [parse_video(v) for v in args.video]
    ics = None
    title = args.title
    if args.offering:
        store_title, ics = offering_title_and_ics(args)
        title = title or store_title
    if not title:
        raise UserError("give an OFFERING code or --title")
    if args.ics is not None:
        try:
            ics = args.ics.read_bytes()
        except OSError as exc:
            raise UserError(f"{args.ics}: cannot read schedule ({exc.strerror})") from exc
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        ffmpeg = ffmpeg_from_settings(getattr(args, "config", None)) if videos else None
        report = export_case(title, videos=videos, materials=args.material, ics=ics, output=args.output,
                             ffmpeg=ffmpeg, progress=bar.update if bar else None)
    except MediaError as exc:
        raise UserError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.close()
    counts: dict[str, int] = {}
    for entry in report.entries:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    print(f"{report.output}: {report.title!r}, {counts.get('video', 0)} video(s), {counts.get('material', 0)} "
          f"material(s){', schedule' if 'schedule' in counts else ''}; {report.total_bytes / 1e6:.1f} MB; "
          f"open index.html to play, manifest.json lists SHA-256 sums")
    return 0
