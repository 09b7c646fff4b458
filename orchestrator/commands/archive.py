"""``aulacast archive``: import lecture videos, verify every stored byte, apply retention, legal holds.

    aulacast archive import old-lecture.mp4 --title "Linear algebra, lecture 1" --discipline MATH101
    aulacast archive verify                 # re-hash everything; names missing/corrupt files; exit 1 if any
    aulacast archive retention [--dry-run]  # delete what is past its keeping date (never what is held)
    aulacast archive hold 42 --reason "appeal 2026-17"   /   aulacast archive release 42
    aulacast archive list [--as dana] [--q "normal forms"] [--discipline DB201] [--json]   # what a person may see

These run as the operator of the machine (who holds the database): each change is on the
audit log with ``via: cli``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.commands.common import acting, open_database, print_json
from orchestrator.errors import UserError

if TYPE_CHECKING:
    from orchestrator.archive.catalogue import Archive


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="the recordings archive")
    asub = p.add_subparsers(dest="archive_command", metavar="ARCHIVE_COMMAND")
    asub.required = True
    i = asub.add_parser("import", help="add an existing lecture video (checked whole; normalised to MP4 H.264/AAC)")
    i.add_argument("file", type=Path)
    i.add_argument("--title", required=True)
    i.add_argument("--creator", default="", help="dc:creator (default: the tutor's name)")
    i.add_argument("--date", type=_date, help="dc:date, YYYY-MM-DD (default: today)")
    i.add_argument("--discipline", metavar="CODE", help="the discipline it belongs to (dc:subject; its groups see it)")
    i.add_argument("--tutor", metavar="USERNAME", help="the tutor it belongs to (may edit its record)")
    i.add_argument("--description", default="")
    i.add_argument("--language", help="dc:language (default: archive.default_language)")
    i.add_argument("--rights", help="dc:rights (default: archive.default_rights)")
    i.add_argument("--public", action="store_true", help="anyone with the link may watch it")
    i.set_defaults(func=run_import)
    v = asub.add_parser("verify", help="re-hash every archived file; name missing and corrupt ones")
    v.add_argument("--quiet", action="store_true", help="print only problems and the summary")
    v.set_defaults(func=run_verify)
    r = asub.add_parser("retention", help="delete items past their keeping date (items under legal hold stay)")
    r.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    r.add_argument("--today", type=_date, help=argparse.SUPPRESS)
    r.set_defaults(func=run_retention)
    h = asub.add_parser("hold", help="put an item under legal hold (e.g. a defense under appeal)")
    h.add_argument("asset", type=int)
    h.add_argument("--reason", required=True)
    h.set_defaults(func=run_hold, hold=True)
    rel = asub.add_parser("release", help="lift an item's legal hold")
    rel.add_argument("asset", type=int)
    rel.add_argument("--reason", default="hold lifted")
    rel.set_defaults(func=run_hold, hold=False)
    ls = asub.add_parser("list", help="search the items a person may see (GET /api/archive)")
    ls.add_argument("--as", dest="as_user", metavar="USER", help="what this person may see (default: the operator sees all)")
    ls.add_argument("--q", help="words, each must match (as a prefix) the title, description or chat")
    ls.add_argument("--discipline", metavar="CODE")
    ls.add_argument("--tutor", metavar="USERNAME")
    ls.add_argument("--group", metavar="CODE")
    ls.add_argument("--kind", help="asset kind (recording, lecture, ...)")
    ls.add_argument("--from", dest="since", type=_date, metavar="YYYY-MM-DD")
    ls.add_argument("--to", dest="until", type=_date, metavar="YYYY-MM-DD")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (1-100, default 50)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _archive(args: argparse.Namespace) -> Archive:
    import orchestrator.archive.models  # noqa: F401  (the tables must be known before the first query)
    from orchestrator.archive.catalogue import Archive

    settings, db = open_database(args)
    return Archive(settings, db)


def run_import(args: argparse.Namespace) -> int:
    from media.errors import MediaError

    archive = _archive(args)
    if not args.file.is_file():
        raise UserError(f"{args.file} does not exist or is not a file")
    print(f"checking {args.file} ...", file=sys.stderr)
    try:
        result = archive.import_video(
            args.file, title=args.title, creator=args.creator, on=args.date, discipline_code=args.discipline,
            tutor_username=args.tutor, description=args.description, language=args.language, rights=args.rights,
            visibility="public" if args.public else "restricted",
        )  # fmt: skip
    except MediaError as exc:
        raise UserError(str(exc)) from None
    if result.created:
        print(f"archived {args.file.name} as item {result.asset_id} (sha256 {result.sha256})")
    else:
        print(f"{args.file.name} was archived before, as item {result.asset_id}; nothing added")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from orchestrator.archive.verify import verify

    archive = _archive(args)
    report = verify(archive)
    for problem in report.missing + report.corrupt:
        print(problem.line())
    if not args.quiet:
        for digest in report.orphans:
            print(f"orphan blob (named by no item; `archive retention` removes it after a day): {digest}")
    summary = (f"{report.checked} files checked ({report.bytes / 1e6:.1f} MB re-hashed): "
               f"{len(report.missing)} missing, {len(report.corrupt)} corrupt, {len(report.orphans)} orphan blobs")  # fmt: skip
    print(summary)
    return 0 if report.ok else 1


def run_retention(args: argparse.Namespace) -> int:
    from orchestrator.archive.retention import apply_retention

    archive = _archive(args)
    today = args.today or date.today()
    report = apply_retention(archive, today=today, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for asset_id in report.due:
        print(f"{verb} item {asset_id} (retention period over)")
    for asset_id in report.held:
        print(f"kept item {asset_id}: under legal hold")
    print(f"{len(report.due)} item(s) {verb}, {len(report.held)} held, {report.orphans_removed} orphan blob(s) removed")
    return 0


def run_hold(args: argparse.Namespace) -> int:
    from orchestrator.archive.models import Asset
    from orchestrator.errors import NotFound

    archive = _archive(args)
    with archive.db.session() as s:
        asset = s.get(Asset, args.asset)
        if asset is None:
            raise NotFound(f"archive item {args.asset} does not exist")
        archive.set_hold(s, asset, hold=args.hold, reason=args.reason, actor_id=None)
    print(f"item {args.asset} {'is under legal hold' if args.hold else 'is no longer held'}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    import orchestrator.archive.models  # noqa: F401  (the tables must be known before the first query)
    from orchestrator.api.archive import MAX_RESULTS, search_assets

    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user)
        out = search_assets(s, actor, q=args.q, discipline=args.discipline, tutor=args.tutor, group=args.group,
                            kind=args.kind, since=args.since, until=args.until,
                            limit=max(1, min(MAX_RESULTS, args.limit)))  # fmt: skip
    if args.json:
        print_json(out)
        return 0
    for item in out["items"]:
        dc = item["dublin_core"]
        minutes = f"{item['duration'] / 60:.0f} min" if item.get("duration") else ""
        hold = "  (legal hold)" if item.get("legal_hold") else ""
        print(f"{item['id']:>6}  {dc['date']}  {item['kind']:<10} {item['visibility']:<10} {dc['title']}  {minutes}{hold}".rstrip())
    print(f"{out['count']} item(s)")
    return 0
