"""Fixtures of the orchestrator's tests: an institution loaded through the registrar's CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.registrar import CALENDAR, DEMO, cli, ok


@pytest.fixture
def institution(tmp_path: Path) -> Path:
    ok(cli(tmp_path, "db", "upgrade"))
    ok(cli(tmp_path, "roster", "import", str(DEMO / "roster.csv")))
    ok(cli(tmp_path, "calendar", "import", str(CALENDAR)))
    ok(cli(tmp_path, "curriculum", "import", str(DEMO / "curriculum.yaml")))
    return tmp_path
