"""The recording folder format (docs/recording-format.md): atomic manifest, append-only timeline, tolerant readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from media.recording.folder import (
    FORMAT,
    Manifest,
    RecordingFolder,
    RecordingFormatError,
    TrackEntry,
    list_recordings,
    parse_utc,
    read_manifest,
    read_timeline,
)


def _folder(tmp_path: Path) -> tuple[RecordingFolder, Manifest]:
    folder = RecordingFolder.create(tmp_path / "recordings", "s42", "r1")
    manifest = Manifest.start("s42", "r1", moment=1_796_205_600.0)
    folder.write_manifest(manifest)
    return folder, manifest


def test_manifest_round_trip_keeps_the_contract_keys_and_unknown_ones(tmp_path: Path) -> None:
    folder, manifest = _folder(tmp_path)
    manifest.tracks.append(
        TrackEntry("t1", "7", "video", "vp8", folder.track_file("t1", "vp8"), 1.234, source="camera",
                   display_name="Aigerim", width=640, height=480)  # fmt: skip
    )
    manifest.tracks.append(TrackEntry("t2", "7", "audio", "opus", folder.track_file("t2", "opus"), 1.3))
    folder.write_manifest(manifest)
    data = json.loads(folder.manifest_path.read_text())
    assert data["format"] == FORMAT
    assert data["status"] == "recording" and data["ended_at"] is None and data["reason"] is None
    assert data["started_at"].endswith("Z") and parse_utc(data["started_at"]) == 1_796_205_600.0
    assert data["tracks"][0] == {
        "id": "t1", "participant_id": "7", "display_name": "Aigerim", "kind": "video", "source": "camera",
        "codec": "vp8", "file": "tracks/t1.webm", "start": 1.234, "end": None, "width": 640, "height": 480,
        "status": "recording",
    }  # fmt: skip
    assert "width" not in data["tracks"][1]
    assert folder.track_file("t3", "h264") == "tracks/t3.mkv"
    # a newer writer's keys survive a rewrite by this one
    data["layout_hint"] = "grid"
    data["tracks"][0]["simulcast"] = "h"
    folder.manifest_path.write_text(json.dumps(data))
    again = read_manifest(folder.path)
    again.status = "complete"
    folder.write_manifest(again)
    final = json.loads(folder.manifest_path.read_text())
    assert final["layout_hint"] == "grid" and final["tracks"][0]["simulcast"] == "h"
    assert final["status"] == "complete"
    assert list_recordings(tmp_path / "recordings") == [folder.path]
    assert not [p for p in folder.path.iterdir() if p.name.endswith(".tmp")]


def test_a_manifest_rewrite_killed_midway_leaves_the_old_one_whole(tmp_path: Path) -> None:
    """SIGKILL between writing the temporary file and the rename: readers still see the previous manifest."""
    folder, _ = _folder(tmp_path)
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import media.recording.folder as f
        real = os.replace
        def die(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)
        f.os.replace = die
        folder = f.RecordingFolder(Path({str(folder.path)!r}))
        m = folder.read_manifest(); m.status = "complete"
        folder.write_manifest(m)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[3], check=False)
    assert proc.returncode == -9
    assert read_manifest(folder.path).status == "recording"


def test_timeline_lines_carry_the_session_clock_and_a_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    folder, manifest = _folder(tmp_path)
    timeline = folder.open_timeline(manifest.clock())
    zero = manifest.clock().zero
    timeline.append("join", moment=zero + 0.25, participant_id="7", display_name="Aigerim", role="host")
    timeline.append("chat", moment=zero + 7.0, participant_id="7", display_name="Aigerim", text="сәлем",
                    message_id="m1")  # fmt: skip
    timeline.append("future_kind", moment=zero + 8.0, whatever=1)
    timeline.close()
    with open(folder.timeline_path, "ab") as fh:  # a kill mid-line
        fh.write(b'{"t": 9.0, "at": "2026-12-02T10:00:09.000Z", "type": "lea')
    events = read_timeline(folder.path)
    assert [e["type"] for e in events] == ["join", "chat", "future_kind"]
    assert events[0]["t"] == 0.25 and events[0]["at"].endswith(".250Z")
    assert events[1]["text"] == "сәлем" and events[1]["t"] == 7.0


def test_damage_is_named_not_swallowed(tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    folder.timeline_path.write_bytes(b'{"t": 0, "type": "join"}\nnot json\n{"t": 1, "type": "leave"}\n')
    with pytest.raises(RecordingFormatError, match="line 2"):
        read_timeline(folder.path)
    folder.manifest_path.write_text("{")
    with pytest.raises(RecordingFormatError, match="not valid JSON"):
        read_manifest(folder.path)
    folder.manifest_path.write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(RecordingFormatError, match="format"):
        read_manifest(folder.path)
    os.unlink(folder.manifest_path)
    with pytest.raises(RecordingFormatError, match="not a recording folder"):
        read_manifest(folder.path)
    assert read_timeline(tmp_path) == []  # no timeline yet: nothing, not an error


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".", "..", "x" * 200])
def test_ids_that_could_escape_the_folder_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RecordingFormatError, match="cannot name a recording folder"):
        RecordingFolder.at(tmp_path, bad, "r1")
