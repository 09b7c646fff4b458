"""The SQL side of durable chat: ``signaling.chat.ChatStore`` over the ``chat_messages`` table.

    store = SqlChatStore(svc)
    record = await store.add(42, 7, "Aigerim", "hello", offline=False)
    await store.delete(42, record.id, by=3, reason="off topic")      # audited: who, when, why

Deletion keeps the row (body included) and stamps who/when/why, and writes an audit entry
in the same transaction, so a moderator's action is on the hash-chained record (§28).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.services import Services
from orchestrator.store.models import ChatMessage
from orchestrator.store.types import utcnow
from signaling.chat import ChatRecord


def record_of(row: ChatMessage) -> ChatRecord:
    return ChatRecord(
        id=row.id,
        session_id=row.session_id,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        body=row.body,
        sent_at=row.sent_at,
        offline=row.offline,
        deleted_at=row.deleted_at,
        deleted_by=row.deleted_by,
        delete_reason=row.delete_reason,
    )


class SqlChatStore:
    """Chat rows in the service database; every call is one transaction on a worker thread."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def add(self, session_id: int, sender_id: int, sender_name: str, body: str, offline: bool) -> ChatRecord:
        def run(s: Session) -> ChatRecord:
            row = ChatMessage(session_id=session_id, sender_id=sender_id, sender_name=sender_name, body=body,
                              offline=offline, sent_at=utcnow())  # fmt: skip
            s.add(row)
            s.flush()
            return record_of(row)

        return await self.svc.db_call(run)

    async def history(self, session_id: int, limit: int | None = None) -> list[ChatRecord]:
        def run(s: Session) -> list[ChatRecord]:
            q = select(ChatMessage).where(ChatMessage.session_id == session_id)
            if limit is not None:
                q = q.order_by(ChatMessage.id.desc()).limit(limit)
                return [record_of(r) for r in reversed(list(s.scalars(q)))]
            return [record_of(r) for r in s.scalars(q.order_by(ChatMessage.id))]

        return await self.svc.db_call(run)

    async def delete(self, session_id: int, message_id: int, by: int, reason: str) -> ChatRecord:
        """Mark a message deleted (KeyError if it is not in that session); deleting twice keeps the first."""

        def run(s: Session) -> ChatRecord:
            row = s.get(ChatMessage, message_id)
            if row is None or row.session_id != session_id:
                raise KeyError(message_id)
            if row.deleted_at is None:
                row.deleted_at, row.deleted_by, row.delete_reason = utcnow(), by, reason
                audit.record(s, by, "chat.delete", f"session:{session_id}", message_id=message_id,
                             sender_id=row.sender_id, reason=reason)  # fmt: skip
                s.flush()
            return record_of(row)

        return await self.svc.db_call(run)
