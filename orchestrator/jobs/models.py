"""The job table: what was asked, who runs it, how far it is, what came of it.

A job row is the single truth about a job; the broker's message only says "run job N".
``key`` makes submission idempotent (the same recording is composed by one job), and
``owner``/``lease_until`` make running it exclusive: a worker claims a job with one
conditional UPDATE and renews the lease while it works, so a message delivered twice,
or again after its worker was killed, runs the job once at a time and records one result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.models import Base
from orchestrator.store.types import utcnow

JOB_KINDS = ("compose", "package", "hls", "verify")
JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("key", name="uq_jobs_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(40), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 4),
                "stage": self.stage, "attempts": self.attempts, "owner": self.owner, "session_id": self.session_id,
                "args": self.args, "result": self.result, "error": self.error, "created_at": iso(self.created_at),
                "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
                "updated_at": iso(self.updated_at)}  # fmt: skip
