"""``aulacast calendar``: the academic calendar (check now; import is added beside it).

``register(sub)`` creates the group; each subcommand has its own ``add_*``
function so that they can land independently.
"""

from __future__ import annotations

import argparse

from orchestrator.errors import UserError
from schedules.calendar import describe, load_calendar
from schedules.errors import CalendarError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("calendar", help="academic calendar: check and import")
    calendar_sub = parser.add_subparsers(dest="calendar_command", metavar="CALENDAR_COMMAND")
    calendar_sub.required = True
    add_check(calendar_sub)


def add_check(calendar_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = calendar_sub.add_parser(
        "check",
        help="validate a calendar YAML file and print what it says",
        description="Validate an academic calendar file (docs/calendar.md) and print the periods, teaching "
        "weeks, holidays, blocked periods and windows it defines. Nothing is written.",
    )
    parser.add_argument("file", metavar="FILE", help="calendar YAML file")
    parser.set_defaults(func=run_check)
    return parser


def run_check(args: argparse.Namespace) -> int:
    try:
        cal = load_calendar(args.file)
    except CalendarError as exc:
        raise UserError(str(exc), code="calendar_invalid") from None
    print(describe(cal))
    return 0
