"""Real ``aulacast jobs worker`` processes for the queue tests and bench/job_queue.py.

cfg = write_config(tmp, redis_url, lease_seconds=4)
with WorkerProcess(cfg, tmp / "w1.log") as w1, WorkerProcess(cfg, tmp / "w2.log") as w2:
    ...   w1.pid, w1.kill()   (SIGKILL), left processes are stopped on exit
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def write_config(folder: Path, redis_url: str, **jobs: Any) -> Path:
    """A settings file: this folder's SQLite database and media, the given Redis, ``[jobs]`` overrides."""
    lines = [f'data_dir = "{folder / "var"}"', f'redis_url = "{redis_url}"', 'secret_key = "test-secret-key-not-for-production"',
             "scheduler_enabled = false", 'log_level = "INFO"', "", "[jobs]"]  # fmt: skip
    for key, value in jobs.items():
        lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    path = folder / "aulacast.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class WorkerProcess:
    """One ``aulacast jobs worker`` subprocess, started and waited for until it takes jobs."""

    def __init__(self, config: Path, log: Path, *, ready_within: float = 60) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("AULACAST_")}
        self._fh = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "--config", str(config), "jobs", "worker"],
                                     cwd=ROOT, env=env, stdout=self._fh, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + ready_within
        while b"taking jobs" not in log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._fh.close()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def owner_pid(owner: str | None) -> int | None:
    """The process id in a job's owner (``host:pid/thread``)."""
    if not owner:
        return None
    return int(owner.split("/")[0].rsplit(":", 1)[1])
