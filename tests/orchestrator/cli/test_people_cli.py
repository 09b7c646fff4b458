"""``aulacast people list|add|roles|password``: /api/people at the command line, same functions and policy."""

from __future__ import annotations

import pytest

from tests.orchestrator.cli.conftest import PASSWORD, Aulacast


def test_list_shows_what_the_person_may_see(aulacast: Aulacast) -> None:
    everyone = {p["username"]: p for p in aulacast("people", "list", "--json").json()["people"]}
    assert {"aigerim", "dana", "madina", "reg", "root"} <= set(everyone) and everyone["madina"]["email"]
    # a tutor: their own students with addresses, colleagues without, other groups' students not at all
    seen = {p["username"]: p for p in aulacast("people", "list", "--as", "nurlan", "--json").json()["people"]}
    assert seen["dana"]["email"] and seen["aigerim"]["email"] is None and "madina" not in seen
    tutors = aulacast("people", "list", "--role", "tutor").ok()
    assert "aigerim" in tutors and "dana" not in tutors
    assert "GET /api/people needs one of the roles" in aulacast("people", "list", "--as", "dana").refused()


def test_add_change_roles_and_set_a_password_audited(aulacast: Aulacast, monkeypatch: pytest.MonkeyPatch) -> None:
    out = aulacast("people", "add", "--as", "reg", "maria", "--name", "Maria Ivanova", "--roles", "student",
                   "--email", "maria@example.edu").ok()  # fmt: skip
    assert out.startswith("created maria (id ")
    row = aulacast("people", "roles", "--as", "root", "maria", "student", "committee", "--json").json()["person"]
    assert row["roles"] == ["committee", "student"]
    monkeypatch.setenv("NEW_PW", "a-new-password-for-maria")
    assert "password of maria set" in aulacast("people", "password", "--as", "root", "maria", "--password-env", "NEW_PW").ok()
    entries = aulacast.audit(5)
    assert [(e["action"], e["actor"], e["detail"].get("via")) for e in entries[:3]] == [
        ("person.password", "root", "cli"), ("person.roles", "root", "cli"), ("person.create", "reg", "cli")]
    assert entries[1]["detail"]["before"] == ["student"] and entries[1]["detail"]["after"] == ["committee", "student"]


def test_refusals_name_the_policys_reason(aulacast: Aulacast, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEW_PW", PASSWORD)
    before = len(aulacast.audit(50))
    assert aulacast("people", "add", "--as", "reg", "boss", "--name", "Boss", "--roles", "admin").refused() == \
        "aulacast: error: only an admin grants the admin role"
    assert "POST /api/people needs one of the roles" in aulacast(
        "people", "add", "--as", "aigerim", "x1", "--name", "X", "--roles", "student").refused()
    assert aulacast("people", "roles", "--as", "reg", "nurlan", "tutor").refused() == \
        "aulacast: error: only an admin changes the roles of a staff account"
    assert "roles.1" in aulacast("people", "roles", "--as", "root", "dana", "student,bogus").refused()
    assert "needs one of the roles: admin" in aulacast(
        "people", "password", "--as", "reg", "dana", "--password-env", "NEW_PW").refused()
    assert "no person 'ghost'" in aulacast("people", "password", "--as", "root", "ghost", "--password-env", "NEW_PW").refused()
    assert "username" in aulacast("people", "add", "--as", "reg", "Bad Name", "--name", "X", "--roles", "student").refused()
    assert "say who does this" in aulacast("people", "add", "--as", "", "x2", "--name", "X", "--roles", "student").refused()
    assert aulacast("people", "add", "x2", "--name", "X", "--roles", "student").code == 2  # --as is required
    assert len(aulacast.audit(50)) == before  # nothing refused was written


def test_a_disabled_account_does_nothing(aulacast: Aulacast) -> None:
    from sqlalchemy import select

    from orchestrator.config import load_settings
    from orchestrator.store.db import Database
    from orchestrator.store.models import Person

    db = Database.from_url(load_settings(str(aulacast.config)).effective_database_url)
    try:
        with db.session() as s:
            s.scalar(select(Person).where(Person.username == "reg")).active = False
    finally:
        db.engine.dispose()
    assert aulacast("people", "add", "--as", "reg", "maria", "--name", "M", "--roles", "student").refused() == \
        "aulacast: error: reg's account is disabled"
    assert "reg's account is disabled" in aulacast("people", "list", "--as", "reg").refused()
