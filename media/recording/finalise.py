"""The finalise step: a recording whose writer died is marked ``interrupted`` with what its files hold.

Usage (the orchestrator, at start-up and when a media worker dies)::

    for folder in unfinished(recordings_root, host="node-1"):   # status "recording", writer gone
        manifest = finalise_interrupted(folder, "media worker killed")

A killed recorder leaves track files that play up to their last whole Matroska cluster, and a
manifest that still says ``recording`` (its ``end`` values are null). Each track's ``end`` is
read from its file (the last packet's time, by demuxing: nothing is decoded), tracks and the
recording become ``interrupted``, and the manifest is rewritten atomically. A file that does not
open at all (killed before its first cluster) keeps ``end = start`` and is named in the reason.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import av

from media.recording.folder import (
    Manifest,
    RecordingFolder,
    iso_utc,
    list_recordings,
    parse_utc,
    read_manifest,
)


def last_packet_time(path: Path) -> float | None:
    """Seconds of the last whole packet in a (possibly truncated) track file; None if it does not open."""
    try:
        container = av.open(str(path))
    except (OSError, av.FFmpegError):
        return None
    last: float | None = None
    with container:
        stream = container.streams[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    end = packet.pts + (packet.duration or 0)
                    last = float(end * packet.time_base)
        except (OSError, av.FFmpegError):
            pass  # the torn last cluster: keep what came before it
    return last


UNREADABLE = "; unreadable track files: "  # what finalise_interrupted adds to a reason


def reason_without_files(reason: str) -> str:
    """The reason a recording stopped, without the track files finalising could not read."""
    return reason.split(UNREADABLE, 1)[0]


def finalise_interrupted(folder: Path, reason: str) -> Manifest:
    """Mark an unfinished recording ``interrupted``; already finished ones are returned unchanged."""
    rec = RecordingFolder(Path(folder))
    manifest = read_manifest(rec.path)
    if manifest.status != "recording":
        return manifest
    unreadable = []
    ends = []
    for track in manifest.tracks:
        if track.status == "recording" or track.end is None:
            span = last_packet_time(rec.path / track.file)
            if span is None:
                unreadable.append(track.id)
                span = 0.0
            track.end = round(track.start + span, 3)
            track.status = "interrupted"
        ends.append(track.end)
    manifest.status = "interrupted"
    manifest.reason = reason + (f"{UNREADABLE}{', '.join(unreadable)}" if unreadable else "")
    zero = parse_utc(manifest.started_at)
    manifest.ended_at = iso_utc(zero + max(ends, default=0.0))
    rec.write_manifest(manifest)
    return manifest


def process_alive(pid: object) -> bool:
    """Whether a process still runs; a zombie (exited, not yet reaped: its parent was killed) counts as gone."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a writer that exited but was not reaped yet (its parent was killed) is a zombie: gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :][:1] != "Z"
    except (OSError, ValueError):
        return True


def _still_recording(recordings: Path, host: str) -> list[tuple[Path, object]]:
    """(folder, writer pid) of every recording of ``host`` whose manifest still says ``recording``."""
    found = []
    for path in list_recordings(recordings):
        with contextlib.suppress(Exception):
            manifest = read_manifest(path)
            writer = manifest.extra.get("recorder") or {}
            if manifest.status == "recording" and writer.get("host") == host:
                found.append((path, writer.get("pid")))
    return found


def writing_elsewhere(recordings: Path, host: str, exclude: set[Path]) -> list[Path]:
    """Folders of ``host`` still ``recording`` whose writer is alive and not in ``exclude``: after a
    killed service, its orphaned workers that have not exited yet (finalised once they have)."""
    return [path for path, pid in _still_recording(recordings, host) if path not in exclude and process_alive(pid)]


def unfinished(recordings: Path, host: str, *, pids_gone: set[int] | None = None) -> list[Path]:
    """Folders under ``recordings`` still ``recording`` whose writer on ``host`` is gone.

    The writer is the recorder's process (``recorder.pid`` in the manifest); with ``pids_gone``
    only those pids count as gone (a worker the supervisor saw die), else any pid not alive.
    """
    return [path for path, pid in _still_recording(recordings, host)
            if (pid in pids_gone if pids_gone is not None else not process_alive(pid))]  # fmt: skip
