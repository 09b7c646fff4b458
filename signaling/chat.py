"""Durable chat: server timestamps, sender from the token, length limit, per-person token bucket.

    chat = Chat(store, limiter, ChatPolicy(max_length=2000, rate_per_second=2, burst=10))
    msg = await chat.send(session_id=42, sender_id=7, sender_name="Aigerim", body="hello")  # or ChatRefused
    history = await store.history(42, limit=200)
    vtt = to_webvtt(history, origin=recording_start)

The store is a Protocol so this package owns the rules and the composition root owns SQL
(``orchestrator.chatstore.SqlChatStore``). The limiter is the service's token bucket
(Redis-backed across nodes): a flooding client spends only its own tokens, so the others
are never slowed by it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class ChatRefused(Exception):
    """A chat message or deletion refused; ``code`` matches the protocol's error codes."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ChatRecord:
    id: int
    session_id: int
    sender_id: int
    sender_name: str
    body: str
    sent_at: datetime
    offline: bool = False
    deleted_at: datetime | None = None
    deleted_by: int | None = None
    delete_reason: str | None = None

    def to_dict(self, *, moderator: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "session_id": self.session_id,
            "sender_id": self.sender_id,
            "sender_name": self.sender_name,
            "body": "" if self.deleted_at else self.body,
            "sent_at": self.sent_at.astimezone(UTC).isoformat(),
            "offline": self.offline,
            "deleted": self.deleted_at is not None,
        }
        if self.deleted_at is not None:
            out["deleted_at"] = self.deleted_at.astimezone(UTC).isoformat()
            out["deleted_by"] = self.deleted_by
            if moderator:
                out["delete_reason"] = self.delete_reason
                out["original_body"] = self.body
        return out


class ChatStore(Protocol):
    async def add(self, session_id: int, sender_id: int, sender_name: str, body: str, offline: bool) -> ChatRecord: ...
    async def history(self, session_id: int, limit: int | None = None) -> list[ChatRecord]: ...
    async def delete(self, session_id: int, message_id: int, by: int, reason: str) -> ChatRecord: ...


Allow = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class ChatPolicy:
    max_length: int = 2000
    rate_per_second: float = 2.0
    burst: int = 10


class Chat:
    """The chat rules; storage and rate limiting are injected."""

    def __init__(self, store: ChatStore, allow: Callable[..., Awaitable[bool]], policy: ChatPolicy) -> None:
        self.store = store
        self._allow = allow
        self.policy = policy

    def check_body(self, body: str) -> str:
        text = body.replace("\r\n", "\n").strip()
        if not text:
            raise ChatRefused("a chat message cannot be empty", "bad_event")
        if len(text) > self.policy.max_length:
            raise ChatRefused(
                f"the message has {len(text)} characters; the limit is {self.policy.max_length}", "too_long"
            )
        return text

    async def send(
        self, *, session_id: int, sender_id: int, sender_name: str, body: str, offline: bool = False
    ) -> ChatRecord:
        text = self.check_body(body)
        p = self.policy
        if not await self._allow(f"chat:{session_id}:{sender_id}", rate=p.rate_per_second, burst=p.burst):
            raise ChatRefused(
                f"slow down: at most {p.burst} messages at once, then {p.rate_per_second:g} per second",
                "rate_limited",
            )
        return await self.store.add(session_id, sender_id, sender_name, text, offline)


def to_json(records: Sequence[ChatRecord], *, origin: datetime | None = None) -> str:
    """The session's chat as a JSON document; with ``origin`` each message carries its offset in seconds."""
    items = []
    for r in records:
        d = r.to_dict(moderator=True)
        if origin is not None:
            d["offset_seconds"] = round((r.sent_at - origin).total_seconds(), 3)
        items.append(d)
    return json.dumps({"messages": items, "origin": origin.isoformat() if origin else None}, ensure_ascii=False)


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the origin (session/recording start)
    end: float
    speaker: str
    text: str


CUE_SECONDS = 6.0


def timeline(records: Sequence[ChatRecord], origin: datetime) -> list[Cue]:
    """Live, undeleted messages as cues relative to ``origin``; a cue lasts until the next or 6 s."""
    live = sorted((r for r in records if r.deleted_at is None and not r.offline), key=lambda r: (r.sent_at, r.id))
    live = [r for r in live if r.sent_at >= origin]
    cues: list[Cue] = []
    for i, r in enumerate(live):
        start = (r.sent_at - origin).total_seconds()
        end = start + CUE_SECONDS
        if i + 1 < len(live):
            end = min(end, max(start + 1.0, (live[i + 1].sent_at - origin).total_seconds()))
        cues.append(Cue(start, end, r.sender_name, r.body))
    return cues


def _ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _escape(text: str) -> str:
    # WebVTT: "-->" may not appear in cue text, & and < must be escaped; blank lines end a cue.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in text.splitlines() if line.strip()) or " "


def to_webvtt(records: Sequence[ChatRecord], origin: datetime) -> str:
    """A WebVTT file whose cues are the chat, timed from ``origin`` (``<v Speaker>`` voice spans)."""
    out = ["WEBVTT", "", "NOTE chat of the session, times relative to " + origin.astimezone(UTC).isoformat(), ""]
    for n, cue in enumerate(timeline(records, origin), 1):
        out += [str(n), f"{_ts(cue.start)} --> {_ts(cue.end)}", f"<v {_escape(cue.speaker)}>{_escape(cue.text)}", ""]
    return "\n".join(out)


def parse_webvtt(text: str) -> list[Cue]:
    """Read back what ``to_webvtt`` wrote (used by tests and by the composer)."""

    def secs(ts: str) -> float:
        h, m, s = ts.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    lines = text.splitlines()
    if not lines or not lines[0].startswith("WEBVTT"):
        raise ValueError("not a WebVTT file (no WEBVTT header)")
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        if "-->" in lines[i]:
            a, b = (p.strip() for p in lines[i].split("-->"))
            body = []
            i += 1
            while i < len(lines) and lines[i]:
                body.append(lines[i])
                i += 1
            raw = "\n".join(body)
            speaker = ""
            if raw.startswith("<v ") and ">" in raw:
                speaker, raw = raw[3:].split(">", 1)
            unesc = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            cues.append(Cue(secs(a), secs(b.split()[0]), speaker, unesc))
        i += 1
    return cues

