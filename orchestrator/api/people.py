"""People, groups, the roster import and the audit log."""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import STAFF, TEACHING, api, services
from orchestrator.api.staff_schemas import AuditOut
from orchestrator.auth import Identity, create_person, replace_password
from orchestrator.errors import UserError
from orchestrator.http import identity, parse_body, read_body
from orchestrator.policy import can_set_password, can_set_roles, load_or_404, visible_groups, visible_people
from orchestrator.roster import RosterRefused, apply_roster, check_roster, parse_roster
from orchestrator.store.models import ROLES, AuditEntry, Group, GroupMember, Person, PersonRole
from schedules.academic.said import Said

MAX_ROSTER_BYTES = 5 * 1024 * 1024


class PersonBody(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,79}$")
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
    timezone: str = Field("Asia/Almaty", max_length=64)
    password: str | None = Field(None, min_length=10, max_length=1024)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone") from None
        return v


class PasswordBody(BaseModel):
    password: str = Field(min_length=10, max_length=1024)


def person_row(p: Person) -> dict[str, Any]:
    return {
        "id": p.id,
        "username": p.username,
        "display_name": p.display_name,
        "roles": sorted(p.role_names),
        "email": p.email,
        "timezone": p.timezone,
        "active": p.active,
    }


def people_of(s: Session, ident: Identity, role: str | None = None) -> list[dict[str, Any]]:
    """The people listing as ``ident`` may see it: whole rows for those they may address,
    colleagues without their address, other students not at all (``visible_people``)."""
    addressed = visible_people(s, ident)
    rows = []
    for p in s.scalars(select(Person).order_by(Person.username)):
        if role and role not in p.role_names:
            continue
        if addressed is None or p.id in addressed:
            rows.append(person_row(p))
        elif "student" not in p.role_names:  # colleagues: name and roles, no address
            rows.append({**person_row(p), "email": None})
    return rows


def add_person_as(s: Session, ident: Identity, body: PersonBody, **detail: Any) -> dict[str, Any]:
    """Create a person (``can_set_roles`` decides), audited as ``ident``: ``POST /api/people``, ``aulacast people add``."""
    can_set_roles(ident, None, body.roles).enforce()
    p = create_person(
        s, username=body.username, display_name=body.display_name, roles=body.roles,
        password=body.password, email=body.email, timezone=body.timezone,
    )
    audit.record(s, ident.person_id, "person.create", f"person:{p.id}", roles=sorted(body.roles), **detail)
    return person_row(p)


def set_password_of(s: Session, ident: Identity, pid: int, password: str, **detail: Any) -> int:
    """Set person ``pid``'s password (``can_set_password``), ending their sessions and tokens; audited."""
    p = load_or_404(s, Person, pid, f"no person {pid}", lambda _: can_set_password(ident, pid))
    keep = ident.token_id if pid == ident.person_id else None
    revoked = replace_password(s, p, password, keep_token_id=keep)
    audit.record(s, ident.person_id, "person.password", f"person:{pid}", tokens_revoked=revoked, **detail)
    return revoked


def set_roles_of(s: Session, ident: Identity, pid: int, roles: list[str], **detail: Any) -> dict[str, Any]:
    """Replace person ``pid``'s roles (``can_set_roles``: staff accounts and admin grants by an admin); audited."""
    p = load_or_404(s, Person, pid, f"no person {pid}")
    before = sorted(p.role_names)
    can_set_roles(ident, before, roles).enforce()
    wanted = set(roles)
    p.roles = [r for r in p.roles if r.role in wanted] + [PersonRole(role=r) for r in sorted(wanted - set(before))]
    s.flush()
    audit.record(s, ident.person_id, "person.roles", f"person:{pid}", before=before, after=sorted(wanted), **detail)
    return person_row(p)


def audit_log(s: Session, limit: int = 200) -> dict[str, Any]:
    """The newest ``limit`` audit entries, newest first, and whether the chain is intact."""
    rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    broken = audit.verify_chain(s)
    chain = (Said.of("audit.intact", "The audit chain is intact: no entry was changed or removed.") if broken is None
             else Said.of("audit.broken", f"The audit chain is BROKEN at entry {broken}: it or an earlier one was changed "
                          "or removed.", entry=broken))  # fmt: skip
    return {
        "intact": broken is None,
        "chain": chain.as_json(),
        "entries": [
            {"id": e.id, "at": e.at.isoformat(), "actor_id": e.actor_id, "action": e.action, "target": e.target, "detail": e.detail}
            for e in rows
        ],
    }


@api.route("GET", "/api/people", roles=STAFF | TEACHING, summary="People, optionally by role", query={"role": "only this role"}, tags=("people",))
async def list_people(request: web.Request) -> dict[str, Any]:
    role = request.query.get("role")
    ident = identity(request)
    return {"people": await services(request).db_call(lambda s: people_of(s, ident, role))}


@api.route("POST", "/api/people", roles=STAFF, summary="Create a person", body=PersonBody, tags=("people",))
async def add_person(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: PersonBody = await parse_body(request, PersonBody)
    can_set_roles(ident, None, body.roles).enforce()  # before the database is asked (again inside)
    return {"person": await services(request).db_call(lambda s: add_person_as(s, ident, body))}


@api.route("PUT", "/api/people/{person_id:\\d+}/password", roles=frozenset({"admin"}), summary="Set a person's password", body=PasswordBody, tags=("people",))
async def set_password(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: PasswordBody = await parse_body(request, PasswordBody)
    pid = int(request.match_info["person_id"])
    await services(request).db_call(lambda s: set_password_of(s, ident, pid, body.password))
    return {"ok": True}


class RolesBody(BaseModel):
    roles: list[Literal[ROLES]] = Field(max_length=len(ROLES))  # type: ignore[valid-type]


@api.route("PUT", "/api/people/{person_id:\\d+}/roles", roles=STAFF, summary="Set a person's roles (staff accounts and admin grants: an admin only)", body=RolesBody, tags=("people",))
async def set_roles(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: RolesBody = await parse_body(request, RolesBody)
    pid = int(request.match_info["person_id"])

    return {"person": await services(request).db_call(lambda s: set_roles_of(s, ident, pid, list(body.roles)))}


@api.route("GET", "/api/groups", roles=STAFF | TEACHING, summary="Study groups with their students", tags=("people",))
async def list_groups(request: web.Request) -> dict[str, Any]:
    ident = identity(request)

    def load(s: Session) -> list[dict[str, Any]]:
        shown = visible_groups(s, ident)
        members: dict[int, list[int]] = {}
        for m in s.scalars(select(GroupMember)):
            members.setdefault(m.group_id, []).append(m.person_id)
        return [
            {"id": g.id, "code": g.code, "name": g.name, "students": sorted(members.get(g.id, []))}
            for g in s.scalars(select(Group).order_by(Group.code))
            if shown is None or g.id in shown
        ]

    return {"groups": await services(request).db_call(load)}


@api.route(
    "POST", "/api/roster", roles=STAFF, summary="Import a CSV roster (all rows or none)",
    body_type="text/csv", query={"dry_run": "1 to only report"}, tags=("people",),
)
async def import_roster(request: web.Request) -> web.Response:
    ident = identity(request)
    raw = await read_body(request, MAX_ROSTER_BYTES, "roster")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("roster is not UTF-8 text", code="invalid_roster") from None
    report = await asyncio.to_thread(parse_roster, text, source="roster.csv")  # CPU work: off the event loop
    dry = request.query.get("dry_run") in ("1", "true", "yes")
    if not report.ok:
        return web.json_response(
            {"error": {"code": "invalid_roster", "message": f"{len(report.errors)} bad row(s); nothing imported"},
             "errors": report.errors, "problems": report.problems},
            status=422,
        )

    def apply(s: Session) -> dict[str, Any]:
        if dry:
            refused = check_roster(s, ident, report.rows)
            if not refused.ok:
                raise RosterRefused(refused.errors, refused.problems)
            return {"dry_run": True, "rows": len(report.rows), "errors": []}
        res = apply_roster(s, report.rows, actor=ident)
        audit.record(s, ident.person_id, "roster.import", "roster", rows=len(report.rows))
        return {"dry_run": False, "created": res.created, "updated": res.updated, "groups_created": res.groups_created}

    try:
        return web.json_response(await services(request).db_call(apply))
    except RosterRefused as exc:
        return web.json_response(
            {"error": {"code": exc.code, "message": str(exc)}, "errors": exc.errors, "problems": exc.problems}, status=exc.status,
        )


@api.route("GET", "/api/audit", roles=frozenset({"admin"}), summary="The audit log, newest first, and whether its chain is intact", tags=("ops",),
           response=AuditOut)
async def list_audit(request: web.Request) -> dict[str, Any]:
    return await services(request).db_call(audit_log)
