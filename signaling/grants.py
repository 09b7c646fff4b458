"""Join grants: what one person may do in one session, signed into a JWT, checked at one choke point.

    grant = grant_for("consultation", "participant")          # the ONE role -> grant table
    token = issue(key, JoinClaims(person_id=7, session_id=42, name="Aigerim", grant=grant,
                                  not_before=start - lobby, expires=end + grace))
    claims = verify(token, key, session_id=42, now=time.time(), is_revoked=revoked_jtis.__contains__)

Handlers ask ``claims.grant.can_publish("screen")`` or ``grant.moderate``, never the role name:
the role travels in the token only for display and for the fan-out flags.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "aulacast"
AUDIENCE = "aulacast-room"
SOURCES = ("camera", "microphone", "screen")


class GrantError(Exception):
    """A join token that cannot be used; ``code`` is stable for clients, the message is for people."""

    code = "invalid_token"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


@dataclass(frozen=True)
class Grant:
    """What a token holder may do. ``sees_all_cameras``/``featured`` feed the media fan-out policy.

    ``standby`` is never in a token: a defense room's floor sets it for the student next in the
    queue, who may then publish but reaches nobody until their turn (``MediaGrant.standby``).
    """

    role: str
    publish: tuple[str, ...] = ()
    subscribe: bool = True
    chat: bool = True
    moderate: bool = False
    sees_all_cameras: bool = True
    featured: bool = False
    standby: bool = False

    def can_publish(self, source: str) -> bool:
        # screen_audio rides with the screen share
        return (source if source != "screen_audio" else "screen") in self.publish

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "publish": list(self.publish),
            "subscribe": self.subscribe,
            "chat": self.chat,
            "moderate": self.moderate,
            "sees_all_cameras": self.sees_all_cameras,
            "featured": self.featured,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grant:
        try:
            publish = tuple(str(s) for s in data.get("publish", ()))
            unknown = [s for s in publish if s not in SOURCES]
            if unknown:
                raise GrantError(f"the grant names unknown sources {unknown}", "forged")
            return cls(
                role=str(data["role"]),
                publish=publish,
                subscribe=bool(data.get("subscribe", False)),
                chat=bool(data.get("chat", False)),
                moderate=bool(data.get("moderate", False)),
                sees_all_cameras=bool(data.get("sees_all_cameras", False)),
                featured=bool(data.get("featured", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise GrantError(f"the token's grant is malformed ({exc})", "forged") from None

    def media(self) -> dict[str, bool]:
        """The media half, in the field names of ``media.live.types.MediaGrant``."""
        return {
            "can_publish_camera": self.can_publish("camera"),
            "can_publish_microphone": self.can_publish("microphone"),
            "can_publish_screen": self.can_publish("screen"),
            "can_subscribe": self.subscribe,
            "sees_all_cameras": self.sees_all_cameras,
            "featured": self.featured,
            "standby": self.standby,
        }


_ALL = ("camera", "microphone", "screen")
_AV = ("camera", "microphone")

# THE table. Room kind -> session role -> grant. "control" sessions (attestation on-line) follow
# consultations; any kind not named here does too. Observers are registrar/admin staff who are not
# in the session's plan: they watch and may write, nothing more.
GRANTS: dict[str, dict[str, Grant]] = {
    "consultation": {
        "host": Grant("host", _ALL, moderate=True),
        "participant": Grant("participant", _AV),
        "observer": Grant("observer", ()),
    },
    "defense": {
        "chair": Grant("chair", _ALL, moderate=True),
        "committee": Grant("committee", _AV),
        "presenter": Grant("presenter", _ALL, featured=True),
        "secretary": Grant("secretary", ("microphone",)),
        "audience": Grant("audience", (), sees_all_cameras=False),
        "observer": Grant("observer", (), sees_all_cameras=False),
    },
}
# Session-participant role names as the plan stores them, per room kind.
ROLE_ALIASES: dict[str, dict[str, str]] = {
    "consultation": {"tutor": "host", "student": "participant", "presenter": "participant", "chair": "host"},
    "defense": {"host": "chair", "tutor": "chair", "participant": "audience", "student": "audience"},
}


def presenting(base: Grant, is_presenter: bool) -> Grant:
    """A consultation participant whom the host made presenter also shares a screen, while it lasts.

    Not in the token: the host hands it over and takes it back in the room (``presenter``), as
    BigBlueButton's presenter role does; only a participant gains anything (a host has it already,
    an observer publishes nothing).
    """
    if not is_presenter or base.role != "participant" or "screen" in base.publish:
        return base
    return dataclasses.replace(base, publish=(*base.publish, "screen"))


def room_kind(session_kind: str) -> str:
    return "defense" if session_kind == "defense" else "consultation"


def grant_for(session_kind: str, role: str) -> Grant:
    """The grant of ``role`` in a session of ``session_kind``; an unknown role gets nothing to publish."""
    kind = room_kind(session_kind)
    role = ROLE_ALIASES[kind].get(role, role)
    table = GRANTS[kind]
    if role not in table:
        raise GrantError(f"role {role!r} has no grant in a {kind} room; known: {', '.join(table)}", "no_grant")
    return table[role]


@dataclass(frozen=True)
class JoinClaims:
    """The decoded content of a join token."""

    person_id: int
    session_id: int
    name: str
    grant: Grant
    not_before: float
    expires: float
    jti: str = field(default_factory=lambda: uuid.uuid4().hex)
    room_kind: str = "consultation"


def issue(key: str, claims: JoinClaims, *, now: float | None = None) -> str:
    """Sign ``claims`` into a compact JWT (HS256)."""
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(claims.person_id),
        "sid": claims.session_id,
        "name": claims.name,
        "kind": claims.room_kind,
        "grant": claims.grant.to_dict(),
        "nbf": int(claims.not_before),
        "exp": int(claims.expires),
        "jti": claims.jti,
    }
    if now is not None:
        payload["iat"] = int(now)
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(
    token: str,
    key: str,
    *,
    session_id: int | None,
    now: float,
    is_revoked: Callable[[str], bool] = lambda jti: False,
) -> JoinClaims:
    """Return the claims of a valid token for ``session_id`` at ``now``, or raise a precise GrantError.

    Codes: ``forged`` (not ours / malformed / tampered), ``expired``, ``not_yet_valid``,
    ``wrong_session``, ``revoked``. ``session_id=None`` accepts any session (the token names it).
    """
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise GrantError("no join token was given; open the room from your schedule", "missing_token")
    try:
        data = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False, "verify_nbf": False, "require": ["exp", "nbf", "sub", "jti"]},
        )
    except jwt.InvalidSignatureError:
        raise GrantError("the join token's signature is not ours; it was altered or forged", "forged") from None
    except jwt.PyJWTError as exc:
        raise GrantError(f"the join token is not a valid aulacast token ({exc})", "forged") from None
    try:
        claims = JoinClaims(
            person_id=int(data["sub"]),
            session_id=int(data["sid"]),
            name=str(data.get("name", "")),
            grant=Grant.from_dict(data["grant"]),
            not_before=float(data["nbf"]),
            expires=float(data["exp"]),
            jti=str(data["jti"]),
            room_kind=str(data.get("kind", "consultation")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GrantError(f"the join token lacks a field ({exc})", "forged") from None
    if session_id is not None and claims.session_id != session_id:
        raise GrantError(
            f"this join token is for session {claims.session_id}, not session {session_id}", "wrong_session"
        )
    if now < claims.not_before:
        raise GrantError(
            f"the room opens in {int(claims.not_before - now) // 60 + 1} min; this link is not valid yet",
            "not_yet_valid",
        )
    if now >= claims.expires:
        raise GrantError("this join link has expired: the session is over", "expired")
    if is_revoked(claims.jti):
        raise GrantError("this join link was revoked by the host or staff", "revoked")
    return claims
