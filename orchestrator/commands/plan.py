"""``aulacast plan [--dry-run]``: plan the calendar's offerings and show or apply the difference."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="place sessions from the calendar and offerings")
    p.add_argument("--dry-run", action="store_true", help="print added / moved / cancelled sessions; write nothing")
    p.add_argument("--limit", type=int, default=50, help="lines of detail to print (default 50)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import audit
    from orchestrator.config import load_settings
    from orchestrator.planning import apply, compute, describe_diff, load_inputs
    from orchestrator.store.db import Database

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    with db.session() as s:
        inputs = load_inputs(s)
        result, changes = compute(inputs)
        for line in describe_diff(changes, result, tz=inputs.calendar.timezone, limit=args.limit):
            print(line)
        if args.dry_run:
            print("dry run: nothing written")
            s.rollback()
            return 0
        apply(s, inputs, result, changes, actor="cli")
        audit.record(s, None, "plan.apply", "plan", added=len(changes.added), moved=len(changes.moved),
                     cancelled=len(changes.cancelled), via="cli")
    print("plan applied; a running service picks the changes up within two minutes")
    return 0
