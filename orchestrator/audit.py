"""Tamper-evident audit log (§28): each entry hashes its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from orchestrator.store.models import AuditEntry
from orchestrator.store.types import utcnow

GENESIS = "0" * 64


def _digest(prev: str, at: str, actor: int | None, action: str, target: str, detail: dict[str, Any]) -> str:
    body = json.dumps([prev, at, actor, action, target, detail], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


CHAIN_LOCK = 0x61756C61  # "aula": the PostgreSQL advisory lock that serialises appends to the chain


def record(s: Session, actor_id: int | None, action: str, target: str, **detail: Any) -> AuditEntry:
    if s.get_bind().dialect.name == "postgresql":
        # FOR UPDATE on the last row does not stop two transactions from both reading the same head
        # (the second re-reads that row, not the one the first inserted): the chain would fork.
        # SQLite needs nothing: every write transaction is BEGIN IMMEDIATE (orchestrator/store/db.py).
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    last = s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1).with_for_update())
    prev = last.hash if last else GENESIS
    at = utcnow().replace(microsecond=0)
    entry = AuditEntry(
        at=at,
        actor_id=actor_id,
        action=action,
        target=target,
        detail=detail,
        prev_hash=prev,
        hash=_digest(prev, at.isoformat(), actor_id, action, target, detail),
    )
    s.add(entry)
    s.flush()
    return entry


def digest_of(e: AuditEntry, prev: str) -> str:
    """The hash ``e`` must carry when it follows ``prev``."""
    return _digest(prev, e.at.replace(microsecond=0).isoformat(), e.actor_id, e.action, e.target, e.detail)


def verify_chain(s: Session) -> int | None:
    """The id of the first entry that does not match its hash chain, or None when intact."""
    prev = GENESIS
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        at = e.at.replace(microsecond=0).isoformat()
        if e.prev_hash != prev or e.hash != _digest(prev, at, e.actor_id, e.action, e.target, e.detail):
            return e.id
        prev = e.hash
    return None
