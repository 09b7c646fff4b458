"""One JSON-RPC envelope for the media plane, spoken over worker pipes and between nodes.

    line = encode(request(7, "join", {"room_id": "session-42", "peer_id": "7", ...}))
    reply = await serve(lambda method, params: call_method(media, method, params), decode(line))
    answer = result_of(reply)                        # the result, or RoomMediaError(message, code)

Requests are ``{"id", "method", "params"}``; replies ``{"id", "result"}`` or ``{"id", "error":
{"code", "message"}}``; a worker also pushes ``{"event": {...}}`` lines. ``serve`` is the one
place that maps a method name onto a ``MediaServer`` call (``call_method``), and ``serve`` the one
place that turns an outcome into a reply, for the worker process and a call forwarded from another
node alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from media.errors import MediaError
from media.live.fanout import RoomKind
from media.live.types import MediaGrant, MediaServer, RoomMediaError

log = logging.getLogger(__name__)

METHODS = ("open_room", "join", "renegotiate", "answer", "set_active_speaker", "leave", "close_room",
           "start_egress", "stop_egress")  # fmt: skip


def request(rid: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "method": method, "params": params}


def error_reply(rid: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": rid, "error": {"code": code, "message": message}}


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def decode(raw: bytes | str) -> dict[str, Any]:
    """One message; raises ValueError for anything that is not a JSON object."""
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError("a media RPC message must be a JSON object")
    return message


def result_of(reply: dict[str, Any]) -> Any:
    """The reply's result; its error raised as ``RoomMediaError`` with the code it carried."""
    error = reply.get("error")
    if error is not None:
        raise RoomMediaError(str(error.get("message", "media call failed")), str(error.get("code", "media_refused")))
    return reply.get("result")


async def call_method(media: MediaServer, method: str, p: dict[str, Any]) -> Any:
    """Run one named method of the media-server interface with JSON params."""
    if method == "open_room":
        return await media.open_room(p["room_id"], RoomKind(p["kind"]))
    if method == "join":
        grant = MediaGrant.from_dict(p["grant"])
        return await media.join(p["room_id"], p["peer_id"], grant, p.get("offer_sdp"), p.get("sources") or {})
    if method == "renegotiate":
        return await media.renegotiate(p["room_id"], p["peer_id"], p["offer_sdp"], p.get("sources") or {})
    if method == "answer":
        return await media.answer(p["room_id"], p["peer_id"], p["answer_sdp"])
    if method == "set_active_speaker":
        return await media.set_active_speaker(p["room_id"], p.get("peer_id"))
    if method == "set_floor":
        grants = {str(p): MediaGrant.from_dict(g) for p, g in (p.get("grants") or {}).items()}
        return await media.set_floor(p["room_id"], grants, p.get("peer_id"))
    if method == "leave":
        return await media.leave(p["room_id"], p["peer_id"])
    if method == "close_room":
        return await media.close_room(p["room_id"])
    if method == "start_egress":
        return await media.start_egress(p["room_id"], str(p["egress_id"]), p.get("params") or {})
    if method == "stop_egress":
        return await media.stop_egress(p["room_id"], str(p["egress_id"]))
    raise RoomMediaError(f"unknown media method {method!r}", "bad_request")


async def serve(run: Callable[[str, dict[str, Any]], Awaitable[Any]], message: dict[str, Any]) -> dict[str, Any]:
    """Answer one request with ``run(method, params)``: its result, or its refusal as an error reply."""
    rid, method = message.get("id"), str(message.get("method"))
    try:
        return {"id": rid, "result": await run(method, message.get("params") or {})}
    except RoomMediaError as exc:
        return error_reply(rid, exc.code, str(exc))
    except MediaError as exc:
        return error_reply(rid, "media_refused", str(exc))
    except Exception:
        log.exception("media call %s failed", method)
        return error_reply(rid, "internal", "the media server failed; the fault is logged")
