"""Whole or not at all: files and folders replace their targets by rename, failures leave nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from fileio import replace_dir, replacing, temp_beside, write_bytes_atomic, write_text_atomic


def test_write_creates_folders_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "day.json"
    write_text_atomic(target, "one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["day.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "guide.xml"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as temp:
        temp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["guide.xml"]


def test_temporary_names_are_hidden_beside_the_target(tmp_path: Path) -> None:
    plain = temp_beside(tmp_path / "day.json")
    assert plain.parent == tmp_path and plain.name.startswith(".day.json.") and plain.name.endswith(".part")
    keep = temp_beside(tmp_path / "lecture.ts", keep_suffix=True)
    assert keep.name.startswith(".lecture.part-") and keep.suffix == ".ts"
    assert temp_beside(tmp_path / "x") != temp_beside(tmp_path / "x")


def test_replace_dir_swaps_whole_folders(tmp_path: Path) -> None:
    target = tmp_path / "hls"
    target.mkdir()
    (target / "old.ts").write_text("old")
    built = tmp_path / ".hls.build"
    built.mkdir()
    (built / "index.m3u8").write_text("new")
    replace_dir(built, target)
    assert [p.name for p in target.iterdir()] == ["index.m3u8"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls"]  # the old folder is gone, not left aside
    fresh = tmp_path / ".next"
    fresh.mkdir()
    replace_dir(fresh, tmp_path / "new")  # no old target: just moved into place
    assert (tmp_path / "new").is_dir() and not fresh.exists()
