"""The delivery table: one row per (event, URL), so an event recorded twice is sent once.

The row holds the exact body sent (retries send the same bytes), when the next
attempt is due, and what the last one got. It lives in the database, so
deliveries survive a restart and every node of a cluster shares them: a node
claims a due row by moving its ``next_at`` forward in one conditional UPDATE,
and only the node whose UPDATE matched sends it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.store.models import Base
from orchestrator.store.types import utcnow

DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "url", name="uq_webhook_event_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status, None: no answer
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
