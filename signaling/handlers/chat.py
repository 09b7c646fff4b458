"""Chat in the room: send, delete, and messages written over HTTP shown live."""

from __future__ import annotations

import logging
from typing import Any

from signaling.chat import ChatRecord
from signaling.handlers.base import Conn, Handlers, room_of
from signaling.protocol import (
    ChatDelete,
    ChatSend,
    ProtocolError,
)

log = logging.getLogger("aulacast.signaling")


class ChatEvents(Handlers):
    async def _on_chat(self, conn: Conn, msg: ChatSend) -> dict[str, Any]:
        c = conn.claims
        record = await self.b.chat.send(session_id=c.session_id, sender_id=c.person_id, sender_name=c.name,
                                        body=msg.body)  # fmt: skip
        out = record.to_dict()
        if msg.client_id is not None:
            out["client_id"] = msg.client_id
        await self.sio.emit("chat", out, room=room_of(c.session_id))
        return {"message": out}

    async def _on_chat_delete(self, conn: Conn, msg: ChatDelete) -> dict[str, Any]:
        try:
            record = await self.b.chat_store.delete(conn.session_id, msg.message_id, conn.person_id, msg.reason)
        except KeyError:
            raise ProtocolError("not_found", f"message {msg.message_id} is not in this session", "chat-delete") from None
        await self.broadcast_deleted(record)
        return {"message_id": record.id}

    async def broadcast_deleted(self, record: ChatRecord) -> None:
        """Tell the room a message is gone (also used by the HTTP DELETE route)."""
        data = {"id": record.id, "deleted_by": record.deleted_by, "reason": record.delete_reason,
                "deleted_at": record.deleted_at.isoformat() if record.deleted_at else None}  # fmt: skip
        await self.sio.emit("chat-deleted", data, room=room_of(record.session_id))

    async def broadcast_chat(self, record: ChatRecord) -> None:
        """A message written through HTTP (off-line thread) shown to whoever is in the room."""
        await self.sio.emit("chat", record.to_dict(), room=room_of(record.session_id))
