"""What the signaling server needs from the service, injected by the composition root.

    server = SignalingServer(sio, Backend(verify, session_info, chat, chat_store, rooms, media, control, audit))

Signaling knows the media plane only as ``MediaPlane`` (session and person ids, SDP strings):
the composition root adapts whatever media server it runs to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from signaling.chat import Chat, ChatStore
from signaling.grants import JoinClaims
from signaling.room import RoomStore


class MediaRefused(Exception):
    """The media plane said no; ``code`` goes to the client as is (bad_sdp, not_allowed, ...)."""

    def __init__(self, message: str, code: str = "media_refused") -> None:
        super().__init__(message)
        self.code = code


class MediaPlane(Protocol):
    """What signaling asks of the media plane, in session/person terms (the composition root adapts)."""

    async def join(
        self, session_id: int, person_id: int, kind: str, grant: dict[str, bool], sdp: str | None,
        sources: Mapping[str, str],
    ) -> str | None: ...  # fmt: skip
    async def renegotiate(self, session_id: int, person_id: int, sdp: str, sources: Mapping[str, str]) -> str: ...
    async def answer(self, session_id: int, person_id: int, sdp: str) -> None: ...
    async def leave(self, session_id: int, person_id: int) -> None: ...
    async def set_active_speaker(self, session_id: int, person_id: int | None) -> None: ...
    async def close_room(self, session_id: int) -> None: ...
    async def set_floor(self, session_id: int, grants: Mapping[int, dict[str, bool]], speaker: int | None) -> None: ...


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str
    kind: str
    status: str
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


class SittingRefused(Exception):
    """The sitting's desk said no (not the chair, not admitted under §29, ...); ``code`` goes to the client."""

    def __init__(self, message: str, code: str = "forbidden", queue: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.queue = queue  # the queue as it now is, when the refusal changed it (§29: a student taken out)


class SittingDesk(Protocol):
    """The defense workflow behind a sitting's room (the composition root supplies it).

    ``act`` checks who asks and changes the sitting; it answers what the room must show:
    ``{"sitting", "presenter", "previous", "turn": {...} | None, "speaker"}``, or raises SittingRefused.
    """

    async def act(self, session_id: int, person_id: int, action: str, params: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class Backend:
    """Everything the signaling server needs from the service, injected by the composition root."""

    verify: Callable[[str], Awaitable[JoinClaims]]  # raises GrantError
    session_info: Callable[[int], Awaitable[SessionInfo | None]]
    chat: Chat
    chat_store: ChatStore
    rooms: RoomStore
    media: MediaPlane | None
    control: Callable[[dict[str, Any]], Awaitable[None]]  # publish to every node (bus "room.control")
    audit: Callable[[int, str, str, dict[str, Any]], Awaitable[None]]
    node: str = "local"
    desk: SittingDesk | None = None  # defense sittings (None: the room has no sitting workflow)
    # the room's timeline of people: (session, person, role, joined) when someone's first socket enters
    # the room and when their last one leaves (attendance)
    presence: Callable[[int, int, str, bool], Awaitable[None]] | None = None
    max_sockets_per_person: int = 5  # open sockets of one person in one session on one node (tabs, reconnects)
