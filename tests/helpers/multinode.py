"""Service nodes as real processes sharing a private Redis, for the multi-node and node-crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.helpers.rooms import RoomClient, World
from tests.helpers.support import wait_for


def _ping(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


@dataclass
class PrivateRedis:
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        assert wait_for(lambda: _ping(self.port), 10), "redis-server did not start"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def write_config(tmp_path: Path, port: int, redis_url: str) -> Path:
    cfg = tmp_path / f"node{port}.toml"
    cfg.write_text("\n".join([
        f'data_dir = "{tmp_path / "var"}"', f"port = {port}", 'secret_key = "multinode-test-key"',
        f'redis_url = "{redis_url}"', "scheduler_enabled = false", "media_workers = 1", 'log_level = "WARNING"',
    ]) + "\n")  # fmt: skip
    return cfg


def start_node(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AULACAST_CONFIG": str(cfg), "AULACAST_ICE__HOST_ADDRESSES": '["127.0.0.1"]'}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


@dataclass
class Nodes:
    """Two service processes and their private Redis, started once for this module."""

    ports: list[int]
    procs: list[subprocess.Popen[bytes]]
    redis: PrivateRedis
    logs: list[Path]
    seeded: dict

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@dataclass
class Cluster:
    nodes: list[World]
    procs: list[subprocess.Popen[bytes]]
    redis: PrivateRedis
    info: Nodes

    def log_text(self) -> str:
        return self.info.log_text()


async def enter(world: World, username: str, session_id: int) -> RoomClient:
    c = await world.socket(username, session_id)
    await c.wait_for("welcome")
    return c
