"""Signed, expiring archive URLs: ``/archive/{scope}/{asset}/{viewer}.{expires}.{mac}/{file}``.

    signer = UrlSigner(settings.signing_key())
    url = signer.url("play", 12, viewer=7, expires=now + 3600, file="hls/index.m3u8")
    signer.check("play", 12, token)      # -> viewer id, or raises BadSignature / ExpiredSignature

The token signs the scope (``play`` or ``download``), the asset and the viewer,
not the file: an HLS playlist names its segments relatively, so every file
under one token's prefix is covered by it and no playlist is rewritten. The MAC
is HMAC-SHA256 under a key derived from the node's secret for this use only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from orchestrator.errors import Forbidden

SCOPES = ("play", "download")
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


class BadSignature(Forbidden):
    code = "bad_signature"


class ExpiredSignature(Forbidden):
    code = "expired_url"


class UrlSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"aulacast archive url v1", hashlib.sha256).digest()

    def _mac(self, scope: str, asset_id: int, viewer: int, expires: int) -> str:
        msg = f"{scope}\n{asset_id}\n{viewer}\n{expires}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, msg, hashlib.sha256).digest()).decode().rstrip("=")

    def token(self, scope: str, asset_id: int, *, viewer: int | None, expires: int) -> str:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        who = viewer or 0  # 0: an anonymous reader of a public asset
        return f"{who}.{expires}.{self._mac(scope, asset_id, who, expires)}"

    def url(self, scope: str, asset_id: int, *, viewer: int | None, expires: int, file: str) -> str:
        return f"/archive/{scope}/{asset_id}/{self.token(scope, asset_id, viewer=viewer, expires=expires)}/{file}"

    def check(self, scope: str, asset_id: int, token: str, *, now: float) -> int:
        """The viewer id the token was issued to; ``BadSignature`` or ``ExpiredSignature`` otherwise."""
        m = _TOKEN.match(token)
        if m is None or scope not in SCOPES:
            raise BadSignature("this archive link is malformed; open the recording from the archive again")
        viewer, expires, mac = int(m[1]), int(m[2]), m[3]
        if not hmac.compare_digest(mac, self._mac(scope, asset_id, viewer, expires)):
            raise BadSignature("this archive link's signature is not valid; open the recording from the archive again")
        if expires < now:
            raise ExpiredSignature("this archive link has expired; open the recording from the archive again")
        return viewer
