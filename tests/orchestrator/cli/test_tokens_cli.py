"""``aulacast tokens list|issue|revoke --as USER``: a person's own tokens, as /api/me/tokens keeps them."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.auth import resolve_token
from orchestrator.config import load_settings
from orchestrator.store.db import Database
from orchestrator.store.models import AuthToken
from tests.orchestrator.cli.conftest import Aulacast


def _db(aulacast: Aulacast) -> Database:
    return Database.from_url(load_settings(str(aulacast.config)).effective_database_url)


def test_issue_list_revoke_own_token(aulacast: Aulacast) -> None:
    run = aulacast("tokens", "issue", "--as", "dana", "--label", "grades script")
    token = run.ok().strip()
    assert token.startswith("aca_") and "shown only now" in run.err
    db = _db(aulacast)
    try:
        with db.session() as s:
            assert resolve_token(s, token).username == "dana"  # a working bearer token of hers
            (row,) = s.scalars(select(AuthToken).where(AuthToken.label == "grades script"))
            tid = row.id
        listed = aulacast("tokens", "list", "--as", "dana", "--json").json()["tokens"]
        assert [(t["id"], t["kind"], t["label"]) for t in listed] == [(tid, "api", "grades script")]
        assert "grades script" in aulacast("tokens", "list", "--as", "dana").ok()
        assert aulacast("tokens", "revoke", "--as", "dana", str(tid)).ok() == f"token {tid} of dana revoked\n"
        assert aulacast("tokens", "list", "--as", "dana", "--json").json()["tokens"] == []
        entries = aulacast.audit(2)
        assert [(e["action"], e["actor"], e["detail"].get("via")) for e in entries] == [
            ("token.revoke", "dana", "cli"), ("token.issue", "dana", "cli")]
        assert token not in str(entries)  # the secret is never kept
    finally:
        db.engine.dispose()


def test_nobody_touches_another_persons_token(aulacast: Aulacast) -> None:
    aulacast("tokens", "issue", "--as", "dana").ok()
    (mine,) = aulacast("tokens", "list", "--as", "dana", "--json").json()["tokens"]
    assert aulacast("tokens", "list", "--as", "aigerim", "--json").json()["tokens"] == []
    # another person's token is "not found", as if it did not exist, whoever asks (even an admin)
    for who in ("aigerim", "root"):
        assert aulacast("tokens", "revoke", "--as", who, str(mine["id"])).refused() == \
            f"aulacast: error: no token {mine['id']} of yours"
    assert len(aulacast("tokens", "list", "--as", "dana", "--json").json()["tokens"]) == 1
    assert aulacast("tokens", "list").code == 2  # whose tokens: --as is required
    assert "no person 'ghost'" in aulacast("tokens", "issue", "--as", "ghost").refused()
