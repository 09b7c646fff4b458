"""``aulacast roster import FILE.csv [--dry-run]``: all rows or none."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("roster", help="students, tutors and groups")
    rsub = p.add_subparsers(dest="roster_command", metavar="ROSTER_COMMAND")
    rsub.required = True
    imp = rsub.add_parser("import", help="import a CSV roster (nothing is written when any row is bad)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check and report only")
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from orchestrator import audit
    from orchestrator.config import load_settings
    from orchestrator.policy import OPERATOR
    from orchestrator.roster import RosterRefused, apply_roster, check_roster, parse_roster
    from orchestrator.store.db import Database

    settings = load_settings(args.config)
    try:
        text = args.file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{args.file}: no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"{args.file}: not UTF-8 text") from None
    report = parse_roster(text, source=str(args.file), default_tz=settings.timezone)
    if not report.ok:
        for line in report.errors:
            print(line, file=sys.stderr)
        raise UserError(f"{args.file}: {len(report.errors)} bad row(s); nothing imported")
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    try:
        with db.session() as s:
            if args.dry_run:
                refused = check_roster(s, OPERATOR, report.rows, str(args.file))
                if not refused.ok:
                    raise RosterRefused(refused.errors, refused.problems)
                print(f"{args.file}: {len(report.rows)} row(s) are valid; dry run, nothing imported")
                return 0
            res = apply_roster(s, report.rows, actor=OPERATOR, source=str(args.file))
            audit.record(s, None, "roster.import", str(args.file), rows=len(report.rows), via="cli")
    except RosterRefused as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise UserError(f"{args.file}: {len(exc.errors)} row(s) refused; nothing imported") from None
    print(f"{args.file}: {res.created} created, {res.updated} updated, {res.groups_created} group(s) created")
    return 0
