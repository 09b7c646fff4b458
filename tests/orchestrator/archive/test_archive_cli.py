"""``aulacast archive`` as the operator runs it: a real subprocess, one-line errors, exit codes that mean something."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.archive import Media
from tests.helpers.registrar import cli, ok, one_line_error

pytestmark = pytest.mark.slow


def test_import_verify_hold_retention(tmp_path: Path, media: Media) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    out = ok(cli(tmp_path, "archive", "import", str(media.lecture), "--title", "Databases, lecture 1",
                 "--date", "2020-01-10", "--description", "normal forms"))  # fmt: skip
    assert "archived lecture.mp4 as item 1" in out
    assert "archived before, as item 1" in ok(cli(tmp_path, "archive", "import", str(media.lecture), "--title", "x"))
    out = ok(cli(tmp_path, "archive", "verify"))
    assert "0 missing, 0 corrupt" in out
    # Rot one blob and lose another: verify names both and fails.
    blobs = sorted((tmp_path / "var" / "media" / "archive" / "sha256").glob("*/*/*"), key=lambda p: p.stat().st_size)
    victim, lost = blobs[-1], blobs[0]
    os.chmod(victim, 0o644)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    lost.unlink()
    res = cli(tmp_path, "archive", "verify")
    assert res.returncode == 1
    assert "corrupt (hashes to" in res.stdout and str(victim) in res.stdout
    assert f"missing: {lost}" in res.stdout and "1 missing, 1 corrupt" in res.stdout
    # Lectures are kept for good by default; the hold and its release are audited either way.
    assert "0 item(s) deleted" in ok(cli(tmp_path, "archive", "retention"))
    assert "under legal hold" in ok(cli(tmp_path, "archive", "hold", "1", "--reason", "complaint 12"))
    assert "no longer held" in ok(cli(tmp_path, "archive", "release", "1"))


def test_retention_by_kind_and_hold_from_the_cli(tmp_path: Path, media: Media) -> None:
    cfg = tmp_path / "aulacast.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "var"}"\nsecret_key = "k"\n[archive.retention_days]\nlecture = 30\n')
    ok(cli(tmp_path, "db", "upgrade"))
    ok(cli(tmp_path, "archive", "import", str(media.lecture), "--title", "old", "--date", "2020-01-10"))
    ok(cli(tmp_path, "archive", "import", str(media.webm), "--title", "held", "--date", "2020-01-10"))
    ok(cli(tmp_path, "archive", "hold", "2", "--reason", "appeal 2026-17"))
    out = ok(cli(tmp_path, "archive", "retention", "--dry-run"))
    assert "would delete item 1" in out and "kept item 2: under legal hold" in out
    out = ok(cli(tmp_path, "archive", "retention"))
    assert "deleted item 1" in out and "1 item(s) deleted, 1 held" in out
    assert "0 missing, 0 corrupt" in ok(cli(tmp_path, "archive", "verify"))


def test_import_refuses_bad_files_in_one_line(tmp_path: Path, media: Media) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    for which, words in (("text", "not a media file"), ("truncated_mp4", "truncated"),
                         ("truncated_plain_mp4", "cut short")):  # fmt: skip
        line = one_line_error(cli(tmp_path, "archive", "import", str(getattr(media, which)), "--title", "bad"))
        assert words in line, which
    assert "does not exist" in one_line_error(cli(tmp_path, "archive", "import", str(tmp_path / "no.mp4"), "--title", "x"))
    assert "0 files checked" in ok(cli(tmp_path, "archive", "verify"))
