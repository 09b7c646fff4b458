"""``aulacast db upgrade|current``: schema migrations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a command runs: alembic is slow to import
    from orchestrator.store.db import Database



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema")
    dsub = p.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    dsub.required = True
    dsub.add_parser("upgrade", help="apply migrations up to the newest").set_defaults(func=upgrade)
    dsub.add_parser("current", help="print the database's revision").set_defaults(func=current)


def _db(args: argparse.Namespace) -> Database:
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    return Database.from_url(load_settings(args.config).effective_database_url)


def upgrade(args: argparse.Namespace) -> int:
    db = _db(args)
    db.upgrade()
    print(f"database at revision {db.current_revision()}")
    return 0


def current(args: argparse.Namespace) -> int:
    db = _db(args)
    print(f"database at revision {db.current_revision() or 'none (empty)'}; newest known {db.head_revision()}")
    return 0
