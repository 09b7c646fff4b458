"""Playout: a channel's day as one continuous CBR transport stream, sent in real time.

    report = assemble_day(items, Path("day.ts"), profile, si=SiConfig(start_utc=...), events=eit_events,
                          cache_dir=Path("var/playout-cache"))
    send_realtime(Path("day.ts"), "udp://127.0.0.1:5000")      # 7 packets per datagram, paced by the mux rate
    hls_from_ts(Path("day.ts"), Path("var/hls/channel1"))        # -c copy, for the portal

Each distinct clip is normalised ONCE to the profile (``media.broadcast.package.package``:
R128 loudness, CBR TS at the profile's mux rate), cached by content hash. The day
is then spliced at the TS level without re-encoding: every item gets exactly the
packets its scheduled window holds at the mux rate, so item k's first packet sits
where its start time falls and the file is exactly the day's length. A clip longer
than its window is cut (the last incomplete PES of each elementary stream is
blanked to null packets, so no decoder sees half a frame); a shorter one is padded
with null packets. Continuity counters are renumbered per PID across the whole
output, PCRs are rewritten from the output packet position (so they are exactly
linear: constant bitrate, no discontinuity), and PTS/DTS are shifted by the same
offset as the clip's PCR. Then EIT p/f + schedule, TDT and TOT go into the null
packets (``media.broadcast.inject``, fed piece by piece in the same pass, so the day is written
once), switching p/f at each programme change.

The splice works on whole clips as numpy arrays (one row per packet); per clip
occurrence it touches a few columns, so a 24-hour day costs little more than
writing the file.
"""

from __future__ import annotations

import hashlib
import math
import queue
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import numpy as np

from fileio import replace_dir, replacing, temp_beside
from media.broadcast.dvb.eit import EitEvent
from media.broadcast.inject import InjectReport, SiConfig, SiInjector
from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg
from media.transcode.profiles import Profile

TS = 188
NULL_PID = 0x1FFF
PCR_HZ = 27_000_000
PCR_WRAP = (1 << 33) * 300
PTS_WRAP = 1 << 33
DATAGRAM_PACKETS = 7
GENERATED = ("clock", "black")
SHORTFALL_BLACK = 0.25
"""A clip this many seconds shorter than its slot gets black after it instead of null padding."""


class PlayoutError(MediaError):
    """A day that cannot be assembled or sent (missing clip, clip in another profile, bad URL)."""


@dataclass(frozen=True)
class PlayoutItem:
    """One entry of the day to air: a clip (or a generated clock/black) for ``duration`` seconds.

    ``offset`` is the item's start in seconds from the day's start; items are back to back,
    so it is only checked. ``generator`` names what to render when ``source`` is None.
    """

    source: Path | None
    duration: float
    media_in: float = 0.0
    title: str = ""
    generator: str | None = None
    offset: float | None = None

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise PlayoutError(f"item {self.title or self.source}: duration must be positive")
        if self.source is None and self.generator not in GENERATED:
            raise PlayoutError(f"item {self.title!r}: no source file and no generator (one of {', '.join(GENERATED)})")


@dataclass
class PlayoutReport:
    """What ``assemble_day`` wrote and how long each step took."""

    output: Path
    items: int
    duration: float
    mux_rate: int
    packets: int
    distinct_clips: int
    normalised: int
    cache_hits: int
    cut_items: int
    padded_packets: int
    blanked_packets: int
    pcr_packets_added: int
    tightened_packets: int = 0
    boundaries: list[float] = field(default_factory=list)
    normalise_seconds: float = 0.0
    splice_seconds: float = 0.0
    inject_seconds: float = 0.0
    inject: InjectReport | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "output": str(self.output), "items": self.items, "duration": round(self.duration, 3),
            "mux_rate": self.mux_rate, "packets": self.packets, "distinct_clips": self.distinct_clips,
            "normalised": self.normalised, "cache_hits": self.cache_hits, "cut_items": self.cut_items,
            "padded_packets": self.padded_packets, "blanked_packets": self.blanked_packets,
            "pcr_packets_added": self.pcr_packets_added, "tightened_packets": self.tightened_packets,
            "seconds": {"normalise": round(self.normalise_seconds, 3), "splice": round(self.splice_seconds, 3),
                        "inject": round(self.inject_seconds, 3)},
            "epg": self.inject.as_dict() if self.inject else None,
            "warnings": list(self.warnings),
        }


# Called with (source, media_in, output, profile): writes ``output`` as a CBR TS in ``profile``.
Normaliser = Callable[[Path, float, Path, Profile], None]


# --------------------------------------------------------------------------- TS clip index


@dataclass
class TsClip:
    """A normalised clip held as an (N, 188) array, with the positions the splice rewrites."""

    path: Path
    rows: np.ndarray  # (N, 188) uint8
    pid: np.ndarray  # (N,) int32
    payload: np.ndarray  # (N,) bool: carries payload (its CC counts)
    pusi: np.ndarray  # (N,) bool
    pcr_rows: np.ndarray  # rows holding a PCR
    pcr_values: np.ndarray  # int64, their PCRs
    ts_rows: np.ndarray  # rows with a PTS or DTS field
    ts_offsets: np.ndarray  # byte offset of that 5-byte field in the row
    pes_pids: tuple[int, ...]
    pes_rows: np.ndarray  # PES start rows (PES PIDs), stream order
    pes_pts: np.ndarray  # their PTS (90 kHz, unwrapped from the clip's first), -1 when absent
    origin_pts: int  # the earliest PTS of the clip: where its content starts
    _durations: dict[int, int] = field(default_factory=dict)

    @property
    def packets(self) -> int:
        return len(self.rows)

    def without(self, drop: np.ndarray) -> TsClip:
        """The clip with the null packets at rows ``drop`` taken out (everything after moves up)."""
        keep = np.ones(self.packets, dtype=bool)
        keep[drop] = False
        if not np.all(self.pid[drop] == NULL_PID):
            raise ValueError("only null packets can be taken out of a clip")
        moved = np.cumsum(keep) - 1  # new row of every kept row
        return replace(
            self, rows=self.rows[keep], pid=self.pid[keep], payload=self.payload[keep], pusi=self.pusi[keep],
            pcr_rows=moved[self.pcr_rows], ts_rows=moved[self.ts_rows], pes_rows=moved[self.pes_rows],
            _durations=dict(self._durations),
        )

    def first_pts(self, pid: int) -> int:
        """Where ``pid``'s content starts (its earliest PTS); the clip's origin when it has none."""
        pts = self.pes_pts[(self.pid[self.pes_rows] == pid) & (self.pes_pts >= 0)]
        return int(pts.min()) if pts.size else self.origin_pts

    def pes_duration(self, pid: int) -> int:
        """How long one PES of ``pid`` is presented (90 kHz): the usual step between PTS values."""
        cached = self._durations.get(pid)
        if cached is None:
            pts = np.sort(self.pes_pts[(self.pid[self.pes_rows] == pid) & (self.pes_pts >= 0)])
            steps = np.diff(pts)
            steps = steps[steps > 0]
            cached = self._durations[pid] = int(np.median(steps)) if steps.size else 0
        return cached

    @classmethod
    def load(cls, path: Path) -> TsClip:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % TS or raw[0] != 0x47:
            raise PlayoutError(f"{path}: not a 188-byte-packet transport stream")
        rows = raw.reshape(-1, TS)
        if not np.all(rows[:, 0] == 0x47):
            bad = int(np.argmax(rows[:, 0] != 0x47))
            raise PlayoutError(f"{path}: lost sync at packet {bad}")
        pid = ((rows[:, 1].astype(np.int32) & 0x1F) << 8) | rows[:, 2]
        afc = (rows[:, 3] >> 4) & 3
        payload = (afc & 1).astype(bool)
        pusi = (rows[:, 1] & 0x40).astype(bool)
        has_af = (afc & 2).astype(bool)
        af_len = np.where(has_af, rows[:, 4], 0)
        pcr_mask = has_af & (af_len > 0) & ((rows[:, 5] & 0x10) != 0) & (pid != NULL_PID)
        pcr_rows = np.nonzero(pcr_mask)[0]
        pcr_values = _read_pcr(rows, pcr_rows)
        # PES headers: payload start right after the adaptation field
        start = 4 + np.where(has_af, 1 + af_len, 0)
        cand = np.nonzero(pusi & payload & (pid != NULL_PID) & (start + 14 <= TS))[0]
        s = start[cand]
        is_pes = (rows[cand, s] == 0) & (rows[cand, s + 1] == 0) & (rows[cand, s + 2] == 1)
        cand, s = cand[is_pes], s[is_pes]
        flags = rows[cand, s + 7] >> 6
        ts_rows = [cand[flags >= 2]]
        ts_offsets = [s[flags >= 2] + 9]
        dts = (flags == 3) & (s + 19 <= TS)
        ts_rows.append(cand[dts])
        ts_offsets.append(s[dts] + 14)
        pts = np.full(cand.size, -1, dtype=np.int64)
        has = flags >= 2
        pts[has] = _read_timestamps(rows, cand[has], s[has] + 9)
        origin = int(pts[has].min()) if has.any() else 0
        pts[has] = origin + (pts[has] - origin) % PTS_WRAP
        return cls(
            path=path, rows=rows, pid=pid, payload=payload, pusi=pusi, pcr_rows=pcr_rows, pcr_values=pcr_values,
            ts_rows=np.concatenate(ts_rows), ts_offsets=np.concatenate(ts_offsets),
            pes_pids=tuple(sorted({int(p) for p in pid[cand]})), pes_rows=cand, pes_pts=pts, origin_pts=origin,
        )


def _read_pcr(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    b = rows[idx, 6:12].astype(np.int64)
    base = (b[:, 0] << 25) | (b[:, 1] << 17) | (b[:, 2] << 9) | (b[:, 3] << 1) | (b[:, 4] >> 7)
    ext = ((b[:, 4] & 1) << 8) | b[:, 5]
    return base * 300 + ext


def _write_pcr(rows: np.ndarray, idx: np.ndarray, pcr: np.ndarray) -> None:
    base = pcr // 300
    ext = pcr % 300
    rows[idx, 6] = (base >> 25) & 0xFF
    rows[idx, 7] = (base >> 17) & 0xFF
    rows[idx, 8] = (base >> 9) & 0xFF
    rows[idx, 9] = (base >> 1) & 0xFF
    rows[idx, 10] = ((base & 1) << 7) | 0x7E | ((ext >> 8) & 1)
    rows[idx, 11] = ext & 0xFF


def _read_timestamps(rows: np.ndarray, r: np.ndarray, o: np.ndarray) -> np.ndarray:
    b = [rows[r, o + k].astype(np.int64) for k in range(5)]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def _shift_timestamps(rows: np.ndarray, r: np.ndarray, o: np.ndarray, delta: int) -> None:
    """Add ``delta`` (90 kHz) to the 33-bit PTS/DTS fields at rows ``r``, byte offsets ``o``."""
    if r.size == 0:
        return
    b = [rows[r, o + k].astype(np.int64) for k in range(5)]
    v = ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
    v = (v + delta) % PTS_WRAP
    rows[r, o] = (b[0] & 0xF1) | (((v >> 30) & 7) << 1)
    rows[r, o + 1] = (v >> 22) & 0xFF
    rows[r, o + 2] = (((v >> 15) & 0x7F) << 1) | 1
    rows[r, o + 3] = (v >> 7) & 0xFF
    rows[r, o + 4] = ((v & 0x7F) << 1) | 1


NULL_ROW = np.frombuffer(bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184, dtype=np.uint8)
PCR_MAX_GAP = 0.025
"""Seconds between PCRs we allow ourselves (TR 101 290 allows 40 ms); gaps left by padding or a cut are
bridged with adaptation-field-only PCR packets put in place of null packets."""
PSI_MAX_GAP = {0x0000: 0.098, -1: 0.098, 0x0011: 1.5, 0x0010: 8.0}
"""PAT, PMT (-1: the profile's PMT PID), SDT and NIT repeated from the clip's own packets in padding."""
MIN_SECTION_GAP = 0.025
"""EN 300 468 §5.1.4: sections of one sub-table on one PID at least 25 ms apart."""


def _pcr_only_row(pid: int) -> np.ndarray:
    row = np.full(TS, 0xFF, dtype=np.uint8)
    row[0:4] = (0x47, (pid >> 8) & 0x1F, pid & 0xFF, 0x20)  # adaptation field only: CC not incremented
    row[4] = 183
    row[5] = 0x10  # PCR_flag
    return row


@dataclass
class _SpliceState:
    mux_rate: int
    pcr_pid: int
    pcr_base: int | None = None
    position: int = 0  # output packets written
    last_pcr: int | None = None  # output position of the last PCR written
    cc: dict[int, int] = field(default_factory=dict)
    blanked: int = 0
    padded: int = 0
    cut: int = 0  # clips longer than their slot even after tightening
    tightened: int = 0  # null packets taken out of clips so that their last packets fit their slot
    bridged: int = 0
    bridged_psi: int = 0
    pmt_pid: int = 0x100
    last_psi: dict[int, int] = field(default_factory=dict)
    psi_rows: dict[int, np.ndarray] = field(default_factory=dict)

    def packets_in(self, seconds: float) -> int:
        return max(1, int(seconds * self.mux_rate / (TS * 8)))

    def pcr_unwrapped(self, n: int) -> int:
        assert self.pcr_base is not None
        return self.pcr_base + (n * TS * 8 * PCR_HZ) // self.mux_rate

    def pcr_at(self, n: np.ndarray) -> np.ndarray:
        assert self.pcr_base is not None
        return (self.pcr_base + (n.astype(np.int64) * (TS * 8 * PCR_HZ)) // self.mux_rate) % PCR_WRAP


TIGHTEN_MAX = 0.25  # s: the most a clip may overrun its slot and still keep all of its packets
TIGHTEN_SPAN = 2.0  # s: the stretch before the slot's end whose null packets make the room


def _tighten(state: _SpliceState, clip: TsClip, window: int) -> TsClip:
    """Make a clip that is as long as its slot fit it whole.

    ffmpeg's CBR muxer sends a clip's last pictures a few packets after its
    nominal end (it sends each one ``max_delay`` before its decoding time), so a
    clip of exactly its slot's length spills over by tens of milliseconds, and
    cutting there would lose its last pictures in decoding order (a fifth of a
    second with B-frames). Taking that many null packets out of the stretch
    before the end, spread evenly, sends those packets slightly earlier instead,
    well inside the decoder's buffer, and keeps every picture and sound frame.
    """
    over = clip.packets - window
    if over <= 0 or over > state.packets_in(TIGHTEN_MAX):
        return clip
    lo = max(0, window - state.packets_in(TIGHTEN_SPAN))
    nulls = np.nonzero(clip.pid[lo:window] == NULL_PID)[0] + lo
    if nulls.size == 0:
        return clip
    k = min(over, int(nulls.size))
    drop = nulls[np.unique(np.linspace(0, nulls.size - 1, k).round().astype(np.int64))]
    state.tightened += int(drop.size)
    return clip.without(drop)


def splice_piece(state: _SpliceState, clip: TsClip, window: int, following: TsClip | None = None) -> np.ndarray:
    """The clip fitted into ``window`` packets at the current output position, rewritten for continuity.

    ``following`` (the next piece's clip) tells where the next content starts, so nothing of this
    clip is presented after that.
    """
    if clip.pcr_rows.size == 0:
        raise PlayoutError(f"{clip.path}: no PCR; was it normalised to the channel's profile?")
    clip = _tighten(state, clip, window)
    state.cut += clip.packets > window
    if state.pcr_base is None:
        state.pcr_base = (int(clip.pcr_values[0])
                          - (int(clip.pcr_rows[0]) * TS * 8 * PCR_HZ) // state.mux_rate) % PCR_WRAP
    delta27 = state.pcr_unwrapped(state.position + int(clip.pcr_rows[0])) - int(clip.pcr_values[0])
    next_pcr = None
    if following is not None and following.pcr_rows.size:
        next_pcr = state.pcr_unwrapped(state.position + window + int(following.pcr_rows[0]))

    def limit_for(p: int) -> int:
        """Where the next content of the same elementary stream starts, in this clip's PTS.

        Each stream is held against its own successor: a clip's sound starts a little before
        its picture (the audio encoder's priming), which must not cut the outgoing picture.
        """
        if next_pcr is not None and following is not None:
            next_start = (next_pcr - int(following.pcr_values[0])) // 300 + following.first_pts(p)
            return next_start - delta27 // 300
        return clip.first_pts(p) + (window * TS * 8 * 90_000) // state.mux_rate
    take = min(clip.packets, window)
    rows = np.empty((window, TS), dtype=np.uint8)
    rows[:take] = clip.rows[:take]
    rows[take:] = NULL_ROW
    pid = np.full(window, NULL_PID, dtype=np.int32)
    pid[:take] = clip.pid[:take]
    payload = np.zeros(window, dtype=bool)
    payload[:take] = clip.payload[:take]
    state.padded += window - take
    # each elementary stream loses, in stream (decode) order, everything from the first PES whose
    # presentation would run past the next clip's start (so nothing overlaps it and what remains
    # decodes), and its last PES if a cut leaves it incomplete
    # boundaries fall on whole packets, so the next start is known to within one packet's time
    slack = 45 + (TS * 8 * 90_000) // state.mux_rate
    for p in clip.pes_pids:
        mine = clip.pid[clip.pes_rows] == p
        rows_p, pts_p = clip.pes_rows[mine], clip.pes_pts[mine]
        late = np.nonzero((pts_p + clip.pes_duration(p) > limit_for(p) + slack) & (rows_p < take))[0]
        first = int(rows_p[late[0]]) if late.size else take
        later = np.nonzero(clip.pid[take:] == p)[0]
        if later.size and not clip.pusi[take + later[0]]:
            started = rows_p[rows_p < take]
            first = min(first, int(started[-1]) if started.size else 0)
        if first < take:
            sel = np.nonzero(pid[first:take] == p)[0] + first
            rows[sel] = NULL_ROW
            pid[sel] = NULL_PID
            state.blanked += int(sel.size)
    payload &= pid != NULL_PID
    has_pcr = np.zeros(window, dtype=bool)
    kept_pcr = clip.pcr_rows[clip.pcr_rows < take]
    has_pcr[kept_pcr[pid[kept_pcr] != NULL_PID]] = True

    # bridge gaps (padding, blanked tails) in place of null packets: PCR-only packets, and PSI repeats
    def next_first(p: int) -> int:
        """Where the following clip's first packet of PID ``p`` (or first PCR, p = -1) will land."""
        if following is None:
            return -1
        if p == -1:
            return int(following.pcr_rows[0]) if following.pcr_rows.size else -1
        head = np.nonzero(following.pid[:20000] == p)[0]
        return int(head[0]) if head.size else -1

    def bridge(mask: np.ndarray, last: int | None, limit: int, make: np.ndarray, on_pid: int, carries: bool) -> int:
        prev = [last - state.position] if last is not None else []
        ahead = next_first(-1 if on_pid == state.pcr_pid and not carries else on_pid)
        end = window + (ahead if 0 <= ahead < limit else limit - 1)  # the next clip's own copy, if soon
        anchors = np.concatenate([np.array(prev, dtype=np.int64), np.nonzero(mask)[0], [end]])
        added = 0
        for k in np.nonzero(np.diff(anchors) > limit)[0].tolist():  # only the gaps, not every packet
            a, b = int(anchors[k]), int(anchors[k + 1])
            cur = a
            while b - cur > limit:
                parts = -(-(b - cur) // limit)  # sub-gaps still needed; aim for equal ones
                target = cur + -(-(b - cur) // parts)
                lo, hi = max(cur + 1, 0), min(cur + limit, window - 1)
                nulls = np.nonzero(pid[lo: hi + 1] == NULL_PID)[0] + lo
                if nulls.size == 0:
                    break  # a dense stretch without nulls: the clip's own packets resume soon
                at = int(nulls[np.argmin(np.abs(nulls - target))])
                rows[at] = make
                pid[at] = on_pid
                payload[at] = carries
                mask[at] = True
                added += 1
                cur = at
        found = np.nonzero(mask)[0]
        return state.position + int(found[-1]) if found.size else (last if last is not None else -1)

    # a clip opens with PAT/PMT/SDT/NIT; right after the previous clip's they would come closer than
    # EN 300 468 allows for one sub-table (25 ms), so those first copies go
    for p in (0x0000, state.pmt_pid, 0x0011, 0x0010):
        last = state.last_psi.get(p)
        if last is None:
            continue
        gap = math.ceil(MIN_SECTION_GAP * state.mux_rate / (TS * 8))
        for at in np.nonzero(pid[: gap + 1] == p)[0].tolist():
            if state.position + at - last >= gap:
                break
            rows[at] = NULL_ROW
            pid[at] = NULL_PID
            payload[at] = False

    pcr_limit = state.packets_in(PCR_MAX_GAP)
    before_pcr = int(has_pcr.sum())
    state.last_pcr = bridge(has_pcr, state.last_pcr, pcr_limit, _pcr_only_row(state.pcr_pid), state.pcr_pid, False)
    for p, seconds in PSI_MAX_GAP.items():
        p = state.pmt_pid if p == -1 else p
        if p not in state.psi_rows:
            first = np.nonzero((clip.pid == p) & clip.pusi)[0]
            if first.size == 0:
                continue
            state.psi_rows[p] = clip.rows[int(first[0])].copy()
        mask = pid == p
        before = int(mask.sum())
        state.last_psi[p] = bridge(mask, state.last_psi.get(p), state.packets_in(seconds), state.psi_rows[p], p, True)
        state.bridged_psi += int(mask.sum()) - before
    state.bridged += int(has_pcr.sum()) - before_pcr

    # continuity counters: one running counter per PID over the whole output
    for p in np.unique(pid[pid != NULL_PID]):
        sel = np.nonzero(pid == p)[0]
        counts = np.cumsum(payload[sel]) - 1
        start = state.cc.get(int(p), 0)
        rows[sel, 3] = (rows[sel, 3] & 0xF0) | ((start + counts) & 0x0F).astype(np.uint8)
        state.cc[int(p)] = (start + int(payload[sel].sum())) & 0x0F

    # PCR from the output position; PTS/DTS moved by the offset given to the clip's first PCR
    pcr_rows = np.nonzero(has_pcr)[0]
    _write_pcr(rows, pcr_rows, state.pcr_at(state.position + pcr_rows))
    if pcr_rows.size:
        state.last_pcr = state.position + int(pcr_rows[-1])
    delta90 = round(delta27 / 300) % PTS_WRAP
    ts_sel = clip.ts_rows < take
    r, o = clip.ts_rows[ts_sel], clip.ts_offsets[ts_sel]
    alive = pid[r] == clip.pid[r]  # not blanked, nor reused for a bridging packet
    _shift_timestamps(rows, r[alive], o[alive], delta90)
    state.position += window
    return rows


# --------------------------------------------------------------------------- normalising


def content_key(path: Path, media_in: float, profile: Profile) -> str:
    """Cache key of a normalised clip: SHA-256 of the source bytes, the in-point, the profile file and the
    service it carries (two channels sharing a profile get clips with their own SDT)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    h.update(f"|in={media_in:.3f}|".encode())
    h.update(profile.source.read_bytes() if profile.source.exists() else profile.name.encode())
    h.update(f"|{profile.service.key}".encode())
    return h.hexdigest()[:32]


def profile_tag(profile: Profile) -> str:
    """Names generated clips (clock, black) in the cache: the profile's name plus a hash of its file and the
    service it carries, so a changed profile or another channel's identity never reuses them."""
    h = hashlib.sha256(profile.source.read_bytes() if profile.source.exists() else profile.name.encode())
    h.update(f"|{profile.service.key}".encode())
    return f"{profile.name}-{h.hexdigest()[:10]}"


AUDIO_STREAM_TYPES = {"aac": {0x11, 0x0F}, "mp2": {0x03, 0x04}, "ac3": {0x06, 0x81}}
VIDEO_STREAM_TYPES = {"h264": 0x1B, "mpeg2video": 0x02}
AUDIO_CODECS = {"aac": ("aac", "aac_latm"), "mp2": ("mp2",), "ac3": ("ac3",)}
HEAD_BYTES = 4 << 20


def packaged_for(source: Path, profile: Profile) -> bool:
    """Whether ``source`` already is what ``package`` makes for ``profile`` and its bound service: a CBR TS
    at the profile's mux rate (from the PCRs of its first megabytes), the profile's PIDs and stream types,
    PAT/SDT/PMT naming the profile's service, and the picture and sound the profile asks for (probed).

    Such a clip (an archived lecture packaged for the channel by the ``package`` job) is taken into
    the cache as it is instead of being encoded a second time.
    """
    from media.broadcast.dvb.mpegts import SectionAssembler
    from media.broadcast.dvb.psi import decode_pat, decode_pmt, decode_sdt, parse_section
    from media.transcode.probe import probe

    try:
        with Path(source).open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return False
    n = len(head) // TS
    if n < 64:
        return False
    rows = np.frombuffer(head[: n * TS], dtype=np.uint8).reshape(-1, TS)
    if not np.all(rows[:, 0] == 0x47):
        return False
    t, svc = profile.transport, profile.service
    pid = ((rows[:, 1].astype(np.int32) & 0x1F) << 8) | rows[:, 2]
    if not {t.pmt_pid, t.video_pid, t.audio_pid} <= set(np.unique(pid).tolist()):
        return False
    tables: dict[int, object] = {}
    for want in (0x0000, 0x0011, t.pmt_pid):
        asm = SectionAssembler()
        for i in np.nonzero(pid == want)[0][:50]:
            row = rows[i]
            afc = (row[3] >> 4) & 3
            if not afc & 1:
                continue
            start = 4 + (1 + int(row[4]) if afc & 2 else 0)
            for raw in asm.feed(row[start:].tobytes(), bool(row[1] & 0x40)):
                try:
                    sec = parse_section(raw)
                    tables.setdefault(want, decode_pat(sec) if want == 0 else decode_sdt(sec) if want == 0x11
                                      else decode_pmt(sec))
                except (MediaError, ValueError, IndexError):
                    return False
            if want in tables:
                break
    pat, sdt, pmt = tables.get(0), tables.get(0x11), tables.get(t.pmt_pid)
    if pat is None or sdt is None or pmt is None:
        return False
    if (getattr(pat, "transport_stream_id", None) != svc.transport_stream_id
            or getattr(pat, "programs", {}).get(svc.service_id) != t.pmt_pid):
        return False
    services = getattr(sdt, "services", ())
    if (getattr(sdt, "original_network_id", None) != svc.original_network_id or len(services) != 1
            or (services[0].service_id, services[0].name, services[0].provider) != (svc.service_id, svc.name, svc.provider)):
        return False
    types = {s.pid: s.stream_type for s in getattr(pmt, "streams", ())}
    if (types.get(t.video_pid) != VIDEO_STREAM_TYPES[profile.video.codec]
            or types.get(t.audio_pid) not in AUDIO_STREAM_TYPES[profile.audio.codec]):
        return False
    pcr = np.nonzero((pid == t.pcr_pid) & (((rows[:, 3] >> 5) & 1) == 1) & (rows[:, 4] > 0) & ((rows[:, 5] & 0x10) != 0))[0]
    if pcr.size < 2:
        return False
    values = _read_pcr(rows, pcr)
    ticks = int(values[-1] - values[0]) % PCR_WRAP
    if ticks <= 0 or abs((int(pcr[-1]) - int(pcr[0])) * TS * 8 * PCR_HZ / ticks - t.mux_rate) > t.mux_rate * 0.005:
        return False
    try:
        info = probe(source)
    except MediaError:
        return False
    v, a = info.video, info.audio
    return (info.format == "mpegts" and v is not None and a is not None and v.codec == profile.video.codec
            and (v.width, v.height) == (profile.video.width, profile.video.height)
            and v.frame_rate == profile.video.frame_rate and a.codec in AUDIO_CODECS[profile.audio.codec]
            and a.sample_rate == profile.audio.sample_rate and a.channels == profile.audio.channels)  # fmt: skip


def package_normaliser(ffmpeg: FFmpeg | None = None, preset: str = "veryfast") -> Normaliser:
    """Normalise with ``media.broadcast.package.package`` (R128 + CBR TS); an in-point is cut first.

    A clip that already is the profile's stream with its service (``packaged_for``) is copied as it is.
    """

    def run(source: Path, media_in: float, output: Path, profile: Profile) -> None:
        from media.broadcast.package import package

        ff = ffmpeg or FFmpeg.locate()
        if media_in <= 0 and packaged_for(source, profile):
            with replacing(output, "copy", keep_suffix=True) as tmp:
                shutil.copyfile(source, tmp)
            return
        if media_in > 0:
            cut = output.with_name(f".{output.stem}.cut-{uuid.uuid4().hex[:8]}.mkv")
            try:
                ff.run(["-ss", f"{media_in:.3f}", "-i", str(source), "-map", "0:v:0", "-map", "0:a:0?",
                        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-c:a", "pcm_s16le"],
                       output=cut, subject=source)
                package(cut, output, profile, ffmpeg=ff, preset=preset)
            finally:
                cut.unlink(missing_ok=True)
        else:
            package(source, output, profile, ffmpeg=ff, preset=preset)

    return run


def render_generated(kind: str, seconds: float, output: Path, profile: Profile, ffmpeg: FFmpeg) -> None:
    """A picture source for a generated item: a countdown clock to the next programme, or black.

    Rendered without sound (packaging adds silence) at the profile's raster, then packaged.
    """
    v = profile.video
    size = f"{v.width}x{v.height}"
    if kind == "clock":
        fs = max(16, v.height // 8)
        src = (f"color=c=0x102040:s={size}:r={v.frame_rate}:d={seconds:.3f},"
               f"drawtext=text='%{{pts\\:hms\\:-{seconds:.3f}}}':fontcolor=white:fontsize={fs}"
               f":x=(w-tw)/2:y=(h-th)/2")
    else:
        src = f"color=c=black:s={size}:r={v.frame_rate}:d={seconds:.3f}"
    from media.broadcast.package import package

    raw = output.with_name(f".{output.stem}.raw-{uuid.uuid4().hex[:8]}.mkv")
    try:
        ffmpeg.run(["-f", "lavfi", "-i", src, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
                    "-pix_fmt", "yuv420p"], output=raw, subject=f"{kind} {seconds:.3f} s")
        package(raw, output, profile, ffmpeg=ffmpeg, preset="veryfast")
    finally:
        raw.unlink(missing_ok=True)


# --------------------------------------------------------------------------- assembling


def assemble_day(
    items: Sequence[PlayoutItem],
    out: Path,
    profile: Profile,
    *,
    si: SiConfig | None = None,
    events: Sequence[EitEvent] = (),
    cache_dir: Path | None = None,
    ffmpeg: FFmpeg | None = None,
    normaliser: Normaliser | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PlayoutReport:
    """Normalise each distinct clip once, splice the day into one CBR TS, inject EIT/TDT/TOT.

    ``out`` appears only when everything succeeded. ``si`` None skips the EPG (the
    TS then has PAT/PMT/SDT/NIT only). ``progress(stage, done, total)`` reports
    "normalise" per clip and "splice" per item.
    """
    if not items:
        raise PlayoutError("the day has no items")
    out = Path(out)
    ff = ffmpeg or FFmpeg.locate()
    norm = normaliser or package_normaliser(ff)
    cache = Path(cache_dir) if cache_dir is not None else out.parent / ".playout-cache"
    cache.mkdir(parents=True, exist_ok=True)
    rate = profile.transport.mux_rate
    warnings: list[str] = []

    # 1. one normalised TS per distinct (source, in-point) or generated (kind, length)
    t0 = time.monotonic()
    keys: list[str] = []
    jobs: dict[str, Callable[[Path], None]] = {}
    hashes: dict[tuple[Path, float], str] = {}
    for i, item in enumerate(items):
        if item.source is None:
            assert item.generator is not None
            key = f"{item.generator}-{round(item.duration * 1000)}ms-{profile_tag(profile)}"
            gen, secs = item.generator, item.duration
            jobs.setdefault(key, lambda dst, gen=gen, secs=secs: render_generated(gen, secs, dst, profile, ff))
        else:
            src = Path(item.source)
            if not src.is_file():
                raise PlayoutError(f"item {i} ({item.title or src.name}): source {src} does not exist")
            hk = (src.resolve(), round(item.media_in, 3))
            if hk not in hashes:
                hashes[hk] = content_key(src, item.media_in, profile)
            key = hashes[hk]
            jobs.setdefault(key, lambda dst, src=src, mi=item.media_in: norm(src, mi, dst, profile))
        keys.append(key)
    normalised = hits = 0
    for n, (key, job) in enumerate(jobs.items()):
        dst = cache / f"{key}.ts"
        if dst.exists():
            hits += 1
        else:
            job(dst)
            normalised += 1
        if progress:
            progress("normalise", n + 1, len(jobs))
    normalise_seconds = time.monotonic() - t0

    # 2. where a clip is clearly shorter than its slot, black fills the rest (null padding would
    #    leave the decoder without PTS for longer than TR 101 290 allows)
    t0 = time.monotonic()
    clips: dict[str, TsClip] = {}
    offsets_ms = np.cumsum([0] + [round(it.duration * 1000) for it in items])
    for i, item in enumerate(items):
        if item.offset is not None and abs(item.offset * 1000 - offsets_ms[i]) > 1.5:
            raise PlayoutError(f"item {i} ({item.title}): starts at {item.offset:.3f} s but the items before "
                               f"it end at {offsets_ms[i] / 1000:.3f} s (gap or overlap)")
    # boundaries on the frame grid, so one clip's last picture and the next one's first never share a slot
    frame = Fraction(1) / Fraction(profile.video.frame_rate)
    snapped = [round(Fraction(int(ms), 1000) / frame) * frame for ms in offsets_ms]
    positions = np.array([round(t * rate / (TS * 8)) for t in snapped], dtype=np.int64)
    pieces: list[tuple[str, int]] = []  # (clip key, window in packets)
    boundaries: list[float] = []
    for i, item in enumerate(items):
        key = keys[i]
        if key not in clips:
            clips[key] = TsClip.load(cache / f"{key}.ts")
            _check_profile(clips[key], profile)
        clip = clips[key]
        window = int(positions[i + 1] - positions[i])
        boundaries.append(int(positions[i]) * TS * 8 / rate)
        short = (window - clip.packets) * TS * 8 / rate
        if short > SHORTFALL_BLACK:
            secs = math.ceil(short * 25) / 25
            bkey = f"black-{round(secs * 1000)}ms-{profile_tag(profile)}"
            dst = cache / f"{bkey}.ts"
            if not dst.exists():
                render_generated("black", secs, dst, profile, ff)
                normalised += 1
            if bkey not in clips:
                clips[bkey] = TsClip.load(dst)
            warnings.append(f"item {i} ({item.title}): clip ends {short:.2f} s before its slot ends; black fills the rest")
            pieces += [(key, clip.packets), (bkey, window - clip.packets)]
        else:
            pieces.append((key, window))
    normalise_seconds += time.monotonic() - t0

    # 3. splice, and in the same pass (no second write of the day) EIT/TDT/TOT into the null packets
    state = _SpliceState(mux_rate=rate, pcr_pid=profile.transport.pcr_pid, pmt_pid=profile.transport.pmt_pid)
    injector = SiInjector(si, events) if si is not None else None
    splice_seconds = inject_seconds = 0.0
    report_inject = None
    with replacing(out, "splice", keep_suffix=True) as spliced, spliced.open("wb") as fh, _Writer(fh) as writer:
        for n, (key, window) in enumerate(pieces):
            t0 = time.monotonic()
            following = clips[pieces[n + 1][0]] if n + 1 < len(pieces) else None
            chunk = splice_piece(state, clips[key], window, following)
            splice_seconds += time.monotonic() - t0
            if injector is not None:
                t0 = time.monotonic()
                writer.put(injector.feed_parts(chunk.tobytes()))
                inject_seconds += time.monotonic() - t0
            else:
                writer.put([memoryview(chunk)])
            if progress:
                progress("splice", n + 1, len(pieces))
        if injector is not None:
            t0 = time.monotonic()
            writer.put(injector.flush_parts())
            report_inject = injector.finish()
            warnings.extend(report_inject.violations)
            inject_seconds += time.monotonic() - t0

    return PlayoutReport(
        output=out, items=len(items), duration=int(positions[-1]) * TS * 8 / rate, mux_rate=rate,
        packets=int(positions[-1]), distinct_clips=len(jobs), normalised=normalised, cache_hits=hits,
        cut_items=state.cut, padded_packets=state.padded, blanked_packets=state.blanked, pcr_packets_added=state.bridged,
        tightened_packets=state.tightened, boundaries=boundaries,
        normalise_seconds=normalise_seconds, splice_seconds=splice_seconds, inject_seconds=inject_seconds,
        inject=report_inject, warnings=warnings,
    )


class _Writer:
    """Writes pieces on a thread of its own, so the disk works while the next piece is spliced.

    At most ``depth`` pieces wait; a write error is raised in the caller at the next ``put`` or at exit.
    """

    def __init__(self, fh: BinaryIO, depth: int = 3) -> None:
        self.fh = fh
        self.queue: queue.Queue[list[bytes | memoryview] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="playout-writer", daemon=True)

    def _run(self) -> None:
        while (parts := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.fh.writelines(parts)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.error = exc

    def put(self, parts: list[bytes | memoryview]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(parts)

    def __enter__(self) -> _Writer:
        self.thread.start()
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and ev is None:
            raise self.error


def _check_profile(clip: TsClip, profile: Profile) -> None:
    t = profile.transport
    pids = set(np.unique(clip.pid).tolist())
    missing = {t.video_pid, t.audio_pid, t.pmt_pid} - pids
    if missing:
        raise PlayoutError(
            f"{clip.path}: PIDs {', '.join(f'0x{p:04X}' for p in sorted(missing))} of profile {profile.name} "
            "are missing; every clip must be normalised to the channel's profile"
        )
    if clip.pcr_rows.size >= 2:
        a, b = int(clip.pcr_rows[0]), int(clip.pcr_rows[-1])
        if b > a:
            measured = (b - a) * TS * 8 * PCR_HZ / ((int(clip.pcr_values[-1]) - int(clip.pcr_values[0])) % PCR_WRAP)
            if abs(measured - profile.transport.mux_rate) > profile.transport.mux_rate * 0.01:
                raise PlayoutError(f"{clip.path}: mux rate {measured:.0f} bit/s, profile {profile.name} says "
                                   f"{profile.transport.mux_rate}")


# --------------------------------------------------------------------------- sending


@dataclass
class SendReport:
    """What ``send_realtime`` sent and how closely it kept to the clock."""

    url: str
    packets: int
    datagrams: int
    seconds: float
    stream_seconds: float
    max_late_seconds: float
    joined_seconds: float = 0.0  # stream position the sending began at (a late start joins the day in progress)
    waited_seconds: float = 0.0  # time spent waiting for the start to come round


def mux_rate_of(ts: Path) -> int:
    """The constant bitrate of a TS from its first and last PCR (the PCR PID's)."""
    clip = TsClip.load(Path(ts))
    if clip.pcr_rows.size < 2:
        raise PlayoutError(f"{ts}: fewer than two PCRs, cannot tell its bitrate")
    first_pid = clip.pid[clip.pcr_rows[0]]
    sel = clip.pcr_rows[clip.pid[clip.pcr_rows] == first_pid]
    vals = clip.pcr_values[clip.pid[clip.pcr_rows] == first_pid]
    ticks = (int(vals[-1]) - int(vals[0])) % PCR_WRAP
    return round((int(sel[-1]) - int(sel[0])) * TS * 8 * PCR_HZ / ticks)


def send_realtime(
    ts: Path,
    url: str,
    *,
    mux_rate: int | None = None,
    stop: threading.Event | None = None,
    ffmpeg: FFmpeg | None = None,
    on_datagram: Callable[[int, float], None] | None = None,
    at: datetime | None = None,
) -> SendReport:
    """Send ``ts`` to ``url`` in real time: ``udp://host:port`` (7×188-byte datagrams, paced by the
    mux rate), or ``srt://...`` through ffmpeg when its build lists the srt protocol.

    ``at`` is the wall-clock moment the stream's first packet is due on air (the day's start, which
    its TDT/EIT also say): sending waits for it, and a start after it joins the day where the clock
    says it is, so programmes go out when the EPG announces them. Without ``at`` sending starts now.
    ``stop`` ends the sending early; ``on_datagram(index, stream_seconds)`` is called per datagram.
    """
    ts = Path(ts)
    u = urlparse(url)
    if u.scheme == "srt":
        if at is not None:
            raise PlayoutError("sending on schedule needs udp://; srt:// sends from the start, now")
        return _send_srt(ts, url, ffmpeg or FFmpeg.locate())
    if u.scheme != "udp" or not u.hostname or not u.port:
        raise PlayoutError(f"{url}: give udp://HOST:PORT (or srt://HOST:PORT when ffmpeg has srt)")
    rate = mux_rate or mux_rate_of(ts)
    size = ts.stat().st_size
    if size % TS:
        raise PlayoutError(f"{ts}: size is not a multiple of 188 bytes")
    per = DATAGRAM_PACKETS * TS
    interval = per * 8 / rate
    family = socket.AF_INET6 if ":" in u.hostname else socket.AF_INET
    sent = 0
    late = 0.0
    waited = 0.0
    first = 0  # index of the first datagram to send
    if at is not None:
        ahead = (at - datetime.now(UTC)).total_seconds()
        if ahead > 0:
            waited = ahead
            if stop is not None and stop.wait(ahead):
                return SendReport(url=url, packets=0, datagrams=0, seconds=0.0, stream_seconds=0.0,
                                  max_late_seconds=0.0, waited_seconds=waited)
            time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
        first = max(0, int((datetime.now(UTC) - at).total_seconds() / interval))
        if first * per >= size:
            raise PlayoutError(f"{ts}: the day was due on air at {at.isoformat(timespec='seconds')} and has "
                               f"already ended ({size * 8 / rate:.0f} s long); nothing left to send")
    with socket.socket(family, socket.SOCK_DGRAM) as sock, ts.open("rb") as fh:
        sock.connect((u.hostname, u.port))
        fh.seek(first * per)
        # Due times run on the day's clock: datagram n is due at at + n * interval.
        t0 = time.monotonic() - (0.0 if at is None else (datetime.now(UTC) - at).total_seconds())
        n = first
        while True:
            if stop is not None and stop.is_set():
                break
            data = fh.read(per)
            if not data:
                break
            due = t0 + n * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            sock.send(data)
            sent += len(data)
            if on_datagram:
                on_datagram(n, n * interval)
            n += 1
        elapsed = time.monotonic() - t0 - first * interval
    return SendReport(url=url, packets=sent // TS, datagrams=n - first, seconds=elapsed,
                      stream_seconds=sent * 8 / rate, max_late_seconds=late, joined_seconds=first * interval,
                      waited_seconds=waited)


def has_srt(ffmpeg: FFmpeg) -> bool:
    out = subprocess.run([ffmpeg.binary, "-hide_banner", "-protocols"], capture_output=True, text=True, check=False)
    outputs = out.stdout.split("Output:", 1)[-1]
    return any(line.strip() == "srt" for line in outputs.splitlines())


def _send_srt(ts: Path, url: str, ff: FFmpeg) -> SendReport:
    if not has_srt(ff):
        raise PlayoutError(f"{ff.binary} has no srt protocol; send over udp:// instead")
    t0 = time.monotonic()
    ff.run(["-re", "-i", str(ts), "-map", "0", "-c", "copy", "-f", "mpegts", url], subject=ts)
    size = ts.stat().st_size
    return SendReport(url=url, packets=size // TS, datagrams=0, seconds=time.monotonic() - t0,
                      stream_seconds=0.0, max_late_seconds=0.0)


def hls_from_ts(ts: Path, directory: Path, *, segment_seconds: int = 6, live: bool = False,
                ffmpeg: FFmpeg | None = None) -> Path:
    """Cut the channel TS into HLS with ``-c copy``; returns the playlist path.

    ``live`` paces the input in real time and keeps a sliding window of segments (a
    channel on the portal); otherwise the whole day becomes a VOD playlist, written
    in a temporary folder and moved into place when complete.
    """
    ff = ffmpeg or FFmpeg.locate()
    directory = Path(directory)
    if live:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory
    else:
        directory.parent.mkdir(parents=True, exist_ok=True)
        target = temp_beside(directory, "hls")
        target.mkdir()
    args = ["-re"] if live else []
    args += ["-i", str(ts), "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "hls",
             "-hls_time", str(segment_seconds),
             "-hls_segment_filename", str(target / "seg-%05d.ts")]
    args += ["-hls_list_size", "10", "-hls_flags", "delete_segments"] if live else ["-hls_playlist_type", "vod"]
    try:
        ff.run([*args, str(target / "index.m3u8")], subject=ts)
    except BaseException:
        if not live:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        raise
    if not live:
        replace_dir(target, directory)
    return directory / "index.m3u8"
