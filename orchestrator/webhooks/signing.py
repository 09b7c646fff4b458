"""Signing like LiveKit's webhooks: the Authorization header is a JWT carrying the body's SHA-256.

    token = sign(body, secret, issuer="aulacast")     # HS256; claims iss, sha256 (base64), iat, nbf, exp
    verify(token, body, secret, issuer="aulacast")    # the claims, or WebhookSignatureError

The receiver checks the token with the shared secret and compares the claim
with the SHA-256 of the body it received, so a changed body or a token made
without the secret is refused. A fresh token is made at every attempt; ``exp``
limits how long a captured request can be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import jwt

TOKEN_SECONDS = 600
LEEWAY_SECONDS = 30


class WebhookSignatureError(ValueError):
    """A request whose token is missing, expired, not ours, or does not match its body."""


def body_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(body: bytes, secret: str, *, issuer: str = "aulacast", now: float | None = None) -> str:
    t = int(time.time() if now is None else now)
    claims = {"iss": issuer, "sha256": body_hash(body), "iat": t, "nbf": t, "exp": t + TOKEN_SECONDS}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str, body: bytes, secret: str, *, issuer: str = "aulacast") -> dict[str, Any]:
    if not token:
        raise WebhookSignatureError("no Authorization header")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer, leeway=LEEWAY_SECONDS,
                            options={"require": ["iss", "sha256", "exp"]})  # fmt: skip
    except jwt.InvalidTokenError as exc:
        raise WebhookSignatureError(f"bad token: {exc}") from None
    if claims["sha256"] != body_hash(body):
        raise WebhookSignatureError("the body does not match the token's sha256")
    return claims
