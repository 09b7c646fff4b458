"""From a timeline to what the lecture video shows when: layout segments, chapters, chat cues.

    plan = plan_layout(rec, usable, duration)       # [Segment(start, end, tiles), ...]
    chapters(rec)                                   # [Chapter(0.0, "Beginning"), Chapter(61.2, "Ana")]
    chat_cues(rec, duration)

Rules: a live screen share fills the frame with the active speaker's camera small in a
corner; otherwise the active speaker's camera fills it (the last one who spoke; before
anyone speaks, the presenter); with no such camera, every live camera in a grid. Boundaries
sit on the output frame grid, so every segment is a whole number of frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from media.composition.recording import Recording, Track

WIDTH, HEIGHT, FPS = 1280, 720, 25
PIP_W, PIP_H, PIP_MARGIN = 320, 180, 16
CUE_SECONDS = 6.0


@dataclass(frozen=True)
class Tile:
    track_id: str
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    tiles: tuple[Tile, ...]
    layout: str  # screen | speaker | grid | empty


@dataclass(frozen=True)
class Chapter:
    start: float
    title: str


@dataclass(frozen=True)
class ChatCue:
    start: float
    end: float
    speaker: str
    text: str


def on_grid(t: float) -> float:
    return round(t * FPS) / FPS


def plan_layout(rec: Recording, spans: Mapping[str, tuple[float, float]], duration: float) -> list[Segment]:
    """Segments covering [0, duration); ``spans`` holds the usable video tracks' [start, end) on the session clock."""
    video = {t.id: t for t in rec.tracks if t.kind == "video" and t.id in spans}
    screen_off: dict[str, list[float]] = {}
    for e in rec.events:
        if e.type == "screenshare" and e.get("on") is False and e.get("track_id"):
            screen_off.setdefault(str(e.get("track_id")), []).append(e.t)
    live: dict[str, tuple[float, float]] = {}
    for tid, (a, b) in spans.items():
        if tid not in video:
            continue
        if video[tid].source == "screen":  # a share turned off before its track ended
            b = min([b, *(t for t in screen_off.get(tid, []) if t > a)])
        live[tid] = (a, b)
    cuts = {0.0, duration}
    for a, b in live.values():
        cuts.update((a, b))
    cuts.update(e.t for e in rec.events if e.type in ("speaking", "presenter", "screenshare"))
    points = sorted({on_grid(min(max(c, 0.0), duration)) for c in cuts})
    segments: list[Segment] = []
    for a, b in zip(points, points[1:], strict=False):
        if b <= a:
            continue
        kind, tiles = _layout_at(rec, video, live, a)
        if segments and segments[-1].tiles == tiles:
            segments[-1] = Segment(segments[-1].start, b, tiles, kind)
        else:
            segments.append(Segment(a, b, tiles, kind))
    return segments


def _layout_at(rec: Recording, video: Mapping[str, Track], live: Mapping[str, tuple[float, float]],
               t: float) -> tuple[str, tuple[Tile, ...]]:  # fmt: skip
    def is_live(tid: str) -> bool:
        a, b = live[tid]
        return on_grid(a) <= t < on_grid(b)

    speaker = _speaker_at(rec, t)
    cameras = [tid for tid in live if video[tid].source != "screen" and is_live(tid)]
    cameras.sort(key=lambda tid: (live[tid][0], tid))
    screens = [tid for tid in live if video[tid].source == "screen" and is_live(tid)]
    speaker_cam = next((tid for tid in cameras if video[tid].participant_id == speaker), None)
    if screens:
        share = max(screens, key=lambda tid: (live[tid][0], tid))  # the latest share wins
        tiles = [Tile(share, 0, 0, WIDTH, HEIGHT)]
        if speaker_cam is None and cameras:
            sharer = video[share].participant_id
            speaker_cam = next((tid for tid in cameras if video[tid].participant_id == sharer), cameras[0])
        if speaker_cam is not None:
            tiles.append(
                Tile(speaker_cam, WIDTH - PIP_W - PIP_MARGIN, HEIGHT - PIP_H - PIP_MARGIN, PIP_W, PIP_H)
            )
        return "screen", tuple(tiles)
    if speaker_cam is not None:
        return "speaker", (Tile(speaker_cam, 0, 0, WIDTH, HEIGHT),)
    if not cameras:
        return "empty", ()
    return "grid", grid(cameras)


def grid(track_ids: Sequence[str]) -> tuple[Tile, ...]:
    n = len(track_ids)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    w, h = (WIDTH // cols) & ~1, (HEIGHT // rows) & ~1
    return tuple(Tile(tid, (i % cols) * w, (i // cols) * h, w, h) for i, tid in enumerate(track_ids))


def _speaker_at(rec: Recording, t: float) -> str | None:
    """Who holds the floor at ``t``: the last to start speaking, else the presenter."""
    speaker = presenter = None
    for e in rec.events:
        if on_grid(e.t) > t:
            break
        if e.type == "speaking" and e.get("participant_id"):
            speaker = str(e.get("participant_id"))
        elif e.type == "presenter":
            presenter = str(e.get("participant_id")) if e.get("participant_id") else None
    return speaker or presenter


def chapters(rec: Recording, duration: float) -> list[Chapter]:
    """A chapter wherever the presenter changes (named after them); one at 0 when the first comes later."""
    out: list[Chapter] = []
    current: str | None = None
    for e in rec.events:
        if e.type != "presenter" or e.t >= duration:
            continue
        pid = str(e.get("participant_id")) if e.get("participant_id") else None
        if pid is None or pid == current:
            current = pid
            continue
        current = pid
        start = round(max(e.t, 0.0), 3)
        title = rec.names.get(pid, pid)
        if out and out[-1].start == start:
            out[-1] = Chapter(start, title)
        else:
            out.append(Chapter(start, title))
    if out and out[0].start > 0.5:
        out.insert(0, Chapter(0.0, "Beginning"))
    return out


def chat_cues(rec: Recording, duration: float) -> list[ChatCue]:
    """Chat messages as cues on the video's clock; a cue lasts until the next message or 6 s (at least 1 s)."""
    msgs = [
        e for e in rec.events if e.type == "chat" and str(e.get("text") or "").strip() and 0 <= e.t < duration
    ]
    cues = []
    for i, e in enumerate(msgs):
        end = e.t + CUE_SECONDS
        if i + 1 < len(msgs):
            end = min(end, max(e.t + 1.0, msgs[i + 1].t))
        pid = str(e.get("participant_id") or "")
        speaker = str(e.get("display_name") or rec.names.get(pid, pid) or "unknown")
        cues.append(
            ChatCue(round(e.t, 3), round(min(end, max(duration, e.t + 1.0)), 3), speaker, str(e.get("text")))
        )
    return cues
