"""``aulacast admin create``: the first administrator (or another one)."""

from __future__ import annotations

import argparse
import getpass
import os

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="administrator accounts")
    asub = p.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND")
    asub.required = True
    c = asub.add_parser("create", help="create an administrator")
    c.add_argument("username")
    c.add_argument("--name", help="display name (default: the username)")
    c.add_argument("--email")
    c.add_argument(
        "--password-env", metavar="VAR", help="read the password from this environment variable instead of a prompt"
    )
    c.set_defaults(func=create)


def create(args: argparse.Namespace) -> int:
    from orchestrator import audit
    from orchestrator.auth import create_person
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise UserError(f"environment variable {args.password_env} is empty or not set")
    else:
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            raise UserError("the two passwords differ")
    from orchestrator.policy import OPERATOR, can_set_roles

    can_set_roles(OPERATOR, None, ["admin"]).enforce()
    with db.session() as s:
        person = create_person(
            s, username=args.username.lower(), display_name=args.name or args.username, roles=["admin"],
            password=password, email=args.email, timezone=settings.timezone,
        )
        audit.record(s, None, "admin.create", f"person:{person.id}", via="cli")
    print(f"created administrator {args.username} (id {person.id})")
    return 0
