"""Calendar, curriculum and planning over HTTP (registrar's tools, §15)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import STAFF, api, services
from orchestrator.api.staff_schemas import CalendarCheckOut, PlanOut
from orchestrator.calendar_import import (
    CalendarInput,
    CalendarInvalid,
    check_summary,
    current_calendar_row,
    import_calendar,
    validate_calendar,
)
from orchestrator.curriculum import Curriculum, CurriculumRefused, apply_curriculum
from orchestrator.errors import NotFound, UserError
from orchestrator.http import AUTHENTICATED, identity, read_body
from orchestrator.planning import PlanRefused, apply, compute, describe_diff, load_inputs
from orchestrator.store.models import SessionRecord
from orchestrator.yamlfile import InputFileError, load_yaml_model
from schedules.academic.calendar import describe
from schedules.academic.said import coded

MAX_BODY = 2 * 1024 * 1024


async def read_text(request: web.Request) -> str:
    raw = await read_body(request, MAX_BODY)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("body is not UTF-8 text", code="invalid_encoding") from None


@api.route("GET", "/api/calendar", roles=AUTHENTICATED, summary="The active academic calendar, described", tags=("calendar",))
async def get_calendar(request: web.Request) -> dict[str, Any]:
    def load(s: Session) -> dict[str, Any]:
        row = current_calendar_row(s)
        if row is None:
            raise NotFound("no academic calendar imported yet", code="no_calendar")
        cal = validate_calendar(CalendarInput(row.source, row.source_name, tuple((i["name"], i["text"]) for i in row.ics_sources)))
        return {
            "id": row.id,
            "name": cal.name,
            "timezone": cal.timezone,
            "periods": [{"id": p.id, "name": p.name, "start": p.start.isoformat(), "end": p.end.isoformat()} for p in cal.periods],
            "holidays": [{"name": h.name, "start": h.start.isoformat(), "end": h.end.isoformat()} for h in cal.holidays],
            "blocked": [{"kind": b.kind.value, "name": b.name, "start": b.start.isoformat(), "end": b.end.isoformat()} for b in cal.blocked],
            "windows": [{"id": w.id, "kind": w.kind.value, "name": w.name, "start": w.start.isoformat(), "end": w.end.isoformat()} for w in cal.windows],
            "description": describe(cal),
        }

    return await services(request).db_call(load)


@api.route(
    "POST", "/api/calendar", roles=STAFF, summary="Import a calendar YAML (all or nothing)", body_type="application/yaml",
    query={"dry_run": "1 to validate only", "name": "file name used in messages"}, tags=("calendar",), response=CalendarCheckOut,
)
async def post_calendar(request: web.Request) -> dict[str, Any] | web.Response:
    ident = identity(request)
    text = await read_text(request)
    inp = CalendarInput(text, request.query.get("name", "calendar.yaml")[:200])
    try:
        cal = await asyncio.to_thread(validate_calendar, inp)  # parsing is CPU work: never on the event loop
        if request.query.get("dry_run") in ("1", "true"):
            return {"dry_run": True, "name": cal.name, "description": describe(cal), **check_summary(cal)}
        row = await services(request).db_call(lambda s: import_calendar(s, inp, actor_id=ident.person_id))
    except CalendarInvalid as exc:  # the place with its code, for the page's table of bad rows
        return web.json_response({"error": {"code": exc.code, "message": str(exc)}, "problems": exc.problems}, status=exc.status)
    return {"dry_run": False, "id": row.id, "name": cal.name, **check_summary(cal)}


@api.route(
    "POST", "/api/curriculum", roles=STAFF, summary="Import disciplines and offerings (YAML, all or nothing)",
    body_type="application/yaml", query={"name": "file name used in messages"}, tags=("calendar",),
)
async def post_curriculum(request: web.Request) -> dict[str, Any] | web.Response:
    ident = identity(request)
    name = request.query.get("name", "curriculum.yaml")[:200]
    text = await read_text(request)
    try:
        cur = await asyncio.to_thread(load_yaml_model, text, Curriculum, file=name)  # off the event loop
    except InputFileError as exc:  # the place with its code, for the page's table of rows
        return web.json_response({"error": {"code": exc.code, "message": str(exc)}, "problems": exc.problems}, status=exc.status)

    def run(s: Session) -> dict[str, int]:
        counts = apply_curriculum(s, cur, source=name)
        audit.record(s, ident.person_id, "curriculum.import", name, **counts)
        return counts

    try:
        return await services(request).db_call(run)
    except CurriculumRefused as exc:  # each bad offering with its code, for the page's table of bad rows
        return web.json_response({"error": {"code": exc.code, "message": str(exc)}, "problems": exc.problems}, status=exc.status)


@api.route(
    "POST", "/api/plan", roles=STAFF, summary="Plan sessions; dry_run=1 shows the difference only",
    query={"dry_run": "1 to only show added / moved / cancelled"}, tags=("calendar",), response=PlanOut,
)
async def post_plan(request: web.Request) -> dict[str, Any] | web.Response:
    ident = identity(request)
    svc = services(request)
    dry = request.query.get("dry_run") in ("1", "true")

    def run(s: Session) -> tuple[dict[str, Any], list[int]]:
        inputs = load_inputs(s)
        result, changes = compute(inputs, svc.plan_cache)
        out: dict[str, Any] = {
            "dry_run": dry,
            "added": [p.key for p in changes.added],
            "moved": [{"key": b.key, "from": a.start.isoformat(), "to": b.start.isoformat()} for a, b in changes.moved],
            "updated": [b.key for _a, b in changes.updated],
            "cancelled": [p.key for p in changes.cancelled],
            "unchanged": len(changes.unchanged),
            "unplaced": [{"key": u.key, "reason": u.reason, **coded(u.said)} for u in result.unplaced],
            "ineligible": [{"student": i.student_id, "offering": i.offering_id, "reason": i.reason, **coded(i.said)}
                           for i in result.ineligible],
            "summary": describe_diff(changes, result, tz=inputs.calendar.timezone, limit=0)[0],
        }
        if dry:
            s.rollback()
            return out, []
        touched = apply(s, inputs, result, changes, actor=ident.username)
        audit.record(s, ident.person_id, "plan.apply", "plan", added=len(changes.added), moved=len(changes.moved), cancelled=len(changes.cancelled))
        return out, touched

    try:
        out, touched = await svc.db_call(run)
    except PlanRefused as exc:  # each contradiction with its code, for the page's table of rows
        return web.json_response({"error": {"code": exc.code, "message": str(exc)}, "problems": exc.problems}, status=exc.status)
    lifecycle = svc.lifecycle
    if lifecycle is not None and touched:
        rows = await svc.db_call(lambda s: [s.get(SessionRecord, i) for i in touched])
        for r in rows:
            if r is None:
                continue
            if r.status == "cancelled":
                lifecycle.unschedule(r.id)
            else:
                lifecycle.schedule(r)
    return out
