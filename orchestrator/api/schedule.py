"""Personal and group schedules, feeds, individual study plans (§11–13) and sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.admission import standings
from orchestrator.api import STAFF, TEACHING, api, services
from orchestrator.api.schemas import ScheduleOut, SessionDetailOut, SessionOut, SessionsOut
from orchestrator.auth import Identity, person_by_feed_token
from orchestrator.errors import NotFound, UserError
from orchestrator.http import AUTHENTICATED, PUBLIC, identity, parse_body
from orchestrator.policy import (
    can_create_consultation,
    can_view_group,
    can_view_session,
    can_view_student,
    load_or_404,
)
from orchestrator.schedule_views import (
    group_feed,
    group_ids_of,
    person_feed,
    session_json,
    sessions_of_person,
)
from orchestrator.store.models import (
    ControlResult,
    Discipline,
    Group,
    GroupMember,
    Offering,
    Person,
    SessionParticipant,
    SessionRecord,
)

ICS = "text/calendar; charset=utf-8"


def _range(request: web.Request) -> tuple[datetime, datetime]:
    return time_range(request.query.get("from"), request.query.get("to"))


def time_range(raw_from: str | None, raw_to: str | None) -> tuple[datetime, datetime]:
    """The ``from``/``to`` of a listing (ISO dates or date-times; UTC when no offset): from a day ago,
    two weeks long by default, at most 400 days. The API's queries and the CLI's options alike."""
    raws = {"from": raw_from, "to": raw_to}

    def parse(name: str, default: datetime) -> datetime:
        raw = raws[name]
        if not raw:
            return default
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise UserError(f"{name}: {raw!r} is not an ISO date or date-time", code="invalid_query") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    start = parse("from", datetime.now(UTC) - timedelta(days=1))
    if not (EARLIEST <= start <= LATEST):
        raise UserError(f"from: {start.date()} is outside {EARLIEST.year}-{LATEST.year}", code="invalid_query")
    end = parse("to", start + timedelta(days=14))
    if end <= start or end - start > timedelta(days=400):
        raise UserError("to must be after from, and at most 400 days later", code="invalid_query")
    return start, end


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
BOOK_BEHIND = timedelta(days=366)
BOOK_AHEAD = timedelta(days=2 * 366)


def bookable(start: datetime, now: datetime | None = None) -> None:
    """On-request sessions lie within a year back and two academic years ahead, so no stored date can
    overflow a time-zone conversion or a feed (years 1 and 9999 did)."""
    now = now or datetime.now(UTC)
    if not (now - BOOK_BEHIND <= start <= now + BOOK_AHEAD):
        raise UserError(f"start: {start.date()} is outside the bookable range "
                        f"{(now - BOOK_BEHIND).date()} .. {(now + BOOK_AHEAD).date()}",
                        code="invalid_body", status=422)  # fmt: skip


@api.route("GET", "/api/me/schedule", roles=AUTHENTICATED, summary="My sessions in my time zone", query={"from": "ISO start", "to": "ISO end"}, tags=("schedule",), response=ScheduleOut)
async def my_schedule(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    start, end = _range(request)
    url = svc.settings.effective_public_url

    def load(s: Session) -> list[dict[str, Any]]:
        return [session_json(r, ident.timezone, url) for r in sessions_of_person(s, ident.person_id, start=start, end=end)]

    return {"timezone": ident.timezone, "from": start.isoformat(), "to": end.isoformat(), "sessions": await svc.db_call(load)}


@api.route("GET", "/feeds/{token}.ics", roles=PUBLIC, summary="A person's calendar feed by its secret token", produces=ICS, tags=("schedule",))
async def feed(request: web.Request) -> web.Response:
    svc = services(request)
    token = request.match_info["token"]

    def render(s: Session) -> bytes | None:
        person = person_by_feed_token(s, token)
        if person is None:
            return None
        return person_feed(s, person, public_url=svc.settings.effective_public_url, domain=svc.settings.institution_domain)

    body = await svc.db_call(render) if len(token) < 200 else None
    if body is None:
        raise NotFound("this calendar feed does not exist or was revoked", code="feed_revoked")
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers={"Cache-Control": "private, max-age=300"})


@api.route("GET", "/api/people/{person_id:\\d+}/schedule.ics", roles=AUTHENTICATED, summary="A person's schedule as iCalendar (self, their tutors, staff)", produces=ICS, tags=("schedule",))
async def person_ics(request: web.Request) -> web.Response:
    ident = identity(request)
    svc = services(request)
    pid = int(request.match_info["person_id"])

    def render(s: Session) -> bytes:
        person = load_or_404(s, Person, pid, f"no person {pid}", lambda _: can_view_student(s, ident, pid))
        return person_feed(s, person, public_url=svc.settings.effective_public_url, domain=svc.settings.institution_domain)

    return web.Response(body=await svc.db_call(render), content_type="text/calendar", charset="utf-8")


@api.route("GET", "/api/groups/{group_id:\\d+}/schedule.ics", roles=STAFF | TEACHING, summary="A study group's schedule as iCalendar", produces=ICS, tags=("schedule",))
async def group_ics(request: web.Request) -> web.Response:
    ident = identity(request)
    svc = services(request)
    gid = int(request.match_info["group_id"])

    def render(s: Session) -> bytes:
        group = load_or_404(s, Group, gid, f"no group {gid}", lambda _: can_view_group(s, ident, gid))
        return group_feed(s, group, tz=svc.settings.timezone, public_url=svc.settings.effective_public_url, domain=svc.settings.institution_domain)

    return web.Response(body=await svc.db_call(render), content_type="text/calendar", charset="utf-8")


@api.route("GET", "/api/students/{person_id:\\d+}/schedule", roles=AUTHENTICATED, summary="A student's individual schedule (§13)", query={"from": "ISO start", "to": "ISO end"}, tags=("schedule",))
async def student_schedule(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    pid = int(request.match_info["person_id"])
    start, end = _range(request)

    def load(s: Session) -> dict[str, Any]:
        person = load_or_404(s, Person, pid, f"no person {pid}", lambda _: can_view_student(s, ident, pid))
        rows = sessions_of_person(s, pid, start=start, end=end)
        return {"student": person.username, "timezone": person.timezone, "sessions": [session_json(r, person.timezone, svc.settings.effective_public_url) for r in rows]}

    return await svc.db_call(load)


@api.route("GET", "/api/students/{person_id:\\d+}/plan", roles=AUTHENTICATED, summary="A student's individual study plan: disciplines, controls, results (§11–13, §29)", tags=("schedule",))
async def student_plan(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    pid = int(request.match_info["person_id"])

    def load(s: Session) -> dict[str, Any]:
        person = load_or_404(s, Person, pid, f"no person {pid}", lambda _: can_view_student(s, ident, pid))
        groups = group_ids_of(s, pid)
        results = {(r.offering_id, r.activity): r for r in s.scalars(select(ControlResult).where(ControlResult.student_id == pid))}
        items = []
        for o in s.scalars(select(Offering).where(Offering.group_id.in_(groups)).order_by(Offering.period, Offering.code)):
            d = s.get(Discipline, o.discipline_id)
            tutor = s.get(Person, o.tutor_id)
            # each control's standing: its result and, where the curriculum requires it, attendance (§29)
            controls = [st.to_json() for st in standings(s, o, [pid])[pid].values()]
            items.append({
                "offering": o.code, "discipline": d.title if d else "", "period": o.period, "technology": o.technology,
                "tutor": tutor.display_name if tutor else None, "controls": controls,
                "defense": bool((o.rules or {}).get("defense")),
                # the final defense grade, as the committee signed it off (the progress record's "defense" result)
                "defense_result": ({"points": results[(o.id, "defense")].points, "passed": results[(o.id, "defense")].passed}
                                   if (o.id, "defense") in results else None),
                "admitted_to_defense": all(c["passed"] for c in controls),
                "not_admitted_because": [c["reason"] for c in controls if c["reason"]],
            })
        return {"student": person.username, "display_name": person.display_name, "offerings": items}

    return await services(request).db_call(load)


@api.route("GET", "/api/sessions", roles=STAFF, summary="All sessions in a time range", query={"from": "ISO start", "to": "ISO end"}, tags=("sessions",), response=SessionsOut)
async def list_sessions(request: web.Request) -> dict[str, Any]:
    svc = services(request)
    start, end = _range(request)

    return {"sessions": await svc.db_call(lambda s: sessions_between(s, start, end, svc.settings.timezone,
                                                                     svc.settings.effective_public_url))}  # fmt: skip


def sessions_between(s: Session, start: datetime, end: datetime, tz: str, public_url: str) -> list[dict[str, Any]]:
    """Every session overlapping ``start``..``end`` (at most 5000), in ``tz``: ``GET /api/sessions``, ``aulacast sessions list``."""
    q = select(SessionRecord).where(SessionRecord.end_at > start, SessionRecord.start_at < end).order_by(SessionRecord.start_at).limit(5000)
    return [session_json(r, tz, public_url) for r in s.scalars(q)]


@api.route("GET", "/api/sessions/{session_id:\\d+}", roles=AUTHENTICATED, summary="One session (its participants and staff)", tags=("sessions",), response=SessionDetailOut)
async def get_session(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    sid = int(request.match_info["session_id"])

    def load(s: Session) -> dict[str, Any]:
        row = load_or_404(s, SessionRecord, sid, f"no session {sid}", lambda r: can_view_session(s, ident, r))
        out = session_json(row, ident.timezone, svc.settings.effective_public_url)
        out["participants"] = [{"person_id": p.person_id, "role": p.role} for p in row.participants]
        if row.group_id:
            out["group_members"] = list(s.scalars(select(GroupMember.person_id).where(GroupMember.group_id == row.group_id)))
        return out

    return await svc.db_call(load)


class AdHocBody(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    start: datetime
    minutes: int = Field(ge=5, le=480)
    group_id: int | None = None
    student_ids: list[int] = Field(default_factory=list, max_length=500)
    key: str | None = Field(None, max_length=120, description="idempotency key: the same key yields the same session")


def check_consultation(body: AdHocBody) -> None:
    """What a consultation's request must say before the database is asked: a zoned, bookable start."""
    if body.start.tzinfo is None:
        raise UserError("start: give a time zone offset (e.g. 2026-11-26T15:00+05:00)", code="invalid_body", status=422)
    bookable(body.start)


def create_consultation(s: Session, ident: Identity, body: AdHocBody, **detail: Any) -> SessionRecord:
    """An on-request consultation (§19) hosted by ``ident``, for groups and students they teach
    (``can_create_consultation``), idempotent by key; audited. ``POST /api/sessions``, ``aulacast sessions create``."""
    check_consultation(body)
    key = f"adhoc/{ident.username}/{body.key or body.start.astimezone(UTC).strftime('%Y%m%dT%H%M')}"
    existing = s.scalar(select(SessionRecord).where(SessionRecord.key == key))
    if existing is not None:
        return existing
    if body.group_id is not None and s.get(Group, body.group_id) is None:
        raise NotFound(f"no group {body.group_id}")
    for st in body.student_ids:
        if s.get(Person, st) is None:
            raise NotFound(f"no person {st}")
    can_create_consultation(s, ident, body.group_id, body.student_ids).enforce()
    row = SessionRecord(
        key=key, kind="consultation", title=body.title, start_at=body.start, end_at=body.start + timedelta(minutes=body.minutes),
        status="planned", tutor_id=ident.person_id, group_id=body.group_id, detail={"adhoc": True},
    )
    row.participants = [SessionParticipant(person_id=ident.person_id, role="host")]
    for st in dict.fromkeys(body.student_ids):
        if st != ident.person_id:
            row.participants.append(SessionParticipant(person_id=st, role="participant"))
    s.add(row)
    s.flush()
    audit.record(s, ident.person_id, "session.create", f"session:{row.id}", key=key, **detail)
    return row


@api.route("POST", "/api/sessions", roles=STAFF | TEACHING, summary="An on-request consultation (§19), idempotent by key", body=AdHocBody, tags=("sessions",), response=SessionOut)
async def create_session(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)
    body: AdHocBody = await parse_body(request, AdHocBody)
    check_consultation(body)
    row = await svc.db_call(lambda s: create_consultation(s, ident, body))
    lifecycle = svc.lifecycle
    if lifecycle is not None:
        if row.status in ("planned", "open", "live"):
            lifecycle.schedule(row)
        await lifecycle.catch_up()
    return session_json(row, ident.timezone, svc.settings.effective_public_url)
