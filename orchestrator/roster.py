"""CSV roster import: students, tutors and staff with their groups and programmes.

    report = parse_roster(text, source="roster.csv")     # every bad row, by line
    refused = check_roster(session, actor, report.rows)   # rows the actor may not apply, by line
    if report.ok and refused.ok and not dry_run: apply_roster(session, report.rows, actor=actor)

Columns (header required, order free): ``username, display_name, roles`` and
optionally ``group, group_name, programme, email, timezone``. ``roles`` holds
one or more of the known roles separated by ``;``. One bad row means nothing
is imported; re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.auth import Identity
from orchestrator.errors import Forbidden
from orchestrator.policy import can_import_roster_row
from orchestrator.store.models import ROLES, Group, GroupMember, Person, PersonRole, Programme

REQUIRED = ("username", "display_name", "roles")
OPTIONAL = ("group", "group_name", "programme", "email", "timezone")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class RosterRow:
    line: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    group: str | None
    group_name: str | None
    programme: str | None
    email: str | None
    timezone: str


@dataclass
class RosterReport:
    source: str
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # the errors, each with its line, code and values

    @property
    def ok(self) -> bool:
        return not self.errors

    def bad(self, line: int | None, code: str, text: str, **params: Any) -> None:
        """One problem: ``source:line: text`` for the CLI, and ``{line, code, params, message}`` for pages."""
        self.errors.append(f"{self.source}:{line}: {text}" if line is not None else f"{self.source}: {text}")
        self.problems.append({"line": line, "code": code, "params": params, "message": text})


def parse_roster(text: str, *, source: str = "roster.csv", default_tz: str = "Asia/Almaty") -> RosterReport:
    report = RosterReport(source)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        if missing:
            report.bad(1, "roster.header.missing", f"header: missing column(s) {', '.join(missing)}", columns=", ".join(missing))
        if unknown:
            known = ", ".join(REQUIRED + OPTIONAL)
            report.bad(1, "roster.header.unknown", f"header: unknown column(s) {', '.join(unknown)} (known: {known})",
                       columns=", ".join(unknown), known=known)
        return report
    reader.fieldnames = header
    seen: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                report.bad(line, "roster.row.too_long", "row has more fields than the header")
                continue
            values = {k: (v or "").strip() for k, v in raw.items()}
            if not any(values.values()):
                continue
            before = len(report.errors)

            def bad(code: str, text: str, line: int = line, **params: Any) -> None:
                report.bad(line, code, text, **params)

            username = values["username"].lower()
            if not USERNAME.match(username):
                bad("roster.username.invalid", f"username: {values['username']!r} is not a valid username (a-z, 0-9, . _ -)",
                    value=values["username"])
            elif username in seen:
                bad("roster.username.duplicate", f"username: {username!r} duplicates line {seen[username]}",
                    value=username, other=seen[username])
            else:
                seen[username] = line
            if not values["display_name"]:
                bad("roster.display_name.empty", "display_name: empty")
            roles = tuple(r.strip().lower() for r in values["roles"].split(";") if r.strip())
            if not roles:
                bad("roster.roles.empty", "roles: empty")
            unknown_roles = [r for r in roles if r not in ROLES]
            if unknown_roles:
                bad("roster.roles.unknown", f"roles: unknown {', '.join(unknown_roles)} (known: {', '.join(ROLES)})",
                    roles=", ".join(unknown_roles), known=", ".join(ROLES))
            if values.get("email") and (len(values["email"]) > 200 or not EMAIL.match(values["email"])):
                bad("roster.email.invalid", f"email: {values['email'][:80]!r} is not an e-mail address (at most 200 characters)",
                    value=values["email"][:80])
            if len(values["display_name"]) > 200:
                bad("roster.display_name.long", "display_name: longer than 200 characters")
            tz = values.get("timezone") or default_tz
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                bad("roster.timezone.invalid", f"timezone: {tz!r} is not an IANA time zone", value=tz)
            if values.get("group") and "student" not in roles:
                bad("roster.group.not_student", "group: only students belong to a study group")
            if len(report.errors) == before:
                report.rows.append(
                    RosterRow(
                        line,
                        username,
                        values["display_name"],
                        roles,
                        values.get("group") or None,
                        values.get("group_name") or None,
                        values.get("programme") or None,
                        values.get("email") or None,
                        tz,
                    )
                )
    except csv.Error as exc:
        report.bad(reader.line_num, "roster.malformed", f"malformed CSV: {exc}", detail=str(exc))
    if not report.rows and not report.errors:
        report.bad(None, "roster.empty", "no rows")
    return report


@dataclass
class RosterResult:
    created: int = 0
    updated: int = 0
    groups_created: int = 0


class RosterRefused(Forbidden):
    """Rows the actor may not apply (role changes), one message per line; nothing was imported."""

    def __init__(self, errors: list[str], problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{len(errors)} row(s) refused; nothing imported", code="roster_refused")
        self.errors = errors
        self.problems = problems or []


# a refused row is said by its policy decision's code (the decision's English reason stays in ``message``)
REFUSED_CODES = {"admin_only": "roster.refused.admin_only", "forbidden": "roster.refused.forbidden"}


def check_roster(s: Session, actor: Identity, rows: list[RosterRow], source: str = "roster.csv") -> RosterReport:
    """Every row whose role change the actor may not make: ``errors`` as ``source:line: roles: reason``,
    ``problems`` with their codes; ``ok`` when there is none."""
    report = RosterReport(source)
    for row in rows:
        person = s.scalar(select(Person).where(Person.username == row.username))
        decision = can_import_roster_row(actor, None if person is None else person.role_names, row.roles)
        if not decision:
            report.bad(row.line, REFUSED_CODES.get(decision.code, "roster.refused.forbidden"),
                       f"roles: {row.username}: {decision.reason}", username=row.username)
    return report


def apply_roster(s: Session, rows: list[RosterRow], *, actor: Identity, source: str = "roster.csv") -> RosterResult:
    """Create or update every row in one transaction (the caller's); ``RosterRefused`` before any write
    when a row changes roles the actor may not change."""
    refused = check_roster(s, actor, rows, source)
    if not refused.ok:
        raise RosterRefused(refused.errors, refused.problems)
    result = RosterResult()
    programmes = {p.code: p for p in s.scalars(select(Programme))}
    groups = {g.code: g for g in s.scalars(select(Group))}
    for row in rows:
        programme = None
        if row.programme:
            programme = programmes.get(row.programme)
            if programme is None:
                programme = programmes[row.programme] = Programme(code=row.programme, name=row.programme)
                s.add(programme)
                s.flush()
        person = s.scalar(select(Person).where(Person.username == row.username))
        if person is None:
            person = Person(username=row.username, display_name=row.display_name)
            s.add(person)
            result.created += 1
        else:
            result.updated += 1
        person.display_name = row.display_name
        person.email = row.email
        person.timezone = row.timezone
        have = person.role_names
        for role in row.roles:
            if role not in have:
                person.roles.append(PersonRole(role=role))
        s.flush()
        if row.group:
            group = groups.get(row.group)
            if group is None:
                group = groups[row.group] = Group(code=row.group, name=row.group_name or row.group)
                s.add(group)
                result.groups_created += 1
            if programme is not None:
                group.programme_id = programme.id
            s.flush()
            exists = s.get(GroupMember, (group.id, person.id))
            if exists is None:
                s.add(GroupMember(group_id=group.id, person_id=person.id))
    s.flush()
    return result
