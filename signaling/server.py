"""The Socket.IO handlers: token on connect, then every event validated and checked against the grant.

    server = SignalingServer(sio, backend)        # registers connect / disconnect / "*" on ``sio``
    await server.on_media_event("track-added", 42, 7, {...})   # from the media plane (owning node)
    await server.on_control({"action": "end", "session_id": 42, ...})  # from the bus, on every node

One choke point (``_dispatch``) parses each client event with its schema, refuses it with an
``error`` event ``{code, message, event}`` (and a ``{ok: false, error}`` ack) when the schema,
the size, the lobby or the GRANT says no, and only then runs the handler. Handlers never look
at role names. Actions that must reach sockets on other nodes (admit, deny, remove, revoke,
end) travel as control messages on the service bus; everything else is a Socket.IO emit to a
room, which python-socketio's Redis manager carries across nodes.

Socket.IO rooms: ``s<sid>`` admitted people of session <sid>, ``m<sid>`` its moderators,
``p<sid>:<person>`` every socket of one person (lobby included).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

from signaling.backend import Backend, MediaRefused
from signaling.chat import ChatRefused
from signaling.errors import Unavailable
from signaling.handlers.arrival import Arrival
from signaling.handlers.base import Conn, Handlers
from signaling.handlers.chat import ChatEvents
from signaling.handlers.defense import DefenseEvents
from signaling.handlers.media import MediaRelay
from signaling.handlers.moderation import Moderation
from signaling.handlers.recovery import NodeRecovery
from signaling.protocol import (
    CLIENT_EVENTS,
    ProtocolError,
    parse,
)
from signaling.room import Member, RoomMeta

log = logging.getLogger("aulacast.signaling")


class SignalingServer(Arrival, Moderation, ChatEvents, DefenseEvents, MediaRelay, NodeRecovery, Handlers):
    """Binds the room rules to one ``socketio.AsyncServer``; the handler groups live in ``signaling.handlers``."""

    def __init__(self, sio: socketio.AsyncServer, backend: Backend) -> None:
        self.sio = sio
        self.b = backend
        self.conns: dict[str, Conn] = {}
        # socket ids per (session, person) on this node: connect/disconnect look people up without
        # scanning every socket (at 5,000 sockets those scans made connecting quadratic)
        self._sockets_of: dict[tuple[int, int], set[str]] = {}
        self._members: dict[tuple[int, int], Member] = {}  # cache of local people, for Redis refills
        self._metas: dict[int, RoomMeta] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._beats = 0
        self._recovering = False  # our alive mark lapsed: re-assert in full and announce again whom others swept
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)
        sio.on("*", self._dispatch)

    async def _dispatch(self, event: str, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        conn = self.conns.get(sid)
        try:
            if conn is None:
                raise ProtocolError("not_admitted", "this connection is not in a room", event)
            if extra:
                raise ProtocolError("bad_event", f"the {event} event takes one JSON object", event)
            msg = parse(event, data)
            spec = CLIENT_EVENTS[event]
            if spec.needs != "any":
                if conn.state == "arriving":
                    await asyncio.wait_for(conn.arrived.wait(), 10)
                if conn.state != "room":
                    raise ProtocolError("not_admitted", "you are in the lobby; wait for the host to let you in", event)
                if spec.needs == "chat" and not conn.claims.grant.chat:
                    raise ProtocolError("forbidden", "your grant does not allow chat", event)
                if spec.needs == "moderate" and not conn.claims.grant.moderate:
                    raise ProtocolError("forbidden", f"only a moderator may send {event}", event)
            handler = getattr(self, "_on_" + event.replace("-", "_"))
            result = await handler(conn, msg)
            return {"ok": True, **(result or {})}
        except ProtocolError as exc:
            err = exc.to_dict()
        except ChatRefused as exc:
            err = {"code": exc.code, "message": str(exc), "event": event}
        except MediaRefused as exc:
            err = {"code": exc.code, "message": str(exc), "event": event}
        except (Unavailable, ConnectionError, TimeoutError, OSError) as exc:
            log.warning("shared service unreachable during %s: %s", event, exc)
            err = {"code": "unavailable", "message": "a shared service is briefly unreachable; retry", "event": event}
        except Exception:
            log.exception("event %s failed", event)
            err = {"code": "internal", "message": "unexpected server fault; it is logged", "event": event}
        await self._send(sid, "error", err)
        return {"ok": False, "error": err}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
