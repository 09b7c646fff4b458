"""Sign-in, sign-out, API tokens and calendar-feed tokens."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator import audit
from orchestrator.api import api, services
from orchestrator.api.schemas import LoginOut, MeOut
from orchestrator.auth import (
    Identity,
    identity_of,
    issue_token,
    replace_password,
    resolve_token,
    revoke_feed_token,
    revoke_token,
    rotate_feed_token,
    verify_password,
)
from orchestrator.errors import Forbidden, NotFound, Unauthenticated, UserError
from orchestrator.http import (
    AUTHENTICATED,
    PUBLIC,
    SESSION_COOKIE,
    auth_state,
    client_address,
    identity,
    parse_body,
    same_origin,
)
from orchestrator.loginguard import LoginGuard, make_login_guard
from orchestrator.store.models import AuthToken, Person
from orchestrator.store.types import utcnow


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    kind: Literal["session", "api"] = "session"


class OwnPasswordBody(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


class TokenBody(BaseModel):
    label: str = Field("api", max_length=200)


class RetryLater(UserError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = math.ceil(retry_after)


def login_guard(svc: Any) -> LoginGuard:
    """The node's sign-in backoff (in Redis when configured), made once per Services."""
    if svc.login_guard is None:
        svc.login_guard = make_login_guard(svc.redis, svc.settings.auth.login_attempts_per_minute)
    guard: LoginGuard = svc.login_guard
    return guard


def person_json(ident: Identity) -> dict[str, Any]:
    return {
        "id": ident.person_id,
        "username": ident.username,
        "display_name": ident.display_name,
        "roles": sorted(ident.roles),
        "timezone": ident.timezone,
        "language": ident.language,
    }


async def resolve_identity(request: web.Request) -> None:
    """Middleware hook: attach the caller's identity from a bearer token or session cookie."""
    state = auth_state(request)
    header = request.headers.get("Authorization", "")
    token, via = None, None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            state.error, state.code = "Authorization must be 'Bearer <token>'", "invalid_token"
            return
        token, via = value.strip(), "bearer"
    elif SESSION_COOKIE in request.cookies:
        token, via = request.cookies[SESSION_COOKIE], "cookie"
    if not token:
        return
    svc = services(request)
    try:
        state.identity = await svc.db_call(lambda s: resolve_token(s, token))
        state.via = via
    except Unauthenticated as exc:
        state.error, state.code = str(exc), exc.code


@api.route("POST", "/api/auth/login", roles=PUBLIC, summary="Sign in; a cookie session or an API bearer token", body=LoginBody, tags=("auth",), response=LoginOut)
async def login(request: web.Request) -> web.Response:
    svc = services(request)
    if request.content_type != "application/json":  # a cross-site form can only send text/plain or form types
        raise UserError("sign in with a JSON body (Content-Type: application/json)", code="unsupported_media_type",
                        status=415)  # fmt: skip
    if not same_origin(request, svc.settings.effective_public_url):
        raise Forbidden("signing in from another site is refused", code="csrf")
    body: LoginBody = await parse_body(request, LoginBody)
    cfg = svc.settings.auth
    address = client_address(request, svc.settings.http.trusted_proxies, svc.settings.http.client_address_header)
    username = body.username.strip().lower()
    per_addr = await svc.limiter.allow(
        f"login:addr:{address}", rate=cfg.login_attempts_per_address_per_minute / 60, burst=cfg.login_attempts_per_address_per_minute
    )
    if not per_addr:
        raise UserError("too many sign-in attempts from your address; wait a minute and try again", code="rate_limited", status=429)
    guard = login_guard(svc)
    wait, pause = await guard.wait_before(username, address)
    if wait > 0:
        raise RetryLater(f"too many failed sign-ins; try again in {math.ceil(wait)} s", retry_after=wait)
    if pause > 0:
        await asyncio.sleep(pause)  # the account is being guessed widely: answer slowly, never refuse

    def check(s: Session) -> tuple[Identity, str]:
        person = s.scalar(select(Person).where(Person.username == username))
        ok = verify_password(person.password_hash if person else None, body.password)
        if person is None or not ok or not person.active:
            raise Unauthenticated("wrong username or password", code="bad_credentials")
        lifetime = timedelta(hours=cfg.session_hours) if body.kind == "session" else timedelta(days=cfg.api_token_days)
        token = issue_token(s, person, kind=body.kind, lifetime=lifetime, label=request.headers.get("User-Agent", "")[:200])
        audit.record(s, person.id, "login", f"person:{person.id}", kind=body.kind, address=address)
        return identity_of(person), token

    # The failed attempt is audited in its own transaction: the one above rolls back.
    try:
        ident, token = await svc.db_call(check)
    except Unauthenticated:
        await guard.failed(username, address)
        await svc.db_call(lambda s: audit.record(s, None, "login.failed", f"person:{username}", address=address))
        raise
    await guard.succeeded(username, address)
    body_out: dict[str, Any] = {"person": person_json(ident)}
    if body.kind == "api":
        body_out["token"] = token
        return web.json_response(body_out)
    response = web.json_response(body_out)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=cfg.cookie_secure,
        max_age=cfg.session_hours * 3600,
        path="/",
    )
    return response


@api.route("POST", "/api/auth/logout", roles=AUTHENTICATED, summary="Sign out: revoke the token in use", tags=("auth",))
async def logout(request: web.Request) -> web.Response:
    ident = identity(request)
    svc = services(request)
    if ident.token_id is not None:
        await svc.db_call(lambda s: revoke_token(s, ident.token_id))  # type: ignore[arg-type]
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


LANGUAGES = ("kk", "ru", "en")


class LanguageBody(BaseModel):
    language: Literal["kk", "ru", "en"] | None = Field(description="kk, ru or en; null: follow the browser")


@api.route("PUT", "/api/me/language", roles=AUTHENTICATED, summary="Choose my page language (kk, ru, en, or null for the browser's)", body=LanguageBody, tags=("auth",))  # noqa: E501
async def set_language(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: LanguageBody = await parse_body(request, LanguageBody)

    def run(s: Session) -> None:
        person = s.get(Person, ident.person_id)
        if person is None:
            raise Unauthenticated("your account no longer exists")
        person.language = body.language

    await services(request).db_call(run)
    return {"language": body.language}


@api.route("GET", "/api/auth/state", roles=PUBLIC, summary="Am I signed in? {person} or {person: null}, never a 401 (pages ask this first)", tags=("auth",))  # noqa: E501
async def auth_state_route(request: web.Request) -> dict[str, Any]:
    ident = auth_state(request).identity
    return {"person": person_json(ident) if ident is not None else None}


@api.route("GET", "/api/me", roles=AUTHENTICATED, summary="Who am I", tags=("auth",), response=MeOut)
async def me(request: web.Request) -> dict[str, Any]:
    return {"person": person_json(identity(request))}


@api.route("PUT", "/api/me/password", roles=AUTHENTICATED, summary="Change my password: every other session and token of mine ends", body=OwnPasswordBody, tags=("auth",))
async def change_own_password(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: OwnPasswordBody = await parse_body(request, OwnPasswordBody)

    def change(s: Session) -> int:
        person = s.get(Person, ident.person_id)
        assert person is not None
        if not verify_password(person.password_hash, body.current_password):
            raise Forbidden("the current password is wrong", code="bad_credentials")
        revoked = replace_password(s, person, body.new_password, keep_token_id=ident.token_id)
        audit.record(s, ident.person_id, "person.password", f"person:{ident.person_id}", self_service=True,
                     tokens_revoked=revoked)
        return revoked

    return {"ok": True, "tokens_revoked": await services(request).db_call(change)}


def tokens_of(s: Session, ident: Identity) -> list[dict[str, Any]]:
    """``ident``'s own live sessions and API tokens (never anyone else's)."""
    q = select(AuthToken).where(AuthToken.person_id == ident.person_id, AuthToken.revoked_at.is_(None))
    return [
        {"id": t.id, "kind": t.kind, "label": t.label, "created_at": t.created_at.isoformat(), "expires_at": t.expires_at.isoformat()}
        for t in s.scalars(q)
        if t.expires_at > utcnow()
    ]


def issue_own_token(s: Session, ident: Identity, days: int, label: str, **detail: Any) -> str:
    """A new API bearer token of ``ident``'s own (shown once: only its digest is kept); audited."""
    person = s.get(Person, ident.person_id)
    if person is None or not person.active:
        raise Unauthenticated("your account no longer exists or is deactivated")
    token = issue_token(s, person, kind="api", lifetime=timedelta(days=days), label=label)
    audit.record(s, ident.person_id, "token.issue", f"person:{ident.person_id}", label=label, **detail)
    return token


def revoke_own_token(s: Session, ident: Identity, token_id: int, **detail: Any) -> None:
    """Revoke one of ``ident``'s own tokens (another person's is "not found", as if absent); audited."""
    row = s.get(AuthToken, token_id)
    if row is None or row.person_id != ident.person_id:
        raise NotFound(f"no token {token_id} of yours")
    revoke_token(s, token_id)
    audit.record(s, ident.person_id, "token.revoke", f"person:{ident.person_id}", token_id=token_id, **detail)


@api.route("GET", "/api/me/tokens", roles=AUTHENTICATED, summary="My live sessions and API tokens", tags=("auth",))
async def list_tokens(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    return {"tokens": await services(request).db_call(lambda s: tokens_of(s, ident))}


@api.route("POST", "/api/me/tokens", roles=AUTHENTICATED, summary="Create an API bearer token", body=TokenBody, tags=("auth",))
async def create_token(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    body: TokenBody = await parse_body(request, TokenBody)
    svc = services(request)
    return {"token": await svc.db_call(lambda s: issue_own_token(s, ident, svc.settings.auth.api_token_days, body.label))}


@api.route("DELETE", "/api/me/tokens/{token_id:\\d+}", roles=AUTHENTICATED, summary="Revoke one of my tokens", tags=("auth",))
async def delete_token(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    token_id = int(request.match_info["token_id"])
    await services(request).db_call(lambda s: revoke_own_token(s, ident, token_id))
    return {"ok": True}


@api.route("POST", "/api/me/feed-token", roles=AUTHENTICATED, summary="New secret calendar-feed URL (the old one stops working)", tags=("schedule",))
async def new_feed_token(request: web.Request) -> dict[str, Any]:
    ident = identity(request)
    svc = services(request)

    def rotate(s: Session) -> str:
        person = s.get(Person, ident.person_id)
        assert person is not None
        token = rotate_feed_token(s, person)
        audit.record(s, ident.person_id, "feed_token.rotate", f"person:{ident.person_id}")
        return token

    token = await svc.db_call(rotate)
    return {"feed_url": f"{svc.settings.effective_public_url}/feeds/{token}.ics"}


@api.route("DELETE", "/api/me/feed-token", roles=AUTHENTICATED, summary="Revoke my calendar-feed URL", tags=("schedule",))
async def delete_feed_token(request: web.Request) -> dict[str, Any]:
    ident = identity(request)

    def revoke(s: Session) -> None:
        person = s.get(Person, ident.person_id)
        assert person is not None
        revoke_feed_token(person)
        audit.record(s, ident.person_id, "feed_token.revoke", f"person:{ident.person_id}")

    await services(request).db_call(revoke)
    return {"ok": True}
