"""The layout, chapters and chat cues from a timeline alone (no media): grid, speaker, share, their edges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from media.composition.layout import HEIGHT, WIDTH, chapters, chat_cues, grid, plan_layout
from media.composition.recording import CompositionError, read_recording


def folder(tmp_path: Path, tracks: list[dict], lines: list[str]) -> Path:
    manifest = {"format": "aulacast-recording/1", "session_id": "1", "recording_id": "r", "status": "complete",
                "tracks": tracks}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "timeline.jsonl").write_text("\n".join(lines))
    return tmp_path


def cam(tid: str, pid: str, start: float, end: float, source: str = "camera") -> dict:
    return {"id": tid, "participant_id": pid, "display_name": pid.upper(), "kind": "video", "source": source,
            "file": f"tracks/{tid}.webm", "start": start, "end": end}  # fmt: skip


def test_grid_until_someone_speaks_then_the_speaker_then_the_share(tmp_path: Path) -> None:
    rec = read_recording(folder(tmp_path, [cam("a", "a", 0, 20), cam("b", "b", 0, 20), cam("c", "c", 0, 20),
                                           cam("s", "b", 8, 20, "screen")], [
        json.dumps({"t": 4.0, "type": "speaking", "participant_id": "c"}),
        json.dumps({"t": 8.0, "type": "screenshare", "participant_id": "b", "track_id": "s", "on": True}),
        json.dumps({"t": 14.0, "type": "screenshare", "participant_id": "b", "track_id": "s", "on": False}),
        json.dumps({"t": 15.0, "type": "hand", "participant_id": "a"}),  # unknown type: ignored
        '{"t": 16.0, "type": "speak',  # a truncated last line (a crash): ignored
    ]))  # fmt: skip
    spans = {t.id: (t.start, t.end) for t in rec.tracks}
    segs = plan_layout(rec, spans, 20.0)
    assert [(s.start, s.end, s.layout) for s in segs] == [(0.0, 4.0, "grid"), (4.0, 8.0, "speaker"),
                                                          (8.0, 14.0, "screen"), (14.0, 20.0, "speaker")]  # fmt: skip
    assert [t.track_id for t in segs[0].tiles] == ["a", "b", "c"]
    assert segs[1].tiles[0].track_id == "c" and (segs[1].tiles[0].w, segs[1].tiles[0].h) == (WIDTH, HEIGHT)
    assert [t.track_id for t in segs[2].tiles] == ["s", "c"]  # the share large, the speaker small
    assert segs[2].tiles[1].w < WIDTH // 3


def test_speaker_without_camera_shows_the_cameras_in_a_grid(tmp_path: Path) -> None:
    rec = read_recording(folder(tmp_path, [cam("a", "a", 0, 10), cam("b", "b", 2, 10)], [
        json.dumps({"t": 1.0, "type": "speaking", "participant_id": "x"}),  # audio only
    ]))  # fmt: skip
    segs = plan_layout(rec, {"a": (0, 10), "b": (2, 10)}, 10.0)
    assert [(s.start, s.layout, len(s.tiles)) for s in segs] == [(0.0, "grid", 1), (2.0, "grid", 2)]


def test_boundaries_sit_on_the_frame_grid(tmp_path: Path) -> None:
    rec = read_recording(folder(tmp_path, [cam("a", "a", 0, 5), cam("b", "b", 0, 5)], [
        json.dumps({"t": 1.013, "type": "speaking", "participant_id": "a"}),
        json.dumps({"t": 2.509, "type": "speaking", "participant_id": "b"}),
    ]))  # fmt: skip
    segs = plan_layout(rec, {"a": (0, 5), "b": (0, 5)}, 5.0)
    assert [s.start for s in segs] == [0.0, 1.0, 2.52]
    assert all(round(s.start * 25, 6).is_integer() for s in segs)


def test_grid_tiles_cover_the_frame_without_overlap() -> None:
    tiles = grid(["a", "b", "c", "d", "e"])
    assert len({(t.x, t.y) for t in tiles}) == 5
    assert all(t.x + t.w <= WIDTH and t.y + t.h <= HEIGHT for t in tiles)


def test_chapters_and_chat(tmp_path: Path) -> None:
    rec = read_recording(folder(tmp_path, [cam("a", "a", 0, 30)], [
        json.dumps({"t": 0.0, "type": "join", "participant_id": "b", "display_name": "Бекзат"}),
        json.dumps({"t": 5.0, "type": "presenter", "participant_id": "a"}),
        json.dumps({"t": 9.0, "type": "presenter", "participant_id": "a"}),  # the same: no new chapter
        json.dumps({"t": 12.0, "type": "presenter", "participant_id": "b"}),
        json.dumps({"t": 13.0, "type": "presenter", "participant_id": None}),
        json.dumps({"t": 20.0, "type": "chat", "participant_id": "b", "text": "first"}),
        json.dumps({"t": 20.2, "type": "chat", "participant_id": "a", "display_name": "A", "text": "second"}),
        json.dumps({"t": 29.5, "type": "chat", "participant_id": "a", "text": "   "}),  # blank: no cue
    ]))  # fmt: skip
    assert [(c.start, c.title) for c in chapters(rec, 30.0)] == [
        (0.0, "Beginning"),
        (5.0, "A"),
        (12.0, "Бекзат"),
    ]
    cues = chat_cues(rec, 30.0)
    assert [(c.start, c.end, c.speaker, c.text) for c in cues] == [(20.0, 21.0, "Бекзат", "first"),
                                                                   (20.2, 26.2, "A", "second")]  # fmt: skip


def test_bad_manifests_are_refused_with_the_file_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CompositionError, match="manifest.json: not a readable manifest"):
        read_recording(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(CompositionError, match="format is 'other/9'"):
        read_recording(tmp_path)
    folder(tmp_path, [{**cam("a", "a", 0, 1), "file": "../../etc/passwd"}], [])
    with pytest.raises(CompositionError, match="names a file outside the folder"):
        read_recording(tmp_path)
