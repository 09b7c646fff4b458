"""The store on SQLite and PostgreSQL: migrations, revision checks, once-only transitions, audit chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from orchestrator import audit
from orchestrator.auth import create_person
from orchestrator.store.db import Database, SchemaError
from orchestrator.store.models import AuditEntry, SessionRecord, Transition


def test_upgrade_and_check(db_url: str) -> None:
    db = Database.from_url(db_url)
    with pytest.raises(SchemaError, match="aulacast db upgrade"):
        db.check_revision()
    db.upgrade()
    db.check_revision()
    assert db.current_revision() == db.head_revision()
    db.upgrade()  # idempotent


def test_unknown_revision_refused(db_url: str) -> None:
    db = Database.from_url(db_url)
    db.upgrade()
    with db.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(SchemaError, match="newer version"):
        db.check_revision()
    with pytest.raises(SchemaError, match="ffff_from_the_future"):
        db.upgrade()


def test_times_are_aware_utc_and_transitions_once(db_url: str) -> None:
    db = Database.from_url(db_url)
    db.upgrade()
    start = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    with db.session() as s:
        row = SessionRecord(key="k1", kind="consultation", title="t", start_at=start, end_at=start + timedelta(hours=1))
        s.add(row)
        s.flush()
        sid = row.id
        s.add(Transition(session_id=sid, from_status="planned", to_status="open", node="n1"))
    with db.session() as s:
        got = s.get(SessionRecord, sid)
        assert got is not None and got.start_at == start and got.start_at.tzinfo is not None
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Transition(session_id=sid, from_status="planned", to_status="open", node="n2"))
    with db.session() as s:
        assert s.query(Transition).count() == 1
    with pytest.raises(StatementError, match="naive datetime"), db.session() as s:
        s.add(SessionRecord(key="k2", kind="x", title="t", start_at=datetime(2026, 1, 1), end_at=start))
        s.flush()


def test_audit_chain_detects_tampering(db_url: str) -> None:
    db = Database.from_url(db_url)
    db.upgrade()
    with db.session() as s:
        p = create_person(s, username="ada", display_name="Ada", roles=["admin"], password="0123456789abc")
        for i in range(3):
            audit.record(s, p.id, "grade.enter", f"result:{i}", points=80 + i)
    with db.session() as s:
        assert audit.verify_chain(s) is None
        second = s.query(AuditEntry).order_by(AuditEntry.id).all()[1]
        second.detail = {"points": 100}
    with db.session() as s:
        assert audit.verify_chain(s) == second.id
