"""CSV roster import: students, tutors and staff with their groups and programmes.

    report = parse_roster(text, source="roster.csv")     # every bad row, by line
    refused = check_roster(session, actor, report)        # rows the actor may not apply, by line
    if report.ok and not refused and not dry_run: apply_roster(session, report.rows, actor=actor)

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

    @property
    def ok(self) -> bool:
        return not self.errors


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
            report.errors.append(f"{source}:1: header: missing column(s) {', '.join(missing)}")
        if unknown:
            report.errors.append(
                f"{source}:1: header: unknown column(s) {', '.join(unknown)} "
                f"(known: {', '.join(REQUIRED + OPTIONAL)})"
            )
        return report
    reader.fieldnames = header
    seen: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                report.errors.append(f"{source}:{line}: row has more fields than the header")
                continue
            values = {k: (v or "").strip() for k, v in raw.items()}
            if not any(values.values()):
                continue
            problems: list[str] = []
            username = values["username"].lower()
            if not USERNAME.match(username):
                problems.append(f"username: {values['username']!r} is not a valid username (a-z, 0-9, . _ -)")
            elif username in seen:
                problems.append(f"username: {username!r} duplicates line {seen[username]}")
            else:
                seen[username] = line
            if not values["display_name"]:
                problems.append("display_name: empty")
            roles = tuple(r.strip().lower() for r in values["roles"].split(";") if r.strip())
            if not roles:
                problems.append("roles: empty")
            bad = [r for r in roles if r not in ROLES]
            if bad:
                problems.append(f"roles: unknown {', '.join(bad)} (known: {', '.join(ROLES)})")
            if values.get("email") and (len(values["email"]) > 200 or not EMAIL.match(values["email"])):
                problems.append(f"email: {values['email'][:80]!r} is not an e-mail address (at most 200 characters)")
            if len(values["display_name"]) > 200:
                problems.append("display_name: longer than 200 characters")
            tz = values.get("timezone") or default_tz
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"timezone: {tz!r} is not an IANA time zone")
            if values.get("group") and "student" not in roles:
                problems.append("group: only students belong to a study group")
            for p in problems:
                report.errors.append(f"{source}:{line}: {p}")
            if not problems:
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
        report.errors.append(f"{source}:{reader.line_num}: malformed CSV: {exc}")
    if not report.rows and not report.errors:
        report.errors.append(f"{source}: no rows")
    return report


@dataclass
class RosterResult:
    created: int = 0
    updated: int = 0
    groups_created: int = 0


class RosterRefused(Forbidden):
    """Rows the actor may not apply (role changes), one message per line; nothing was imported."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} row(s) refused; nothing imported", code="roster_refused")
        self.errors = errors


def check_roster(s: Session, actor: Identity, rows: list[RosterRow], source: str = "roster.csv") -> list[str]:
    """Every row whose role change the actor may not make, as ``source:line: roles: reason``."""
    errors: list[str] = []
    for row in rows:
        person = s.scalar(select(Person).where(Person.username == row.username))
        decision = can_import_roster_row(actor, None if person is None else person.role_names, row.roles)
        if not decision:
            errors.append(f"{source}:{row.line}: roles: {row.username}: {decision.reason}")
    return errors


def apply_roster(s: Session, rows: list[RosterRow], *, actor: Identity, source: str = "roster.csv") -> RosterResult:
    """Create or update every row in one transaction (the caller's); ``RosterRefused`` before any write
    when a row changes roles the actor may not change."""
    refused = check_roster(s, actor, rows, source)
    if refused:
        raise RosterRefused(refused)
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
