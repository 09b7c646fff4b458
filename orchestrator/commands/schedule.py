"""``aulacast schedule export --person USER | --group CODE -o FILE.ics``: iCalendar out (RFC 5545)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fileio import write_bytes_atomic
from orchestrator.errors import NotFound, UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="personal and group schedules")
    ssub = p.add_subparsers(dest="schedule_command", metavar="SCHEDULE_COMMAND")
    ssub.required = True
    exp = ssub.add_parser("export", help="write a person's or a group's schedule as an .ics file")
    who = exp.add_mutually_exclusive_group(required=True)
    who.add_argument("--person", metavar="USERNAME_OR_ID")
    who.add_argument("--group", metavar="CODE_OR_ID")
    exp.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.ics")
    exp.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator.config import load_settings
    from orchestrator.schedule_views import group_feed, person_feed
    from orchestrator.store.db import Database
    from orchestrator.store.models import Group, Person

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    url, domain = settings.effective_public_url, settings.institution_domain
    with db.session() as s:
        if args.person:
            person = s.scalar(select(Person).where(Person.username == args.person.lower()))
            if person is None and args.person.isdigit():
                person = s.get(Person, int(args.person))
            if person is None:
                raise NotFound(f"no person {args.person!r}")
            body = person_feed(s, person, public_url=url, domain=domain)
        else:
            group = s.scalar(select(Group).where(Group.code == args.group))
            if group is None and args.group.isdigit():
                group = s.get(Group, int(args.group))
            if group is None:
                raise NotFound(f"no group {args.group!r}")
            body = group_feed(s, group, tz=settings.timezone, public_url=url, domain=domain)
    try:
        write_bytes_atomic(args.output, body)
    except OSError as exc:
        raise UserError(f"{args.output}: cannot write ({exc.strerror})") from None
    print(f"wrote {args.output} ({body.count(b'BEGIN:VEVENT')} events)")
    return 0
