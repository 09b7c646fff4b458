"""``aulacast calendar``: the academic calendar (check, import, and the country codes for public holidays).

``register(sub)`` creates the group; each subcommand has its own ``add_*``
function so that they can land independently.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.errors import UserError
from schedules.academic.calendar import describe, load_calendar, with_entries
from schedules.academic.icsimport import read_ics
from schedules.errors import CalendarError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("calendar", help="academic calendar: check and import")
    calendar_sub = parser.add_subparsers(dest="calendar_command", metavar="CALENDAR_COMMAND")
    calendar_sub.required = True
    add_check(calendar_sub)
    add_import(calendar_sub)
    add_countries(calendar_sub)


def add_check(calendar_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = calendar_sub.add_parser(
        "check",
        help="validate a calendar YAML file and print what it says",
        description="Validate an academic calendar file (docs/calendar.md) and print the periods, teaching "
        "weeks, holidays, blocked periods and windows it defines. Nothing is written.",
    )
    parser.add_argument("file", metavar="FILE", help="calendar YAML file")
    parser.add_argument("--ics", action="append", default=[], metavar="ICS",
                        help="also add the holidays and blocked periods of this .ics file (repeatable)")
    parser.set_defaults(func=run_check)
    return parser


def run_check(args: argparse.Namespace) -> int:
    skipped: list[str] = []
    try:
        cal = load_calendar(args.file)
        for path in args.ics:
            entries = read_ics(path, calendar=cal)
            cal = with_entries(cal, entries.holidays, entries.blocked)
            skipped += [f"{path}: {s}" for s in entries.skipped]
    except CalendarError as exc:
        raise UserError(str(exc), code="calendar_invalid") from None
    print(describe(cal))
    if skipped:
        print(f"Skipped, outside the academic year ({len(skipped)}):")
        print("\n".join(f"  {s}" for s in skipped))
    return 0


def add_import(calendar_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = calendar_sub.add_parser(
        "import",
        help="make a calendar file the active academic calendar (all or nothing)",
        description="Validate the calendar (and any .ics files of holidays and blocked periods merged into it), "
        "then store it as the active calendar in one transaction. On any error nothing is written.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="calendar YAML file")
    parser.add_argument("--ics", metavar="ICS", type=Path, action="append", default=[],
                        help="an .ics file of holidays / blocked periods to merge (repeatable)")
    parser.set_defaults(func=run_import)
    return parser


def run_import(args: argparse.Namespace) -> int:
    from orchestrator.calendar_import import import_calendar, read_calendar_files, validate_calendar
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    inp = read_calendar_files(args.file, args.ics)
    cal = validate_calendar(inp)  # before touching the database at all
    db = Database.from_url(load_settings(args.config).effective_database_url)
    db.check_revision()
    with db.session() as s:
        row = import_calendar(s, inp, actor_id=None)
    print(f"imported {cal.name!r} ({cal.timezone}, {len(cal.periods)} periods, {len(cal.holidays)} holidays) "
          f"as calendar {row.id}")
    estimated = [h for h in cal.holidays if h.estimated]
    if estimated:
        days = ", ".join(f"{h.start} {h.name}" for h in estimated)
        print(f"note: estimated public holiday date(s) not yet confirmed: {days} "
              f"(`aulacast calendar check {args.file}`; docs/calendar.md)")
    return 0


def add_countries(calendar_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = calendar_sub.add_parser(
        "countries",
        help="the country and subdivision codes public_holidays accepts",
        description="List the countries whose public holidays a calendar can take (public_holidays: {country: CODE}), "
        "with the languages of their holiday names; with CODE, that country's subdivisions.",
    )
    parser.add_argument("code", nargs="?", metavar="CODE", help="one country (e.g. KZ): its subdivisions and languages")
    parser.set_defaults(func=run_countries)
    return parser


def run_countries(args: argparse.Namespace) -> int:
    from schedules.academic.publicholidays import LIBRARY, UnknownCountry, countries, country_info

    if args.code is None:
        print(f"Countries known to {LIBRARY} (code, name, languages of the names; * = has subdivisions):")
        for c in countries():
            mark = "*" if c.subdivisions else " "
            print(f"  {c.code}{mark} {c.name}  ({', '.join(c.languages) or c.default_language or '-'})")
        return 0
    try:
        c = country_info(args.code)
    except UnknownCountry as exc:
        raise UserError(str(exc), code="unknown_country") from None
    print(f"{c.code}: {c.name} ({LIBRARY})")
    print(f"Languages of the names: {', '.join(c.languages) or '-'} (default {c.default_language or '-'}); "
          "a calendar's `languages` use ISO 639-1 codes such as en, kk")
    if c.subdivisions:
        print(f"Subdivisions ({len(c.subdivisions)}), for public_holidays.subdivision:")
        for sub, name in zip(c.subdivisions, c.subdivision_names, strict=True):
            print(f"  {sub}" + (f"  {name}" if name else ""))
    else:
        print("Subdivisions: none (the country's list is the same everywhere)")
    return 0
