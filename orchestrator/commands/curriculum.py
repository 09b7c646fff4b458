"""``aulacast curriculum import FILE``: disciplines and offerings with their session rules."""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curriculum", help="disciplines and offerings")
    csub = p.add_subparsers(dest="curriculum_command", metavar="CURRICULUM_COMMAND")
    csub.required = True
    imp = csub.add_parser("import", help="import disciplines and offerings (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true")
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from orchestrator import audit
    from orchestrator.config import load_settings
    from orchestrator.curriculum import Curriculum, apply_curriculum
    from orchestrator.store.db import Database
    from orchestrator.yamlfile import load_yaml_model

    try:
        text = args.file.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        raise UserError(f"{args.file}: cannot read ({type(exc).__name__})") from None
    cur = load_yaml_model(text, Curriculum, file=str(args.file))
    db = Database.from_url(load_settings(args.config).effective_database_url)
    db.check_revision()
    with db.session() as s:
        counts = apply_curriculum(s, cur, source=str(args.file))
        if args.dry_run:
            s.rollback()
            print(f"{args.file}: valid ({counts['disciplines']} disciplines, {counts['offerings']} offerings); "
                  "dry run, nothing written")
            return 0
        audit.record(s, None, "curriculum.import", str(args.file), **counts)
    print(f"{args.file}: {counts['disciplines']} disciplines, {counts['offerings']} offerings imported")
    return 0
