"""Every process logs one JSON object per line: a media worker started by the service, too (docs/operator.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import worker
from orchestrator.config import load_settings
from orchestrator.rooms import make_media_server
from orchestrator.services import Services
from tests.helpers.support import REPO


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a worker's stderr line is not JSON: {line!r}")
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    return records


def test_a_media_worker_started_through_the_orchestrator_logs_json_lines() -> None:
    """A request that fails inside the worker logs its traceback inside one JSON object."""
    requests = '{"id": 1, "method": "stats", "params": {}}\n{"id": 2, "method": "join", "params": {}}\n'
    done = subprocess.run([sys.executable, *worker.launcher("media.live.workers", "INFO"), "--config", "{}"],
                          input=requests, capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert replies[0]["id"] == 1 and "result" in replies[0] and replies[1]["error"]["code"] == "internal"
    records = _json_lines(done.stderr)
    assert any(r["msg"].startswith("media worker") and r["level"] == "info" for r in records)
    failed = [r for r in records if r["msg"] == "media call join failed"]
    assert len(failed) == 1 and "KeyError" in failed[0]["exc"] and failed[0]["level"] == "error"


def test_a_refusing_worker_says_why_in_json() -> None:
    code = "import aioice.ice, sys\ndel aioice.ice.CONSENT_FAILURES\nfrom orchestrator import worker\nworker.main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, "--log-level", "INFO", "media.live.workers", "--config", "{}"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert done.returncode == 78
    (record,) = _json_lines(done.stderr)
    assert record["level"] == "critical" and "aioice.ice.CONSENT_FAILURES is gone" in record["msg"]


async def test_the_service_starts_its_media_workers_with_the_json_setup(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\nmedia_workers = 1\nlog_level = "INFO"\n')
    pool = make_media_server(Services.build(load_settings(cfg)))
    await pool.start()
    try:
        assert (await pool.stats(0))["pid"] == pool.pid(0)
    finally:
        await pool.close()
    records = _json_lines(capfd.readouterr().err)
    assert any(r["logger"] == "media.live.workers" and "started" in r["msg"] for r in records)


def test_only_known_workers_are_started() -> None:
    with pytest.raises(ValueError, match="unknown worker"):
        worker.launcher("os", "INFO")
