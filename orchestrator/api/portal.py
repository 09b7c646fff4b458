"""The staff pages' own routes (issue 13 §3): a tutor's offerings and gradebook, the operator's view, /metrics.

Every route checks the role first (``orchestrator.http``) and ownership through
``orchestrator.policy`` (``can_view_offering``, ``can_view_operations``); the CLI's
``aulacast portal`` commands call the same functions with the CLI's actor.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from orchestrator import admission, policy
from orchestrator.api import STAFF, TEACHING, api, services
from orchestrator.api.staff_schemas import OpsStatusOut
from orchestrator.auth import Identity
from orchestrator.http import identity
from orchestrator.services import Services
from orchestrator.store.models import (
    ControlResult,
    Discipline,
    Group,
    GroupMember,
    Offering,
    Person,
    SessionRecord,
)
from schedules.academic.said import Said


def offerings_of(s: Session, actor: Identity) -> list[dict[str, Any]]:
    """The offerings the actor may see as a gradebook: a tutor's own, every one for the registrar/admin."""
    q = select(Offering).order_by(Offering.period, Offering.code)
    if not actor.has(*policy.STAFF):
        q = q.where(Offering.tutor_id == actor.person_id)
    out = []
    for o in s.scalars(q):
        if not policy.can_view_offering(s, actor, o):
            continue
        d = s.get(Discipline, o.discipline_id)
        g = s.get(Group, o.group_id)
        tutor = s.get(Person, o.tutor_id)
        students = s.scalars(select(Person).join(GroupMember, GroupMember.person_id == Person.id)
                             .where(GroupMember.group_id == o.group_id).order_by(Person.display_name))  # fmt: skip
        results = {(r.student_id, r.activity): r for r in s.scalars(select(ControlResult).where(ControlResult.offering_id == o.id))}
        controls = [{"id": c["id"], "name": c.get("name", c["id"]), "graded": c.get("graded", True),
                     "attendance": c.get("attendance")} for c in (o.rules or {}).get("controls", [])]  # fmt: skip
        students = list(students)
        book = admission.standings(s, o, [p.id for p in students])
        out.append({
            "id": o.id, "code": o.code, "discipline": d.title if d else "", "period": o.period,
            "technology": o.technology, "group": {"id": o.group_id, "code": g.code if g else "", "name": g.name if g else ""},
            "tutor": tutor.display_name if tutor else None, "controls": controls,
            "students": [
                {"id": p.id, "username": p.username, "name": p.display_name,
                 "results": {c["id"]: ({"points": r.points, "passed": r.passed} if (r := results.get((p.id, c["id"]))) else None)
                             for c in controls},
                 # the §29 standing of each control: result and attendance where the curriculum requires it
                 "standing": {cid: st.to_json() for cid, st in book[p.id].items()}}  # fmt: skip
                for p in students
            ],
        })  # fmt: skip
    return out


@api.route("GET", "/api/me/offerings", roles=STAFF | TEACHING, summary="My offerings with their students and results (a gradebook); all of them for the registrar", tags=("results",))  # noqa: E501
async def my_offerings(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    return {"offerings": await services(request).db_call(lambda s: offerings_of(s, ident))}


async def operations_status(svc: Services) -> dict[str, Any]:
    """Nodes, rooms, media workers, Redis and database: what the operator's page shows."""
    out: dict[str, Any] = {"node": svc.node, "at": time.time()}

    def db(s: Session) -> dict[str, Any]:
        started = time.perf_counter()
        s.execute(text("SELECT 1"))
        by_status = dict(s.execute(select(SessionRecord.status, func.count()).group_by(SessionRecord.status)).all())
        return {"ok": True, "dialect": svc.db.engine.dialect.name,
                "ms": round((time.perf_counter() - started) * 1000, 1), "sessions_by_status": by_status}  # fmt: skip

    try:
        out["database"] = await svc.db_call(db)
        out["database"]["revision"] = await asyncio.to_thread(svc.db.current_revision)  # its own connection
    except Exception as exc:  # shown, not raised: the page exists to say what is broken
        # the page says the code in its language and shows the driver's own words beside it
        out["database"] = {"ok": False, "error": str(exc)[:300], **Said.of("ops.database.down", "the database did not answer").as_json()}
    if svc.redis is None:
        out["redis"] = {"ok": None, "note": "not configured: this is a single node"}
        out["nodes"] = [svc.node]
    else:
        try:
            async with asyncio.timeout(2):
                started = time.perf_counter()
                await svc.redis.ping()
                ms = round((time.perf_counter() - started) * 1000, 1)
                keys = [k.decode() if isinstance(k, bytes) else k async for k in svc.redis.scan_iter("aulacast:node:*:alive")]
            out["redis"] = {"ok": True, "ms": ms}
            out["nodes"] = sorted(k.removeprefix("aulacast:node:").removesuffix(":alive") for k in keys)
        except TimeoutError:
            out["redis"] = {"ok": False, "error": "no answer in 2 s", **Said.of("ops.redis.timeout", "Redis did not answer in 2 seconds").as_json()}
            out["nodes"] = [svc.node]
        except Exception as exc:
            out["redis"] = {"ok": False, "error": str(exc)[:300], **Said.of("ops.redis.down", "Redis did not answer").as_json()}
            out["nodes"] = [svc.node]
    rooms: dict[int, dict[str, int]] = {}
    server = svc.signaling
    if server is not None:
        for conn in list(server.conns.values()):
            r = rooms.setdefault(conn.session_id, {"room": 0, "lobby": 0})
            if conn.state in r:
                r[conn.state] += 1
    out["rooms"] = [{"session_id": sid, "people": r["room"], "waiting": r["lobby"]} for sid, r in sorted(rooms.items())]
    out["media"] = svc.media_router.status() if svc.media_router is not None else None
    return out


@api.route("GET", "/api/ops/status", roles=frozenset({"admin"}), summary="The operator's view: nodes, live rooms, media workers and their load, Redis and database state", tags=("ops",), response=OpsStatusOut)  # noqa: E501
async def ops_status(request: web.Request) -> dict[str, Any]:
    policy.can_view_operations(identity(request)).enforce()
    return await operations_status(services(request))


@api.route("GET", "/metrics", roles=frozenset({"admin"}), summary="Prometheus metrics (scrape with an admin API token as bearer)", produces="text/plain", tags=("ops",))  # noqa: E501
async def metrics(request: web.Request) -> web.Response:
    from orchestrator.metrics import CONTENT_TYPE_LATEST, render

    policy.can_view_operations(identity(request)).enforce()
    body = await asyncio.to_thread(render, services(request))  # the job counts read the database
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
