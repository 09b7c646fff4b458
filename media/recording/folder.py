"""The recording folder: manifest.json, timeline.jsonl and tracks/, as docs/recording-format.md defines.

Usage::

    folder = RecordingFolder.create(media_root / "recordings", "s42", "r1")
    manifest = Manifest.start("s42", "r1")          # status "recording", started_at = now (UTC)
    folder.write_manifest(manifest)                 # tmp + fsync + rename: never half-written
    timeline = folder.open_timeline(manifest.clock())
    timeline.append("join", participant_id="7", display_name="Aigerim", role="host")
    ...
    loaded = read_manifest(folder.path)             # raises RecordingFormatError, plainly worded
    events = read_timeline(folder.path)             # a truncated last line (crash) is skipped

Why here: the recorder writes this folder and the composer reads it, possibly after a crash, so
every write is one that a kill leaves whole (the manifest is replaced atomically, a timeline line
goes out in one ``write``), and the readers keep what they do not know (forward compatibility).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fileio.atomic import write_bytes_atomic
from media.errors import MediaError

FORMAT = "aulacast-recording/1"
STATUSES = ("recording", "complete", "interrupted", "failed")
TRACK_STATUSES = ("recording", "complete", "interrupted")
MANIFEST = "manifest.json"
TIMELINE = "timeline.jsonl"
TRACKS = "tracks"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RecordingFormatError(MediaError):
    """A recording folder that is missing, damaged or of another format, named plainly."""


def iso_utc(moment: float) -> str:
    """``2026-12-02T10:00:00.000Z`` for a ``time.time()`` value."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(moment * 1000) % 1000:03d}Z"


def parse_utc(text: str) -> float:
    """The ``time.time()`` value of an ISO UTC string (``Z`` or ``+00:00``)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError) as exc:
        raise RecordingFormatError(f"{text!r} is not an ISO 8601 UTC time") from exc


def check_id(value: str, what: str) -> str:
    """Ids become path components: letters, digits, ``.-_`` only (no ``/``, no ``..``)."""
    if not isinstance(value, str) or not _ID.match(value) or value in (".", ".."):
        raise RecordingFormatError(f"{what} {value!r} cannot name a recording folder (letters, digits, . - _)")
    return value


@dataclass(frozen=True)
class SessionClock:
    """Seconds since the recording's zero (``started_at``); wall-clock based, so it survives a restart."""

    zero: float  # time.time() of started_at

    def now(self, moment: float | None = None) -> float:
        return round((time.time() if moment is None else moment) - self.zero, 3)


@dataclass
class TrackEntry:
    """One track of the manifest; ``extra`` keeps keys this version does not know."""

    id: str
    participant_id: str
    kind: str
    codec: str
    file: str
    start: float
    source: str = ""
    display_name: str = ""
    end: float | None = None
    width: int | None = None
    height: int | None = None
    status: str = "recording"
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("id", "participant_id", "display_name", "kind", "source", "codec", "file", "start", "end",
             "width", "height", "status")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for key in self._KEYS:
            value = getattr(self, key)
            if key in ("width", "height") and value is None:
                continue
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> TrackEntry:
        if not isinstance(data, dict):
            raise RecordingFormatError("a track of manifest.json is not a JSON object")
        missing = [k for k in ("id", "participant_id", "kind", "codec", "file", "start") if k not in data]
        if missing:
            raise RecordingFormatError(f"track {data.get('id', '?')!r} of manifest.json lacks {', '.join(missing)}")
        known = {k: data[k] for k in cls._KEYS if k in data}
        extra = {k: v for k, v in data.items() if k not in cls._KEYS}
        return cls(**known, extra=extra)


@dataclass
class Manifest:
    """manifest.json; ``extra`` keeps unknown top-level keys so a rewrite loses nothing."""

    session_id: str
    recording_id: str
    started_at: str
    status: str = "recording"
    ended_at: str | None = None
    reason: str | None = None
    tracks: list[TrackEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, session_id: str, recording_id: str, moment: float | None = None) -> Manifest:
        return cls(session_id, recording_id, iso_utc(time.time() if moment is None else moment))

    def clock(self) -> SessionClock:
        return SessionClock(parse_utc(self.started_at))

    def track(self, track_id: str) -> TrackEntry | None:
        return next((t for t in self.tracks if t.id == track_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": FORMAT,
            "session_id": self.session_id,
            "recording_id": self.recording_id,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "reason": self.reason,
            "tracks": [t.to_dict() for t in self.tracks],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise RecordingFormatError("manifest.json is not a JSON object")
        if data.get("format") != FORMAT:
            raise RecordingFormatError(f"manifest.json has format {data.get('format')!r}, expected {FORMAT!r}")
        missing = [k for k in ("session_id", "recording_id", "status", "started_at") if k not in data]
        if missing:
            raise RecordingFormatError(f"manifest.json lacks {', '.join(missing)}")
        tracks = data.get("tracks") or []
        if not isinstance(tracks, list):
            raise RecordingFormatError("manifest.json 'tracks' is not a list")
        known = ("format", "session_id", "recording_id", "status", "started_at", "ended_at", "reason", "tracks")
        return cls(
            session_id=str(data["session_id"]),
            recording_id=str(data["recording_id"]),
            started_at=str(data["started_at"]),
            status=str(data["status"]),
            ended_at=data.get("ended_at"),
            reason=data.get("reason"),
            tracks=[TrackEntry.from_dict(t) for t in tracks],
            extra={k: v for k, v in data.items() if k not in known},
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader (or a crash) sees the old file or the new, never a mix."""
    write_bytes_atomic(path, data)  # temporary beside it, fsync, rename
    fsync_dir(path.parent)  # the rename itself survives a power cut


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Timeline:
    """Appends timeline.jsonl lines, each in one ``write`` on an O_APPEND descriptor (no Python buffer).

    A kill leaves whole lines plus at most one partial last line, which readers skip.
    ``append`` raises ``OSError`` (e.g. ENOSPC) for the caller to handle.
    """

    def __init__(self, path: Path, clock: SessionClock) -> None:
        self.path = path
        self.clock = clock
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.lines = 0

    def append(self, type: str, *, moment: float | None = None, **data: Any) -> dict[str, Any]:
        """Write one event now (or at ``moment``, a ``time.time()`` value); returns the line's object."""
        at = time.time() if moment is None else moment
        event = {"t": self.clock.now(at), "at": iso_utc(at), "type": type, **data}
        self.write(event)
        return event

    def write(self, event: dict[str, Any]) -> None:
        if self._fd is None:
            raise RecordingFormatError(f"{self.path} is closed")
        line = json.dumps(event, ensure_ascii=False, separators=(", ", ": ")).encode() + b"\n"
        written = os.write(self._fd, line)
        if written != len(line):  # a short write on a full disk: finish the line or fail loudly
            rest = memoryview(line)[written:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]
        self.lines += 1

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


class RecordingFolder:
    """``<recordings>/<session_id>/<recording_id>/`` and the files in it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def at(cls, recordings: Path, session_id: str, recording_id: str) -> RecordingFolder:
        return cls(Path(recordings) / check_id(session_id, "session id") / check_id(recording_id, "recording id"))

    @classmethod
    def create(cls, recordings: Path, session_id: str, recording_id: str) -> RecordingFolder:
        folder = cls.at(recordings, session_id, recording_id)
        (folder.path / TRACKS).mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def timeline_path(self) -> Path:
        return self.path / TIMELINE

    def track_file(self, track_id: str, codec: str) -> str:
        """The manifest's relative ``file`` for a track: .mkv for H.264, .webm for VP8/VP9/Opus."""
        ext = "mkv" if codec.lower() == "h264" else "webm"
        return f"{TRACKS}/{check_id(track_id, 'track id')}.{ext}"

    def write_manifest(self, manifest: Manifest) -> None:
        data = json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"
        write_atomic(self.manifest_path, data)

    def read_manifest(self) -> Manifest:
        return read_manifest(self.path)

    def open_timeline(self, clock: SessionClock) -> Timeline:
        return Timeline(self.timeline_path, clock)


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest, or RecordingFormatError saying what is wrong with it."""
    path = Path(folder) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecordingFormatError(f"{folder} has no {MANIFEST}: not a recording folder") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordingFormatError(f"{path} is not valid JSON: {exc}") from exc
    return Manifest.from_dict(data)


def iter_timeline(folder: Path) -> Iterator[dict[str, Any]]:
    """The timeline's events in order; a damaged last line (a crash mid-write) is skipped.

    A damaged line elsewhere raises RecordingFormatError naming it. A folder without a timeline
    yields nothing (a recording killed before its first event).
    """
    path = Path(folder) / TIMELINE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    lines = raw.split(b"\n")
    complete = raw.endswith(b"\n")
    last = len(lines) - 1
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            if number - 1 == last and not complete:
                return  # a partial line: the writer was killed mid-line
            raise RecordingFormatError(f"{path} line {number} is not a JSON object: {exc}") from exc
        yield event


def read_timeline(folder: Path) -> list[dict[str, Any]]:
    return list(iter_timeline(folder))


def list_recordings(recordings: Path) -> list[Path]:
    """Every ``<session>/<recording>`` folder holding a manifest under ``recordings``."""
    root = Path(recordings)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/*/{MANIFEST}"))
