"""TURN REST credentials (coturn ``use-auth-secret``) and the ICE server list handed to clients.

Usage::

    servers = ice_servers(TurnConfig(secret=s, urls=["turn:turn.example.org:3478?transport=udp"]),
                          user_id="alice", now=time.time())
    # -> [IceServer(urls=[...stun...]), IceServer(urls=[...turn...], username="1767225600:alice", credential="...")]

coturn with ``use-auth-secret`` + ``static-auth-secret`` accepts any username of
the form ``<expiry unix time>:<user id>`` whose password is
``base64(HMAC-SHA1(secret, username))`` until that expiry (the TURN REST API
draft, draft-uberti-behave-turn-rest-00). The service and coturn share only
the secret; nothing per user is stored, and a leaked credential dies by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from media.errors import MediaError
from media.live.types import IceServer


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


@dataclass(frozen=True)
class TurnConfig:
    """Where clients find STUN/TURN, and the secret shared with coturn's static-auth-secret."""

    secret: str = ""
    urls: list[str] = field(default_factory=list)  # turn:/turns: URLs (udp, tcp, tls)
    stun_urls: list[str] = field(default_factory=list)
    ttl_seconds: int = 6 * 3600  # long enough for a defense and its overrun


def turn_credential(secret: str, user_id: str, now: float, ttl_seconds: int) -> TurnCredential:
    """Return a time-limited TURN username/password that coturn verifies with the shared secret."""
    if not secret:
        raise MediaError("TURN secret is empty: set the same value as coturn's static-auth-secret")
    if ":" in user_id:
        raise MediaError(f"TURN user id {user_id!r} must not contain ':' (it separates expiry and user)")
    if ttl_seconds <= 0:
        raise MediaError(f"TURN credential lifetime must be positive, got {ttl_seconds} s")
    expires_at = int(now) + ttl_seconds
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires_at)


def ice_servers(config: TurnConfig, user_id: str, now: float) -> list[IceServer]:
    """The ICE server list for one client: STUN entries as configured, TURN with fresh credentials.

    An empty configuration yields an empty list (host candidates only), never a public STUN server.
    """
    for url in config.urls:
        if not url.startswith(("turn:", "turns:")):
            raise MediaError(f"TURN url {url!r} must start with turn: or turns:")
    for url in config.stun_urls:
        if not url.startswith("stun:"):
            raise MediaError(f"STUN url {url!r} must start with stun:")
    servers: list[IceServer] = []
    if config.stun_urls:
        servers.append(IceServer(urls=list(config.stun_urls)))
    if config.urls:
        cred = turn_credential(config.secret, user_id, now, config.ttl_seconds)
        servers.append(IceServer(urls=list(config.urls), username=cred.username, credential=cred.credential))
    return servers
