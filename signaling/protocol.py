"""The Socket.IO event vocabulary: one pydantic model per client event, size limits, error codes.

    spec = CLIENT_EVENTS["chat"]                 # EventSpec(model=ChatSend, needs="chat")
    msg = parse("chat", payload)                 # ChatSend, or raises ProtocolError(code, message, event)

docs/signaling-protocol.md is the human version of this module; keep them in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fileio.message import Message, Messages, message_fields

MAX_EVENT_BYTES = 64 * 1024
MAX_SDP_BYTES = 32 * 1024
MAX_REASON = 500
HISTORY_LIMIT = 200

Source = Literal["camera", "microphone", "screen", "screen_audio"]


class ProtocolError(Exception):
    """A refused event; becomes the ``error`` event ``{code, message, event}``."""

    def __init__(self, code: str, message: str, event: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.event = event

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "event": self.event}


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Empty(_Event):
    pass


class ChatSend(_Event):
    body: str = Field(min_length=1)  # the configured chat.max_length is checked by the chat service
    client_id: str | None = Field(None, max_length=64)  # echoed back so a client can match its own message


class ChatDelete(_Event):
    message_id: int
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class Hand(_Event):
    raised: bool
    person_id: int | None = None  # someone else's hand: lowering needs moderate


class PersonRef(_Event):
    person_id: int


class Deny(_Event):
    person_id: int
    reason: str = Field("", max_length=MAX_REASON)


class LobbyPolicy(_Event):
    auto_admit: bool


class MuteRequest(_Event):
    person_id: int
    source: Literal["camera", "microphone", "screen"]
    muted: bool = True


class MediaState(_Event):
    """What a person's own microphone and camera are doing (shown on their tile and in the list)."""

    microphone: bool = Field(strict=True)
    camera: bool = Field(strict=True)


class Remove(_Event):
    person_id: int
    reason: str = Field("", max_length=MAX_REASON)


class Presenter(_Event):
    person_id: int | None


class End(_Event):
    reason: str = Field("", max_length=MAX_REASON)


class MediaJoin(_Event):
    sdp: str | None = Field(None, max_length=MAX_SDP_BYTES)  # None: subscribe only
    sources: dict[str, Source] = Field(default_factory=dict, max_length=16)  # a=mid -> source


class MediaRenegotiate(_Event):
    sdp: str = Field(max_length=MAX_SDP_BYTES)
    sources: dict[str, Source] = Field(default_factory=dict, max_length=16)


class MediaAnswer(_Event):
    sdp: str = Field(max_length=MAX_SDP_BYTES)


class TurnRef(_Event):
    turn_id: int


class Absent(_Event):
    turn_id: int
    to: Literal["end", "reserve"] = "end"
    reserve: int | None = None


class Mic(_Event):
    person_id: int
    open: bool


Needs = Literal["admitted", "chat", "moderate", "media", "any"]


@dataclass(frozen=True)
class EventSpec:
    """How one client event is checked: its schema and what the grant must allow.

    ``needs``: ``any`` = connected (lobby too); ``admitted`` = in the room; ``chat``/``moderate`` =
    in the room AND that grant flag; ``media`` = in the room, publish sources checked per source.
    """

    model: type[_Event]
    needs: Needs
    summary: str


CLIENT_EVENTS: dict[str, EventSpec] = {
    "state": EventSpec(Empty, "any", "ask for a fresh welcome/lobby snapshot"),
    "chat": EventSpec(ChatSend, "chat", "send a chat message"),
    "chat-delete": EventSpec(ChatDelete, "moderate", "delete a message (audited)"),
    "hand": EventSpec(Hand, "admitted", "raise/lower your hand; lower another's needs moderate"),
    "admit": EventSpec(PersonRef, "moderate", "let a waiting person in"),
    "deny": EventSpec(Deny, "moderate", "turn a waiting person away"),
    "lobby-policy": EventSpec(LobbyPolicy, "moderate", "switch auto-admit on/off"),
    "mute-request": EventSpec(MuteRequest, "moderate", "ask a person to mute/unmute a source"),
    "mute-all": EventSpec(Empty, "moderate", "ask everyone else to mute their microphone"),
    "media-state": EventSpec(MediaState, "admitted", "say whether your microphone and camera are on"),
    "remove": EventSpec(Remove, "moderate", "remove a person from the room"),
    "presenter": EventSpec(Presenter, "moderate", "set (or clear) the featured speaker"),
    "end": EventSpec(End, "moderate", "end the session for everyone"),
    "media-join": EventSpec(MediaJoin, "media", "publish offer (or none) -> media-answer"),
    "media-renegotiate": EventSpec(MediaRenegotiate, "media", "new publish offer (screen share on/off)"),
    "media-answer": EventSpec(MediaAnswer, "media", "answer to a media-offer"),
    "media-leave": EventSpec(Empty, "media", "stop publishing and receiving"),
    # defense sittings (signaling/handlers/defense.py); the sitting's desk checks the chair again
    "turn-start": EventSpec(TurnRef, "moderate", "start a student's turn: the presenter grant moves to them"),
    "turn-end": EventSpec(Empty, "moderate", "end the presenting turn: nobody holds the floor"),
    "absent": EventSpec(Absent, "moderate", "mark a waiting student absent (end of queue or reserve sitting)"),
    "mic": EventSpec(Mic, "moderate", "open or close a committee member's microphone"),
}

SERVER_EVENTS = (
    "welcome", "lobby", "denied", "member-joined", "member-left", "waiting",
    "waiting-left", "hand", "mute-requested", "removed", "presenter", "lobby-policy", "session-ended",
    "chat", "chat-deleted", "media-answer", "media-offer", "media-tracks", "track-added", "track-removed", "peer-left",
    "media-lost", "recording", "media-state", "error",
)  # fmt: skip

ERROR_CODES = {
    "bad_event": "the payload does not match the event's schema (the message names the field)",
    "too_large": f"the event is larger than {MAX_EVENT_BYTES} bytes",
    "unknown_event": "no such client event",
    "forbidden": "your grant does not allow this event",
    "not_admitted": "you are in the lobby; wait for the host",
    "not_found": "the person or message named is not in this room",
    "rate_limited": "too many chat messages; slow down",
    "too_long": "the chat message is longer than the configured limit",
    "session_ended": "the session has ended",
    "unavailable": "a shared service (Redis/database) is briefly unreachable; retry",
    "bad_sdp": "the SDP is not usable (garbage)",
    "no_common_codec": "an m-line offers no codec the server forwards",
    "bad_sources": "the sources map does not match the offer's m-lines",
    "unlabelled_track": "an extra m-line has no sources entry",
    "not_joined": "media-answer/renegotiate before media-join",
    "room_not_open": "media-answer/renegotiate before media-join",
    "no_offer_pending": "media-answer with no media-offer outstanding",
    "worker_restarted": "the media worker restarted; media-join again",
    "media_lost": "the media node went away; media-join again",
    "not_allowed": "your grant does not allow publishing this source",
    "media_refused": "the media server refused the request",
    "internal": "an unexpected server fault; the server log has the details",
}


# Why a person leaves the room (``denied``, ``removed``, ``session-ended``): the server's and the room page's
# fixed reasons, sent with ``reason_code``/``reason_params`` beside the English ``reason`` (the page words
# room.msg.<code>); a reason a host typed has no code and is shown as typed.
LEAVE_REASONS = Messages({
    "ended_by_host": "ended by the host",
    "removed_by_host": "removed by the host",
    "denied_by_host": "not admitted by the host",
    "link_revoked": "your join link was revoked",
    "time_over": "the session's time is over",
})  # fmt: skip


def with_reason_code(data: dict[str, Any], known: Messages = LEAVE_REASONS) -> dict[str, Any]:
    """``data`` with ``reason_code`` and ``reason_params`` for its ``reason`` (null and {} when it has none)."""
    reason = data.get("reason")
    found: Message | None = known.parse(reason) if isinstance(reason, str) and reason else None
    return {**data, **message_fields(found)}


def payload_size(data: Any) -> int:
    try:
        return len(json.dumps(data, separators=(",", ":"), default=str).encode())
    except (TypeError, ValueError):
        return MAX_EVENT_BYTES + 1


def parse(event: str, data: Any) -> _Event:
    """Validate one client event; raise ProtocolError naming what is wrong."""
    spec = CLIENT_EVENTS.get(event)
    if spec is None:
        raise ProtocolError("unknown_event", f"unknown event {event[:64]!r}", event[:64])
    if payload_size(data) > MAX_EVENT_BYTES:
        raise ProtocolError("too_large", f"the {event} event is larger than {MAX_EVENT_BYTES} bytes", event)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("bad_event", f"the {event} event must carry a JSON object", event)
    try:
        return spec.model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(payload)"
        raise ProtocolError("bad_event", f"{event}: {where}: {err['msg']}", event) from None
