"""Accounts: password hashing (argon2id), opaque session/API tokens, feed tokens.

Tokens are random strings handed out once; only their SHA-256 is stored, so a
database leak gives no usable token and revocation is one UPDATE.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.errors import Unauthenticated, UserError
from orchestrator.store.models import ROLES, AuthToken, Person, PersonRole
from orchestrator.store.types import utcnow

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the account does not exist, so timing does not tell."""
    return _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class Identity:
    """Who is asking: the person and their roles, as the request sees them."""

    person_id: int
    username: str
    display_name: str
    roles: frozenset[str]
    timezone: str
    token_id: int | None = None
    language: str | None = None  # the profile's page language (kk, ru, en); None: the browser's

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def identity_of(person: Person, token_id: int | None = None) -> Identity:
    return Identity(
        person.id, person.username, person.display_name, frozenset(person.role_names), person.timezone, token_id,
        person.language,
    )


def create_person(
    s: Session,
    *,
    username: str,
    display_name: str,
    roles: set[str] | list[str],
    password: str | None = None,
    email: str | None = None,
    timezone: str = "Asia/Almaty",
) -> Person:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise UserError(f"unknown role(s): {', '.join(sorted(unknown))} (known: {', '.join(ROLES)})")
    if s.scalar(select(Person).where(Person.username == username)) is not None:
        raise UserError(f"username {username!r} is taken", code="conflict", status=409)
    person = Person(
        username=username,
        display_name=display_name,
        email=email,
        timezone=timezone,
        password_hash=hash_password(password) if password else None,
    )
    person.roles = [PersonRole(role=r) for r in sorted(set(roles))]
    s.add(person)
    s.flush()
    return person


def issue_token(s: Session, person: Person, *, kind: str, lifetime: timedelta, label: str | None = None) -> str:
    token = new_token("acs" if kind == "session" else "aca")
    s.add(
        AuthToken(
            person_id=person.id,
            kind=kind,
            token_hash=token_digest(token),
            label=label,
            expires_at=utcnow() + lifetime,
        )
    )
    s.flush()
    return token


def resolve_token(s: Session, token: str, now: datetime | None = None) -> Identity:
    """The identity behind a session cookie or bearer token, or ``Unauthenticated``."""
    now = now or utcnow()
    row = s.scalar(select(AuthToken).where(AuthToken.token_hash == token_digest(token)))
    if row is None:
        raise Unauthenticated("the session or token is not valid; sign in again", code="invalid_token")
    if row.revoked_at is not None:
        raise Unauthenticated("this token was revoked; sign in again", code="revoked_token")
    if row.expires_at <= now:
        raise Unauthenticated("this session has expired; sign in again", code="expired_token")
    person = s.get(Person, row.person_id)
    if person is None or not person.active:
        raise Unauthenticated("this account is disabled", code="account_disabled")
    return identity_of(person, row.id)


def revoke_token(s: Session, token_id: int) -> None:
    row = s.get(AuthToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def replace_password(s: Session, person: Person, password: str, *, keep_token_id: int | None = None) -> int:
    """Set a new password and revoke every session and API token of the person (but ``keep_token_id``,
    the one a self-service change is made with): whoever knew the old password is signed out."""
    person.password_hash = hash_password(password)
    now = utcnow()
    rows = s.scalars(select(AuthToken).where(AuthToken.person_id == person.id, AuthToken.revoked_at.is_(None)))
    count = 0
    for row in rows:
        if row.id != keep_token_id:
            row.revoked_at = now
            count += 1
    return count


def rotate_feed_token(s: Session, person: Person) -> str:
    """A new secret calendar-feed token; the old feed URL stops working at once."""
    token = new_token("feed")
    person.feed_token_hash = token_digest(token)
    return token


def revoke_feed_token(person: Person) -> None:
    person.feed_token_hash = None


def person_by_feed_token(s: Session, token: str) -> Person | None:
    return s.scalar(select(Person).where(Person.feed_token_hash == token_digest(token), Person.active.is_(True)))
