"""A recording folder in, a lecture folder out: ``lecture.mp4``, ``chat.vtt``, ``poster.jpg``, ``chapters.json``.

    result = compose(Path(".../recordings/7/r1"), Path(".../compositions"), ffmpeg=FFmpeg.locate())
    result.folder            # .../compositions/<key>: the same inputs always give the same folder
    result.missing           # tracks that could not be used, each with the reason

The output folder is named by a hash of the inputs (manifest, timeline, every track's bytes),
built under a temporary name beside it and renamed into place whole, last of all: a retry of
the same recording finds the finished folder and returns it, two workers racing on the same
recording leave one folder, and a crash leaves only a hidden temporary. ``composition.json``
beside the media says what was used and what was missing or cut short.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from fileio import write_text_atomic
from media.composition.graph import Input, build_graph
from media.composition.layout import FPS, HEIGHT, WIDTH, chapters, chat_cues, plan_layout
from media.composition.recording import CompositionError, Recording, Track, read_recording
from media.composition.webvtt import to_webvtt
from media.transcode.ffmpeg import FFmpeg, Progress

COMPOSER = "aulacast-composer/1"  # part of the key: a new layout version composes again
STALE_WORK_SECONDS = 6 * 3600  # a hidden work folder untouched this long was left by a killed run
TRUNCATION_SLACK = 2.0  # seconds a track may fall short of its manifest end before it is called cut short

ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Composition:
    folder: Path
    key: str
    duration: float
    missing: tuple[dict[str, Any], ...]
    reused: bool  # True: the folder was there already (a retry, or another worker finished first)

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.folder / "composition.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Usable:
    track: Track
    start: float
    end: float


def check_tracks(rec: Recording) -> tuple[list[Usable], list[dict[str, Any]]]:
    """Each track read to its end (packets only, no decoding): what can be used and over which span."""
    usable: list[Usable] = []
    missing: list[dict[str, Any]] = []
    for t in rec.tracks:
        path = rec.path(t)
        facts = {"track": t.id, "participant_id": t.participant_id, "display_name": t.display_name,
                 "kind": t.kind, "source": t.source, "file": t.file}  # fmt: skip
        if not path.is_file():
            missing.append({**facts, "reason": "file not found"})
            continue
        try:
            length = _readable_length(path, t.kind)
        except (av.FFmpegError, OSError, ValueError) as exc:
            missing.append({**facts, "reason": f"unreadable: {exc}"})
            continue
        if length is None or length <= 0:
            missing.append({**facts, "reason": f"no {t.kind} in the file"})
            continue
        end = t.start + length
        if t.end is not None:
            if t.end - t.start > length + TRUNCATION_SLACK:
                missing.append(
                    {**facts, "reason": "cut short", "expected_end": t.end, "readable_end": round(end, 3)}
                )
            end = min(end, t.end + TRUNCATION_SLACK)
        usable.append(Usable(t, t.start, end))
    return usable, missing


def _readable_length(path: Path, kind: str) -> float | None:
    """Seconds to the end of the last packet of the file's first ``kind`` stream (its timestamps start at 0)."""
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind]
        if not streams:
            return None
        stream = streams[0]
        first = last = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                ts = float(packet.pts * packet.time_base)
                dur = float((packet.duration or 0) * packet.time_base)
                first = ts if first is None else min(first, ts)
                last = ts + dur if last is None else max(last, ts + dur)
        except av.FFmpegError:
            pass  # a cut-short file: what was read so far is what can be used
        if first is None or last is None:
            return None
        return last


def composition_key(rec: Recording) -> str:
    h = hashlib.sha256(COMPOSER.encode())
    for name in ("manifest.json", "timeline.jsonl"):
        p = rec.folder / name
        h.update(name.encode() + b"\0" + (p.read_bytes() if p.is_file() else b"-") + b"\0")
    for t in sorted(rec.tracks, key=lambda t: t.id):
        h.update(t.id.encode() + b"\0")
        p = rec.path(t)
        if p.is_file():
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        else:
            h.update(b"missing")
        h.update(b"\0")
    return h.hexdigest()


def output_folder(out_root: Path, key: str) -> Path:
    return Path(out_root) / key[:32]


def compose(
    recording: Path,
    out_root: Path,
    *,
    ffmpeg: FFmpeg,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    nice: int = 0,
    threads: int = 0,
) -> Composition:
    rec = read_recording(recording)
    key = composition_key(rec)
    target = output_folder(out_root, key)
    done = _finished(target)
    if done is not None:
        return Composition(target, key, float(done.get("duration", 0)), tuple(done.get("missing", [])), True)
    usable, missing = check_tracks(rec)
    if not usable:
        reasons = "; ".join(f"{m['track']}: {m['reason']}" for m in missing) or "the manifest lists no tracks"
        raise CompositionError(f"{recording}: nothing to compose ({reasons})")
    # Whole frames, rounded down: a tone that outlasts the last picture by a few ms adds no black frame.
    duration = max(math.floor(max(rec.duration, *(u.end for u in usable)) * FPS) / FPS, 1.0)
    spans = {u.track.id: (u.start, u.end) for u in usable if u.track.kind == "video"}
    segments = plan_layout(rec, spans, duration)
    shown = {tile.track_id for seg in segments for tile in seg.tiles}
    inputs = [Input(u.track.id, u.track.kind, str(rec.path(u.track)), u.start)
              for u in usable if u.track.kind == "audio" or u.track.id in shown]  # fmt: skip
    graph = build_graph(inputs, segments, duration, threads=threads)

    Path(out_root).mkdir(parents=True, exist_ok=True)
    sweep_stale(Path(out_root))
    work = Path(out_root) / f".{key[:32]}.{uuid.uuid4().hex[:8]}.part"
    work.mkdir()
    try:
        script = work / "graph.txt"
        script.write_text(graph.filter_script, encoding="utf-8")
        ffmpeg.run(graph.args(str(script)), output=work / "lecture.mp4", subject=recording, duration=duration,
                   progress=progress, cancel=cancel, nice=nice)  # fmt: skip
        poster_at = min(duration / 2, 30.0)
        ffmpeg.run(["-ss", f"{poster_at:.3f}", "-i", str(work / "lecture.mp4"), "-frames:v", "1", "-q:v", "3",
                    "-f", "image2"], output=work / "poster.jpg", subject="poster", nice=nice)  # fmt: skip
        cues = chat_cues(rec, duration)
        write_text_atomic(work / "chat.vtt", to_webvtt(cues))
        chaps = chapters(rec, duration)
        write_text_atomic(
            work / "chapters.json",
            json.dumps([{"start": c.start, "title": c.title} for c in chaps], ensure_ascii=False),
        )
        script.unlink()
        report = {
            "format": "aulacast-composition/1", "composer": COMPOSER, "status": "complete", "key": key,
            "session_id": rec.session_id, "recording_id": rec.recording_id, "recording_status": rec.status,
            "duration": duration, "width": WIDTH, "height": HEIGHT,
            "used": [{"track": u.track.id, "kind": u.track.kind, "source": u.track.source,
                      "participant_id": u.track.participant_id, "start": round(u.start, 3), "end": round(u.end, 3)}
                     for u in usable],
            "missing": missing,
            "segments": [{"start": s.start, "end": s.end, "layout": s.layout, "tracks": [t.track_id for t in s.tiles]}
                         for s in segments],
            "chat_cues": len(cues), "chapters": len(chaps),
        }  # fmt: skip
        write_text_atomic(work / "composition.json", json.dumps(report, ensure_ascii=False, indent=1))
        try:
            os.rename(work, target)  # whole, and only if no one finished first
        except OSError:
            if _finished(target) is None:
                raise
            shutil.rmtree(work, ignore_errors=True)
            return Composition(target, key, duration, tuple(missing), True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Composition(target, key, duration, tuple(missing), False)


def sweep_stale(out_root: Path, *, older_than: float = STALE_WORK_SECONDS) -> list[Path]:
    """Remove work folders a killed run left (its ffmpeg dies too, on its next progress write to a closed pipe)."""
    gone = []
    now = time.time()
    for p in out_root.glob(".*.part"):
        try:
            if p.is_dir() and now - max(c.stat().st_mtime for c in [p, *p.iterdir()]) > older_than:
                shutil.rmtree(p, ignore_errors=True)
                gone.append(p)
        except OSError:
            continue  # another run removed or renamed it meanwhile
    return gone


def compose_folder_key(recording: Path) -> str:
    """The key (and so the output folder name) a recording folder composes to, without composing it."""
    return composition_key(read_recording(recording))


def _finished(target: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((target / "composition.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if report.get("status") != "complete" or not (target / "lecture.mp4").is_file():
        return None
    return report
