"""``aulacast sessions``: the sessions the registrar desk lists, and a tutor's on-request consultations (§19).

    aulacast sessions list [--from 2026-11-01] [--to 2026-11-30] [--kind consultation] [--status planned] [--json]
    aulacast sessions create --as aigerim --title "Midterm questions" --start 2026-11-26T15:00+05:00 \\
        --minutes 45 [--group IS-21] [--student dana --student timur] [--key midterm-q]

``list`` is ``GET /api/sessions`` (the registrar and the admin; ``--as`` to check as someone);
``create`` is ``POST /api/sessions``: a tutor only for the groups and students of offerings they
teach, idempotent by ``--key``, audited naming the ``--as`` person. The running service takes a
new session into its lifecycle (room opening, reminders) within two minutes.
"""

from __future__ import annotations

import argparse

from orchestrator.commands.common import (
    acting,
    add_as,
    open_database,
    person_named,
    print_json,
    route_gate,
    validated,
)
from orchestrator.errors import NotFound


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="sessions (list) and on-request consultations (create)")
    ssub = p.add_subparsers(dest="sessions_command", metavar="SESSIONS_COMMAND")
    ssub.required = True
    ls = ssub.add_parser("list", help="every session in a time range (GET /api/sessions)")
    add_as(ls, write=False)
    ls.add_argument("--from", dest="start", metavar="WHEN", help="ISO date or date-time (default: a day ago)")
    ls.add_argument("--to", dest="end", metavar="WHEN", help="ISO date or date-time (default: two weeks after --from)")
    ls.add_argument("--kind", help="only this kind (lecture, seminar, consultation, defense, ...)")
    ls.add_argument("--status", help="only this status (planned, open, live, ended, cancelled)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    c = ssub.add_parser("create", help="an on-request consultation hosted by the --as person (POST /api/sessions)")
    add_as(c, write=True)
    c.add_argument("--title", required=True)
    c.add_argument("--start", required=True, help="ISO date-time with its offset, e.g. 2026-11-26T15:00+05:00")
    c.add_argument("--minutes", type=int, default=45, help="5-480 (default 45)")
    c.add_argument("--group", metavar="CODE", help="invite a group the host teaches (code or id)")
    c.add_argument("--student", metavar="USER", action="append", default=[],
                   help="invite a student of an offering the host teaches (repeatable; username or id)")  # fmt: skip
    c.add_argument("--key", help="idempotency key: the same key gives the same session")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_create)


def run_list(args: argparse.Namespace) -> int:
    from orchestrator.api.schedule import sessions_between, time_range

    start, end = time_range(args.start, args.end)
    settings, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user)
        route_gate(actor, "GET", "/api/sessions")
        rows = sessions_between(s, start, end, settings.timezone, settings.effective_public_url)
    rows = [r for r in rows if (not args.kind or r["kind"] == args.kind) and (not args.status or r["status"] == args.status)]
    if args.json:
        print_json({"from": start.isoformat(), "to": end.isoformat(), "sessions": rows})
        return 0
    for r in rows:
        print(f"{r['id']:>6}  {r['local_start']}  {r['kind']:<13} {r['status']:<9} {r['title']}")
    print(f"{len(rows)} session(s) from {start.isoformat()} to {end.isoformat()} ({settings.timezone})")
    return 0


def run_create(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator.api.schedule import AdHocBody, create_consultation
    from orchestrator.schedule_views import session_json
    from orchestrator.store.models import Group

    settings, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="create a consultation")
        route_gate(actor, "POST", "/api/sessions")
        group_id = None
        if args.group:
            group_id = int(args.group) if args.group.isdigit() else s.scalar(select(Group.id).where(Group.code == args.group))
            if group_id is None:
                raise NotFound(f"no group {args.group!r}")
        students = [person_named(s, ref).id for ref in args.student]
        body = validated(AdHocBody, title=args.title, start=args.start, minutes=args.minutes, group_id=group_id,
                         student_ids=students, key=args.key)  # fmt: skip
        row = create_consultation(s, actor, body, via="cli")
        out = session_json(row, actor.timezone, settings.effective_public_url)
    if args.json:
        print_json(out)
    else:
        print(f"session {out['id']} ({out['key']}): {out['title']}, {out['local_start']} to {out['local_end']} "
              f"({out['timezone']}), status {out['status']}; join: {out['join_url']}")  # fmt: skip
    return 0
