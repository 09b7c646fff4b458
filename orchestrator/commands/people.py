"""``aulacast people``: accounts and roles, as the registrar desk and ``/api/people`` manage them.

    aulacast people list [--as aigerim] [--role tutor] [--json]
    aulacast people add --as registrar maria --name "Maria Ivanova" --roles student [--email ...] [--timezone ...]
    aulacast people roles --as admin nurlan tutor committee          # replace a person's roles
    aulacast people password --as admin dana [--password-env VAR]    # sets it; ends their sessions and tokens

Each calls the function the API route calls, with the same policy (``can_set_roles``,
``can_set_password``, ``visible_people``); writes are audited naming the ``--as`` person.
"""

from __future__ import annotations

import argparse
import getpass
import os

from orchestrator.commands.common import (
    acting,
    add_as,
    open_database,
    person_named,
    print_json,
    route_gate,
    validated,
)
from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("people", help="people and their roles (list, add, roles, password)")
    psub = p.add_subparsers(dest="people_command", metavar="PEOPLE_COMMAND")
    psub.required = True
    ls = psub.add_parser("list", help="people, as the --as person may see them")
    add_as(ls, write=False)
    ls.add_argument("--role", help="only people with this role")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    a = psub.add_parser("add", help="create an account (registrar or admin; an admin account: an admin only)")
    add_as(a, write=True)
    a.add_argument("username")
    a.add_argument("--name", required=True, help="display name")
    a.add_argument("--roles", required=True, help="comma-separated, e.g. student or tutor,committee")
    a.add_argument("--email")
    a.add_argument("--timezone", default="Asia/Almaty", help="IANA time zone (default: Asia/Almaty)")
    a.add_argument("--password-env", metavar="VAR", help="an initial password from this environment variable")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=run_add)
    r = psub.add_parser("roles", help="replace a person's roles (staff accounts and admin grants: an admin only)")
    add_as(r, write=True)
    r.add_argument("person", metavar="PERSON", help="username or id")
    r.add_argument("roles", metavar="ROLE", nargs="+", help="the roles they will hold (space- or comma-separated)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_roles)
    pw = psub.add_parser("password", help="set a person's password (an admin); their sessions and tokens end")
    add_as(pw, write=True)
    pw.add_argument("person", metavar="PERSON", help="username or id")
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable instead of a prompt")
    pw.set_defaults(func=run_password)


def _line(p: dict) -> str:  # type: ignore[type-arg]
    flags = "" if p["active"] else "  (deactivated)"
    email = f"  <{p['email']}>" if p.get("email") else ""
    return f"{p['username']:<16} {p['display_name']:<30} {','.join(p['roles']):<24} {p['timezone']}{email}{flags}"


def run_list(args: argparse.Namespace) -> int:
    from orchestrator.api.people import people_of

    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user)
        route_gate(actor, "GET", "/api/people")
        rows = people_of(s, actor, args.role)
    if args.json:
        print_json({"people": rows})
        return 0
    for row in rows:
        print(_line(row))
    if not rows:
        print("no one to show")
    return 0


def _password_from_env(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UserError(f"environment variable {var} is empty or not set")
    return value


def run_add(args: argparse.Namespace) -> int:
    from orchestrator.api.people import PersonBody, add_person_as

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    body = validated(PersonBody, username=args.username, display_name=args.name, roles=roles, email=args.email,
                     timezone=args.timezone, password=_password_from_env(args.password_env))  # fmt: skip
    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="create accounts")
        route_gate(actor, "POST", "/api/people")
        row = add_person_as(s, actor, body, via="cli")
    if args.json:
        print_json({"person": row})
    else:
        print(f"created {row['username']} (id {row['id']}): {', '.join(row['roles'])}")
    return 0


def run_roles(args: argparse.Namespace) -> int:
    from orchestrator.api.people import RolesBody, set_roles_of

    roles = [r.strip() for part in args.roles for r in part.split(",") if r.strip()]
    body = validated(RolesBody, roles=roles)
    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="change roles")
        route_gate(actor, "PUT", "/api/people/{person_id:\\d+}/roles")
        row = set_roles_of(s, actor, person_named(s, args.person).id, list(body.roles), via="cli")
    if args.json:
        print_json({"person": row})
    else:
        print(f"{row['username']} now holds: {', '.join(row['roles']) or 'no role'}")
    return 0


def run_password(args: argparse.Namespace) -> int:
    from orchestrator.api.people import PasswordBody, set_password_of

    password = _password_from_env(args.password_env)
    _, db = open_database(args)
    with db.session() as s:  # who and whom before the prompt: a refusal should not ask for a password first
        actor = acting(s, args.as_user, write=True, what="set passwords")
        route_gate(actor, "PUT", "/api/people/{person_id:\\d+}/password")
        target = person_named(s, args.person)
        username, pid = target.username, target.id
    if password is None:
        password = getpass.getpass(f"new password for {username}: ")
        if password != getpass.getpass("again: "):
            raise UserError("the two passwords differ")
    body = validated(PasswordBody, password=password)
    with db.session() as s:
        revoked = set_password_of(s, actor, pid, body.password, via="cli")
    print(f"password of {username} set; {revoked} session(s) and token(s) of theirs ended")
    return 0
