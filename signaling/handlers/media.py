"""The relay between clients and the media plane: SDP offers and answers, media events to sockets."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from signaling.backend import MediaPlane
from signaling.handlers.base import Conn, Handlers, person_of, room_of
from signaling.protocol import (
    MediaAnswer,
    MediaJoin,
    MediaRenegotiate,
    ProtocolError,
)

log = logging.getLogger("aulacast.signaling")


class MediaRelay(Handlers):
    async def _on_media_join(self, conn: Conn, msg: MediaJoin) -> dict[str, Any]:
        media = self._require_media("media-join")
        grant = await self._grant_now(conn)
        self._check_sources(grant, msg.sources, "media-join")
        if msg.sdp is None and not grant.subscribe:
            raise ProtocolError("forbidden", "your grant allows neither publishing nor receiving", "media-join")
        answer = await media.join(conn.session_id, conn.person_id, conn.claims.room_kind, grant.media(),
                                  msg.sdp, dict(msg.sources))  # fmt: skip
        conn.media = True
        if answer is not None:
            await self._send(conn.socket_id, "media-answer", {"sdp": answer})
        return {"sdp": answer}

    async def _on_media_renegotiate(self, conn: Conn, msg: MediaRenegotiate) -> dict[str, Any]:
        media = self._require_media("media-renegotiate")
        self._check_sources(await self._grant_now(conn), msg.sources, "media-renegotiate")
        answer = await media.renegotiate(conn.session_id, conn.person_id, msg.sdp, dict(msg.sources))
        await self._send(conn.socket_id, "media-answer", {"sdp": answer})
        return {"sdp": answer}

    async def _on_media_answer(self, conn: Conn, msg: MediaAnswer) -> dict[str, Any]:
        await self._require_media("media-answer").answer(conn.session_id, conn.person_id, msg.sdp)
        return {}

    async def _on_media_leave(self, conn: Conn, msg: Any) -> dict[str, Any]:
        await self._require_media("media-leave").leave(conn.session_id, conn.person_id)
        conn.media = False
        return {}

    def _require_media(self, event: str) -> MediaPlane:
        if self.b.media is None:
            raise ProtocolError("media_refused", "this server runs without a media plane", event)
        return self.b.media

    @staticmethod
    def _check_sources(grant: Any, sources: Mapping[str, str], event: str) -> None:
        for source in sources.values():
            if not grant.can_publish(source):
                raise ProtocolError("not_allowed", f"your grant does not allow publishing {source}", event)

    async def on_media_event(self, kind: str, session_id: int, person_id: int | None, data: dict[str, Any]) -> None:
        """Forward one media event to the right sockets (called on the node that holds the media room)."""
        if kind == "subscribe-offer" and person_id is not None:
            tracks = [{**t, "person_id": _int(t.get("publisher_id"))} for t in data.get("tracks", [])]
            await self.sio.emit("media-offer", {"sdp": data.get("sdp"), "tracks": tracks},
                                room=person_of(session_id, person_id))  # fmt: skip
        elif kind == "subscribe-tracks" and person_id is not None:
            tracks = [{**t, "person_id": _int(t.get("publisher_id"))} for t in data.get("tracks", [])]
            await self.sio.emit("media-tracks", {"tracks": tracks}, room=person_of(session_id, person_id))
        elif kind in ("track-added", "track-removed"):
            await self.sio.emit(kind, {**data, "person_id": person_id}, room=room_of(session_id))
        elif kind == "peer-left":
            await self.sio.emit("peer-left", {"person_id": person_id, "reason": data.get("reason", "left")},
                                room=room_of(session_id))  # fmt: skip
        elif kind == "room-lost":
            await self.sio.emit("media-lost", {"reason": data.get("reason", "media server restarted")},
                                room=room_of(session_id))  # fmt: skip


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
