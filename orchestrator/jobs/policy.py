"""Who may see which job: one function, ``job_access``, called by every path that shows a job.

- staff (``admin``, ``registrar``) see every job;
- whoever submitted a job sees it;
- a session's tutor (the session's own, else its offering's) sees the jobs of that session;
- producers and broadcast engineers see packaging jobs (they put lectures on air);
- nobody else: a student never sees job rows (they hold folder paths and other people's names).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from orchestrator.auth import Identity
from orchestrator.jobs.models import Job
from orchestrator.policy import Decision  # the one decision type: allowed, reason, enforce()
from orchestrator.store.models import Offering, SessionRecord

JOB_STAFF = frozenset({"admin", "registrar"})
BROADCAST_STAFF = frozenset({"producer", "engineer"})


def session_tutor(s: Session, session_id: int | None) -> int | None:
    if session_id is None:
        return None
    row = s.get(SessionRecord, session_id)
    if row is None:
        return None
    if row.tutor_id:
        return row.tutor_id
    offering = s.get(Offering, row.offering_id) if row.offering_id else None
    return offering.tutor_id if offering else None


def job_access(s: Session, ident: Identity, job: Job) -> Decision:
    """Whether ``ident`` may see ``job``, and why (the reason is shown when refused)."""
    if ident.roles & JOB_STAFF:
        return Decision(True, "staff")
    if job.created_by is not None and job.created_by == ident.person_id:
        return Decision(True, "submitted it")
    if job.kind == "package" and ident.roles & BROADCAST_STAFF:
        return Decision(True, "broadcast staff")
    if job.session_id is not None and session_tutor(s, job.session_id) == ident.person_id:
        return Decision(True, "the session's tutor")
    return Decision(False, f"job {job.id} is not about a session of yours")
