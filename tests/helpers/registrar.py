"""The registrar's CLI run as a real subprocess against a throwaway data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.support import REPO

CALENDAR = REPO / "examples" / "calendar-kz-2026-2027.yaml"
DEMO = REPO / "orchestrator" / "demo_data"


def cli(tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "aulacast.toml"
    if not cfg.exists():
        cfg.write_text(f'data_dir = "{tmp_path / "var"}"\nsecret_key = "registrar-flow-key"\n'
                       'public_url = "https://portal.example.edu"\ninstitution_domain = "example.edu"\n')
    env = {**os.environ, "AULACAST_CONFIG": str(cfg)}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, input=input, timeout=120)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr
    return res.stdout


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    return res.stderr.strip().splitlines()[-1]
