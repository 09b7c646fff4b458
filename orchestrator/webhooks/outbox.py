"""The outbox: events become delivery rows once, due rows are claimed by one node, results are written back.

    record_event(s, settings, event)          # one row per configured URL; a second call adds nothing
    rows = claim_due(db, settings, now)       # rows this node now owns for one attempt
    finish(db, settings, row_id, status=200, error=None, now=now)

Plain synchronous SQL (run on a worker thread by the dispatcher), the same on
SQLite and PostgreSQL. Idempotent by event id: the unique (event_id, url) pair
makes recording an event again a no-op, whichever node or process records it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orchestrator.bus import Event
from orchestrator.config import Settings
from orchestrator.store.db import Database
from orchestrator.webhooks.models import WebhookDelivery

CLAIM_BATCH = 20


# Payload keys naming places on the server's disk: the bus needs them, a receiver elsewhere must not see them.
SERVER_ONLY_KEYS = frozenset({"folder", "path", "file", "output"})


def public_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without the server's file paths (the one place webhook bodies are cut)."""
    return {k: v for k, v in payload.items() if k not in SERVER_ONLY_KEYS}


def event_body(event: Event) -> str:
    """What a receiver gets: the event's id (its idempotency key), topic, time and payload, minus server paths."""
    return json.dumps({"id": event.id, "event": event.topic, "created_at": event.at,
                       "data": public_payload(event.payload)},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)  # fmt: skip


def record_event(s: Session, settings: Settings, event: Event) -> int:
    """Add a pending delivery of ``event`` for every configured URL, unless it is there already.

    Returns how many rows were added (0 for a topic not sent, or an event recorded before).
    """
    hooks = settings.webhooks
    if not hooks.urls or event.topic not in hooks.topics:
        return 0
    body = event_body(event)
    rows = [{"event_id": event.id, "topic": event.topic, "url": url, "body": body, "status": "pending",
             "attempts": 0} for url in hooks.urls]  # fmt: skip
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(WebhookDelivery).values(rows).on_conflict_do_nothing(index_elements=["event_id", "url"])
    return len(s.execute(stmt.returning(WebhookDelivery.id)).all())


@dataclass(frozen=True)
class Claimed:
    """A delivery this node owns for one attempt."""

    id: int
    event_id: str
    topic: str
    url: str
    body: str
    attempt: int


def lease_seconds(settings: Settings) -> float:
    """How long a claim holds: a node that dies mid-attempt leaves the row due again after this."""
    return settings.webhooks.timeout_seconds + 30.0


def claim_due(db: Database, settings: Settings, now: datetime, limit: int = CLAIM_BATCH) -> list[Claimed]:
    """Claim up to ``limit`` due pending rows: each is moved ``lease`` ahead by an UPDATE conditional on
    its attempt count (a version number), which only one node's statement can match; the attempt is
    counted before it is made."""
    lease = now + timedelta(seconds=lease_seconds(settings))
    out: list[Claimed] = []
    with db.session() as s:
        due = s.execute(select(WebhookDelivery.id, WebhookDelivery.attempts)
                        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_at <= now)
                        .order_by(WebhookDelivery.next_at, WebhookDelivery.id).limit(limit)).all()  # fmt: skip
    for row_id, attempts in due:
        with db.session() as s:
            got = s.execute(update(WebhookDelivery)
                            .where(WebhookDelivery.id == row_id, WebhookDelivery.status == "pending",
                                   WebhookDelivery.next_at <= now, WebhookDelivery.attempts == attempts)
                            .values(next_at=lease, attempts=attempts + 1)).rowcount  # fmt: skip
            if got != 1:
                continue  # another node took it
            row = s.get(WebhookDelivery, row_id)
            assert row is not None
            out.append(Claimed(row.id, row.event_id, row.topic, row.url, row.body, attempts + 1))
    return out


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): base, 2×base, 4×base… up to the maximum."""
    h = settings.webhooks
    return min(h.backoff_seconds * 2 ** max(0, attempt - 1), h.backoff_max_seconds)


def finish(db: Database, settings: Settings, claimed: Claimed, *, status: int | None, error: str | None,
           now: datetime) -> str:  # fmt: skip
    """Write an attempt's result: delivered on 2xx; else due again after the backoff, or failed when the
    attempts are spent. Returns the row's new status."""
    ok = status is not None and 200 <= status < 300
    values: dict[str, Any] = {"last_status": status, "last_error": None if ok else (error or f"HTTP {status}")[:2000]}
    if ok:
        values.update(status="delivered", delivered_at=now)
    elif claimed.attempt >= settings.webhooks.max_attempts:
        values.update(status="failed")
    else:
        values.update(next_at=now + timedelta(seconds=backoff(settings, claimed.attempt)))
    with db.session() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == claimed.id,
                                                WebhookDelivery.status == "pending").values(**values))  # fmt: skip
    return str(values.get("status", "pending"))
