"""Issue 13 §4: every error code the server can send a person has a message in kk, ru and en.

The pages show a refusal by its code (common.js errorText: catalogue key ``error.<code>``), the
server's English words only for a code the catalogues do not know. So the codes are collected from
the Python sources the way they are written there, and each must be in web/static/i18n/errors/.
"""

from __future__ import annotations

import json
import re

from signaling.protocol import ERROR_CODES
from tests.helpers.support import REPO

ERRORS = REPO / "web" / "static" / "i18n" / "errors"
LANGS = ("kk", "ru", "en")
# how a code is written where an error is raised: UserError(..., code="x") and class attributes
# `code = "x"`; ProtocolError("x", ...); ConnectionRefused via _refused("x", ...); error_body("x", ...);
# a literal {"code": "x"} body; GrantError(msg, "x") and ChatRefused(msg, "x") with the code last
PATTERNS = (
    re.compile(r'\bcode\s*=\s*"([a-z_]+)"'),
    re.compile(r'\b(?:ProtocolError|_refused|error_body)\(\s*"([a-z_]+)"'),
    re.compile(r'"code":\s*"([a-z_]+)"'),
    re.compile(r'\b(?:GrantError|ChatRefused)\((?:[^()]|\([^()]*\))*?,\s*"([a-z_]+)",?\s*\)', re.S),
)
# set at run time, not spelled in the sources: an upload's status as its code (api/uploads.py _gone),
# and the room page's own "no answer in time" (room.js emit)
DYNAMIC = {"cancelled", "expired", "timeout"}


def server_codes() -> set[str]:
    codes = set(ERROR_CODES) | DYNAMIC
    for package in ("orchestrator", "signaling"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in PATTERNS:
                codes.update(pattern.findall(text))
    return codes


def test_the_collector_finds_the_codes_of_each_kind_of_raise() -> None:
    """A pattern that stopped matching would let new codes go unchecked: one known code per pattern."""
    codes = server_codes()
    assert {"not_participant", "invalid_roster", "too_many_connections", "wrong_session", "too_long",
            "unknown_event", "not_found", "rate_limited"} <= codes  # fmt: skip
    assert len(codes) > 80


def test_every_server_error_code_has_a_message_in_each_language() -> None:
    codes = server_codes()
    for lang in LANGS:
        catalogue = json.loads((ERRORS / f"{lang}.json").read_text(encoding="utf-8"))
        missing = sorted(c for c in codes if not catalogue.get(f"error.{c}", "").strip())
        assert missing == [], (lang, missing)


def test_the_kazakh_and_russian_messages_are_not_the_servers_english() -> None:
    """English may quote the server's own words ({detail}); kk and ru must say it in their language."""
    for lang in ("kk", "ru"):
        catalogue = json.loads((ERRORS / f"{lang}.json").read_text(encoding="utf-8"))
        bare = sorted(k for k, v in catalogue.items() if v.strip() == "{detail}")
        assert bare == [], (lang, bare)
        assert all(re.search(r"[а-яәіңғүұқөһ]", v, re.I) for v in catalogue.values()), lang
