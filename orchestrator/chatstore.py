"""The SQL side of durable chat: ``signaling.chat.ChatStore`` over the ``chat_messages`` table.

    store = SqlChatStore(svc)
    record = await store.add(42, 7, "Aigerim", "hello", offline=False)
    await store.delete(42, record.id, by=3, reason="off topic")      # audited: who, when, why

Deletion keeps the row (body included) and stamps who/when/why, and writes an audit entry
in the same transaction, so a moderator's action is on the hash-chained record (§28).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.services import Services
from orchestrator.store.models import ChatMessage
from orchestrator.store.types import utcnow
from signaling.chat import ChatRecord

CHAT = ChatMessage.__table__
INSERT_ONE = insert(CHAT).returning(CHAT.c.id)
INSERT_MANY = insert(CHAT).returning(CHAT.c.id, sort_by_parameter_order=True)


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
    """Chat rows in the service database, each call one transaction on a worker thread.

    ``add`` commits in groups: while one transaction is in flight, new messages queue and the
    next transaction writes them all. A commit costs one fsync (≈ 3-10 ms on SQLite here), so one
    message per transaction would cap a node near 100 messages/s; grouped, the cap is the batch
    size per commit, and a message still waits for at most one commit before its own. A group is
    one Core ``INSERT ... RETURNING id`` over all its rows (no ORM unit of work: building,
    flushing and reading back ORM objects cost more CPU than the fan-out of the message).

    ``linger`` (seconds) holds the first message of a group that long before the transaction
    starts, so that under steady chat the groups fill: a transaction (thread hop, pool checkout,
    BEGIN, COMMIT) cost ≈ 0.5-1 ms of CPU here whether it writes one row or twenty, which at rooms of
    30 was more than the fan-out of the message itself. It adds at most ``linger`` to delivery.
    """

    def __init__(self, svc: Services, max_batch: int = 500, linger: float = 0.02) -> None:
        self.svc = svc
        self.max_batch = max_batch
        self.linger = linger
        self._queue: list[tuple[dict[str, Any], asyncio.Future[ChatRecord]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, session_id: int, sender_id: int, sender_name: str, body: str, offline: bool) -> ChatRecord:
        row = {"session_id": session_id, "sender_id": sender_id, "sender_name": sender_name, "body": body,
               "offline": offline, "sent_at": utcnow()}  # fmt: skip
        future: asyncio.Future[ChatRecord] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        if self.linger > 0:
            await asyncio.sleep(self.linger)
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            rows = [row for row, _ in batch]

            def run(rows: list[dict[str, Any]] = rows) -> list[int]:
                # a Core connection, not an ORM Session: nothing here needs the identity map
                with self.svc.db.engine.begin() as conn:
                    if len(rows) == 1:
                        return [conn.execute(INSERT_ONE, rows[0]).scalar_one()]
                    return list(conn.scalars(INSERT_MANY, rows))

            try:
                ids = await asyncio.to_thread(run)
            except Exception as exc:  # the database is down: every waiting sender gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (row, future), id_ in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(ChatRecord(id=id_, **row))

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
