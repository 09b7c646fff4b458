"""Reading a recorder's folder (docs/recording-format.md): manifest, timeline and track files.

    rec = read_recording(Path(".../recordings/7/r1"))
    rec.tracks, rec.events, rec.duration

Forgiving where the format says so: unknown event types and keys are ignored, a truncated
last timeline line (a crash) is dropped. A manifest that is missing or not JSON is refused
with a ``CompositionError`` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from media.errors import MediaError

FORMAT = "aulacast-recording/1"


class CompositionError(MediaError):
    """A recording that cannot be composed, said plainly."""


@dataclass(frozen=True)
class Track:
    id: str
    participant_id: str
    display_name: str
    kind: str  # audio | video
    source: str  # camera | microphone | screen
    file: str
    start: float
    end: float | None
    width: int | None = None
    height: int | None = None
    status: str = "complete"


@dataclass(frozen=True)
class Event:
    t: float
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass(frozen=True)
class Recording:
    folder: Path
    session_id: str
    recording_id: str
    status: str
    started_at: datetime | None
    tracks: tuple[Track, ...]
    events: tuple[Event, ...]
    names: dict[str, str]  # participant_id -> display name (manifest, then timeline joins)

    @property
    def duration(self) -> float:
        """The session clock's end: the latest track end or event, at least 1 s."""
        ends = [t.end if t.end is not None else t.start for t in self.tracks] + [e.t for e in self.events]
        return max([1.0, *ends])

    def path(self, track: Track) -> Path:
        return self.folder / track.file


def read_recording(folder: Path) -> Recording:
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompositionError(f"{manifest_path}: no manifest, not a recording folder") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CompositionError(f"{manifest_path}: not a readable manifest ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CompositionError(f"{manifest_path}: format is {raw.get('format') if isinstance(raw, dict) else None!r}, "
                               f"expected {FORMAT!r}")  # fmt: skip
    tracks = []
    names: dict[str, str] = {}
    for n, t in enumerate(raw.get("tracks") or []):
        try:
            track = Track(
                id=str(t["id"]), participant_id=str(t.get("participant_id", "")),
                display_name=str(t.get("display_name") or t.get("participant_id") or t["id"]),
                kind=str(t["kind"]), source=str(t.get("source") or ("camera" if t["kind"] == "video" else "microphone")),
                file=str(t["file"]), start=float(t.get("start") or 0.0),
                end=float(t["end"]) if t.get("end") is not None else None,
                width=int(t["width"]) if t.get("width") else None, height=int(t["height"]) if t.get("height") else None,
                status=str(t.get("status") or "complete"),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise CompositionError(f"{manifest_path}: track {n + 1} is malformed ({exc})") from None
        if Path(track.file).is_absolute() or ".." in Path(track.file).parts:
            raise CompositionError(f"{manifest_path}: track {track.id} names a file outside the folder")
        tracks.append(track)
        if track.participant_id:
            names.setdefault(track.participant_id, track.display_name)
    events = _read_timeline(folder / "timeline.jsonl")
    for e in events:
        if e.type == "join" and e.get("participant_id") and e.get("display_name"):
            names.setdefault(str(e.get("participant_id")), str(e.get("display_name")))
    started = None
    if raw.get("started_at"):
        try:
            started = datetime.fromisoformat(str(raw["started_at"]).replace("Z", "+00:00"))
        except ValueError:
            started = None
    return Recording(folder, str(raw.get("session_id", "")), str(raw.get("recording_id", "")),
                     str(raw.get("status", "")), started, tuple(tracks), tuple(events), names)  # fmt: skip


def _read_timeline(path: Path) -> tuple[Event, ...]:
    if not path.is_file():
        return ()
    events: list[Event] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
            t = float(obj["t"])
            kind = str(obj["type"])
        except (ValueError, KeyError, TypeError):
            continue  # a truncated line (a crash) or one we cannot place on the clock
        if not isinstance(obj, dict):
            continue
        events.append(Event(t, kind, obj))
    events.sort(key=lambda e: e.t)  # stable: same-time events keep their file order
    return tuple(events)
