"""``aulacast jobs list|show|wait|worker`` against a real database: what an operator sees, and plain refusals."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.jobs.models import Job
from orchestrator.store.db import Database
from orchestrator.store.types import utcnow


@pytest.fixture
def cfg(tmp_path: Path) -> tuple[Path, Database]:
    path = tmp_path / "aulacast.toml"
    path.write_text(f'data_dir = "{tmp_path / "var"}"\nsecret_key = "test-secret-key-not-for-production"\n')
    (tmp_path / "var").mkdir()
    db = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'aulacast.db'}")
    db.upgrade()
    now = utcnow()
    with db.session() as s:
        s.add(Job(id="a" * 32, kind="compose", key="k1", args={}, status="done", progress=1.0, stage="done",
                  attempts=2, result={"asset_id": 5}, created_at=now, updated_at=now, session_id=3))  # fmt: skip
        s.add(Job(id="b" * 32, kind="verify", key="k2", args={}, status="failed", progress=0.2, stage="failed",
                  attempts=1, error="recording folder /x does not exist", created_at=now, updated_at=now))  # fmt: skip
        s.add(Job(id="c" * 32, kind="compose", key="k3", args={}, status="running", progress=0.4, stage="compose",
                  attempts=1, created_at=now, updated_at=now))  # fmt: skip
    yield path, db
    db.engine.dispose()


def test_list_and_show(cfg, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path, _ = cfg
    assert main(["--config", str(path), "jobs", "list"]) == 0
    out = capsys.readouterr().out
    assert (
        "aaaaaaaaaaaa compose  done       100.0%" in out and "cccccccccccc compose  running     40.0%" in out
    )
    assert main(["--config", str(path), "jobs", "list", "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "bbbbbbbbbbbb" in out and "aaaa" not in out
    assert main(["--config", str(path), "jobs", "show", "aaaa"]) == 0
    assert '"asset_id": 5' in capsys.readouterr().out


def test_wait_draws_progress_until_the_end(cfg, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path, db = cfg

    def finish() -> None:
        time.sleep(1.2)
        with db.session() as s:
            job = s.get(Job, "c" * 32)
            job.progress, job.stage = 0.8, "archive"
        time.sleep(1.2)
        with db.session() as s:
            job = s.get(Job, "c" * 32)
            job.status, job.progress, job.stage, job.result = "done", 1.0, "done", {"asset_id": 9}

    t = threading.Thread(target=finish)
    t.start()
    assert main(["--config", str(path), "jobs", "wait", "c" * 32]) == 0
    t.join()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[############..................]  40.0%  running compose")
    assert any("80.0%  running archive" in line for line in lines)
    assert lines[-2].startswith("[##############################] 100.0%  done")
    assert lines[-1] == '{"asset_id": 9}'


def test_wait_on_a_failed_job_says_why(cfg, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path, _ = cfg
    assert main(["--config", str(path), "jobs", "wait", "bbbb"]) == 1
    assert capsys.readouterr().err.strip() == "failed: recording folder /x does not exist"


def test_refusals_are_one_line(cfg, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path, _ = cfg
    assert main(["--config", str(path), "jobs", "show", "zzz"]) == 2
    assert "is not a job id" in capsys.readouterr().err
    assert main(["--config", str(path), "jobs", "show", "d"]) == 2
    assert capsys.readouterr().err.strip() == "aulacast: error: no job d"
    assert main(["--config", str(path), "jobs", "wait", "cccc", "--timeout", "0.6"]) == 2
    assert "still running after 0.6 s" in capsys.readouterr().err
    assert main(["--config", str(path), "jobs", "worker"]) == 2
    assert "set redis_url" in capsys.readouterr().err
