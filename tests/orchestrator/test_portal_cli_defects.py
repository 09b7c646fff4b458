"""Issue 13 §1.8 at the command line: where the data goes is said, alembic stays quiet, §29 once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.helpers.registrar import cli, ok


def test_a_new_database_says_where_it_is(tmp_path: Path) -> None:
    res = cli(tmp_path, "db", "upgrade")
    ok(res)
    assert f"creating a new SQLite database at {tmp_path / 'var' / 'aulacast.db'}" in res.stderr
    assert "creating a new" not in cli(tmp_path, "db", "upgrade").stderr  # only when it is created


def test_upgrade_keeps_alembic_info_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from orchestrator.store.db import Database

    db = Database.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    with caplog.at_level(logging.INFO):
        db.upgrade()
    alembic = [r for r in caplog.records if r.name.startswith("alembic") and r.levelno < logging.WARNING]
    assert alembic == []
    assert any("database schema upgraded from empty to" in r.getMessage() for r in caplog.records)


def test_plan_says_section_29_once(institution: Path) -> None:
    out = ok(cli(institution, "plan", "--dry-run")) if "--dry-run" in ok(cli(institution, "plan", "--help")) else ok(cli(institution, "plan"))
    for line in out.splitlines():
        assert line.count("§29") <= 1, line
