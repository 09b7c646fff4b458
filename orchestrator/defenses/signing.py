"""The institution's Ed25519 key: it signs defense protocols and the audit chain's anchors.

    key = signing_key(settings)             # made once in the data folder (0600), or the configured file
    env = sign(doc, key)                    # {"protocol"|"anchor": doc, "signature": {alg, key_id, value}}
    doc = verify_envelope(env, "protocol", [public_key])   # raises Invalid naming what is wrong

What is signed is the canonical JSON of the document (keys sorted, no spaces, UTF-8, no NaN):
any reader can rebuild the exact bytes from the parsed JSON. The public key is published at
``/.well-known/aulacast/protocol-key`` so a protocol can be checked offline with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from orchestrator.config import Settings
from orchestrator.errors import UserError


class Invalid(UserError):
    """A signed document that does not verify; the message says how."""

    code = "invalid_signature"
    status = 422
    exit_code = 1


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def key_path(settings: Settings) -> Path:
    return settings.protocol_key_file or settings.data_dir / "protocol-ed25519.pem"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = key_path(settings)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise UserError(f"{path} does not hold an Ed25519 private key", code="config")
        return key
    if settings.protocol_key_file is not None:
        raise UserError(f"protocol_key_file {path} does not exist", code="config")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    try:
        os.link(tmp, path)  # never replace a key another process made meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return signing_key(settings)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM, or from the JSON the well-known URL serves."""
    data = text.encode() if isinstance(text, str) else text
    try:
        if data.lstrip().startswith(b"{"):
            data = json.loads(data)["pem"].encode()
        key = serialization.load_pem_public_key(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"not an Ed25519 public key (PEM or the well-known JSON): {exc}", code="bad_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError("the key is not an Ed25519 public key", code="bad_key")
    return key


def sign(kind: str, doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    value = key.sign(canonical({kind: doc}))
    return {kind: doc, "signature": {"alg": "Ed25519", "key_id": key_id(key.public_key()),
                                     "value": base64.b64encode(value).decode()}}


def verify_envelope(env: Any, kind: str, keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    """The signed document, or Invalid saying what is wrong (no signature, unknown key, altered)."""
    if not isinstance(env, dict) or not isinstance(env.get(kind), dict) or not isinstance(env.get("signature"), dict):
        raise Invalid(f"not a signed {kind}: expected {{{kind!r}: ..., 'signature': ...}}")
    sig = env["signature"]
    if sig.get("alg") != "Ed25519":
        raise Invalid(f"unsupported signature algorithm {sig.get('alg')!r}")
    known = {key_id(k): k for k in keys}
    key = known.get(str(sig.get("key_id")))
    if key is None:
        raise Invalid(f"signed by key {sig.get('key_id')!r}, which is not the institution's "
                      f"({', '.join(known) or 'no key given'}): forged or from elsewhere")
    try:
        key.verify(base64.b64decode(str(sig.get("value")), validate=True), canonical({kind: env[kind]}))
    except (InvalidSignature, ValueError):
        raise Invalid(f"the signature does not match the {kind}'s content: it was altered after signing") from None
    return env[kind]
