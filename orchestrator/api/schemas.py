"""Response shapes of the API's main routes, for OpenAPI (issue 13 §1.7: every 200 used to be ``{}``).

The handlers still return plain dicts; these models only describe them, and
``tests/signaling/test_openapi_responses.py`` validates real responses against the published
document, so a shape that drifts from its description fails a test. Extra fields are allowed
(``additionalProperties`` is not closed): clients must ignore what they do not know.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class MessageOut(BaseModel):
    """A sentence the server made for a person (fileio.message): pages word ``code`` in the reader's language."""

    code: str = Field(description="stable code; the page's catalogue key is <area>.msg.<code>")
    params: dict[str, str] = Field(description="the values the sentence quotes, by name")
    text: str = Field(description="the sentence in English (command line, API users, unknown codes)")


class PersonOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    timezone: str = Field(description="IANA zone of the profile: every time shown to this person is in it")
    language: Literal["kk", "ru", "en"] | None = Field(None, description="page language; null: the browser's")


class MeOut(BaseModel):
    person: PersonOut


class LoginOut(BaseModel):
    person: PersonOut
    token: str | None = Field(None, description='only for kind "api": the bearer token (a cookie otherwise)')


class SessionOut(BaseModel):
    id: int
    key: str
    kind: str = Field(description="consultation | defense | lecture | control | ...")
    title: str = Field(description="as the plan or its author named it (the planner names in English)")
    titles: dict[str, str] = Field(description="the title in kk, ru and en: the discipline's own title in each language and "
                                   "the planner's words translated; a title a person wrote is the same in all three")
    status: Literal["planned", "open", "live", "closed", "recorded", "composed", "archived", "packaged", "cancelled"]
    sequence: int
    start: str = Field(description="ISO 8601, UTC")
    end: str
    local_start: str = Field(description="ISO 8601 in `timezone`")
    local_end: str
    timezone: str
    sitting: str | None
    join_url: str


class ParticipantOut(BaseModel):
    person_id: int
    role: str


class SessionDetailOut(SessionOut):
    participants: list[ParticipantOut]
    group_members: list[int] | None = None


class ScheduleOut(BaseModel):
    timezone: str
    from_: str = Field(alias="from")
    to: str
    sessions: list[SessionOut]


class SessionsOut(BaseModel):
    sessions: list[SessionOut]


class GrantOut(BaseModel):
    role: str
    publish: list[Literal["camera", "microphone", "screen", "screen_audio"]]
    subscribe: bool
    chat: bool
    moderate: bool
    sees_all_cameras: bool
    featured: bool


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class JoinOut(BaseModel):
    token: str = Field(description="the join token (JWT) for Socket.IO's `auth`")
    jti: str
    not_before: str = Field(description="session start minus the lobby minutes")
    expires_at: str = Field(description="session end plus the grace minutes")
    grant: GrantOut
    ice_servers: list[IceServerOut]
    session: SessionOut
    room_url: str
    socket_path: str


class ChatMessageOut(BaseModel):
    id: int
    session_id: int
    sender_id: int
    sender_name: str
    body: str
    sent_at: str
    offline: bool
    deleted: bool
    deleted_at: str | None = None
    deleted_by: int | None = None
    delete_reason: str | None = None
    original_body: str | None = None


class ChatHistoryOut(BaseModel):
    session_id: int
    messages: list[ChatMessageOut]


class PostedMessageOut(BaseModel):
    message: ChatMessageOut
