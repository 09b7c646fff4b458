"""An institution (the demo roster, calendar and curriculum, and an admin ``root``) for the staff commands,
on SQLite and on PostgreSQL, driven through ``aulacast``'s own entry point in this process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import main
from tests.helpers.registrar import CALENDAR, DEMO

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def ok(self) -> str:
        assert self.code == 0, self.err
        return self.out

    def refused(self) -> str:
        """The one-line refusal of a UserError: exit status 2, no traceback."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("aulacast: error: "), self.err
        return lines[0]

    def json(self) -> Any:
        return json.loads(self.ok())


@dataclass
class Aulacast:
    config: Path
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> Run:
        self.capsys.readouterr()
        try:
            code = main(["--config", str(self.config), *args])
        except SystemExit as exc:  # argparse: a missing or bad argument
            code = int(exc.code or 0)
        cap = self.capsys.readouterr()
        return Run(code, cap.out, cap.err)

    def audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest audit entries, newest first, each with the ``actor``'s username."""
        out = self("audit", "log", "--as", "root", "--limit", str(limit), "--json").json()
        assert out["intact"] is True
        return list(out["entries"])


@pytest.fixture(params=["sqlite", "postgres"])
def aulacast(request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> Aulacast:
    config = tmp_path / "aulacast.toml"
    lines = [f'data_dir = "{tmp_path / "var"}"', 'secret_key = "staff-cli-test-key"',
             'public_url = "https://portal.example.edu"', 'institution_domain = "example.edu"']
    if request.param == "postgres":
        lines.append(f'database_url = "{request.getfixturevalue("pg_schema_url")}"')
    config.write_text("\n".join(lines) + "\n")
    run = Aulacast(config, capsys)
    monkeypatch.setenv("STAFF_CLI_PASSWORD", PASSWORD)
    run("db", "upgrade").ok()
    run("roster", "import", str(DEMO / "roster.csv")).ok()
    run("calendar", "import", str(CALENDAR)).ok()
    run("curriculum", "import", str(DEMO / "curriculum.yaml")).ok()
    run("admin", "create", "root", "--password-env", "STAFF_CLI_PASSWORD").ok()
    return run
