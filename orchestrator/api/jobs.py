"""Jobs over HTTP: one job's progress (``GET /api/jobs/{id}``) and the jobs you may see.

Every row shown passed ``orchestrator.jobs.policy.job_access``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api import api, services
from orchestrator.errors import Forbidden, NotFound, UserError
from orchestrator.http import AUTHENTICATED, identity
from orchestrator.jobs.models import JOB_KINDS, JOB_STATUSES, Job
from orchestrator.jobs.policy import job_access

MAX_ROWS = 200


@api.route(
    "GET",
    "/api/jobs/{job_id}",
    roles=AUTHENTICATED,
    summary="One batch job: status, progress, stage, result or error (its session's tutor, who submitted it, staff)",
    tags=("jobs",),
)
async def get_job(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    job_id = request.match_info["job_id"]

    def run(s: Session) -> dict[str, Any]:
        job = (
            s.get(Job, job_id) if len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id) else None
        )
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        decision = job_access(s, ident, job)
        if not decision:
            raise Forbidden(decision.reason, code="not_yours")
        return job.to_dict()

    return await services(request).db_call(run)


@api.route(
    "GET",
    "/api/jobs",
    roles=AUTHENTICATED,
    summary="Batch jobs you may see, newest first",
    query={
        "status": "queued, running, done or failed",
        "kind": "compose, package, hls or verify",
        "session": "a session id",
        "limit": f"at most {MAX_ROWS}",
    },
    tags=("jobs",),
)
async def list_jobs(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    q = request.query
    status, kind = q.get("status"), q.get("kind")
    if status and status not in JOB_STATUSES:
        raise UserError(f"status must be one of {', '.join(JOB_STATUSES)}", status=422)
    if kind and kind not in JOB_KINDS:
        raise UserError(f"kind must be one of {', '.join(JOB_KINDS)}", status=422)
    try:
        session = int(q["session"]) if q.get("session") else None
        limit = max(1, min(MAX_ROWS, int(q.get("limit", 50))))
    except ValueError:
        raise UserError("session and limit must be numbers", status=422) from None

    def run(s: Session) -> dict[str, Any]:
        stmt = select(Job).order_by(Job.created_at.desc()).limit(2000)
        if status:
            stmt = stmt.where(Job.status == status)
        if kind:
            stmt = stmt.where(Job.kind == kind)
        if session is not None:
            stmt = stmt.where(Job.session_id == session)
        items = [j.to_dict() for j in s.scalars(stmt) if job_access(s, ident, j)][:limit]
        return {"items": items, "count": len(items)}

    return await services(request).db_call(run)
