"""Settings: TOML file, environment overrides, masked secrets, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import load_settings, render_settings
from orchestrator.errors import ConfigError


def test_defaults_need_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.effective_database_url.startswith("sqlite:///var/")
    assert s.redis_url is None


def test_file_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('port = 9000\nredis_url = "redis://:hunter2@127.0.0.1:6379/0"\n[lifecycle]\nlobby_minutes = 5\n')
    monkeypatch.setenv("AULACAST_LIFECYCLE__LOBBY_MINUTES", "20")
    s = load_settings(cfg)
    assert s.port == 9000
    assert s.lifecycle.lobby_minutes == 20
    out = render_settings(s)
    assert "hunter2" not in out and "********" in out


def test_database_password_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('database_url = "postgresql://app:s3cret@db/aulacast"\n')
    out = render_settings(load_settings(cfg))
    assert "s3cret" not in out


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("port = 'abc'\n", "setting 'port'"),
        ("colour = 1\n", "unknown setting 'colour'"),
        ("[lifecycle]\nlobby_minutes = -3\n", "setting 'lifecycle.lobby_minutes'"),
        ("port = \n", "malformed TOML"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, body: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_cli_config_show_masks_and_fails_cleanly(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('secret_key = "topsecretvalue"\n')
    ok = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(cfg), "config", "show"],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "topsecretvalue" not in ok.stdout and "secret_key" in ok.stdout
    cfg.write_text("port = 'x'\n")
    bad = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(cfg), "config", "show"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode != 0
    assert bad.stderr.strip().count("\n") == 0 and "port" in bad.stderr
    assert "Traceback" not in bad.stderr
