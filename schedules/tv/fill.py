"""Filling a channel day: lectures at their fixed start times, fillers and repeats to the second."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from fileio.message import Message, Messages
from schedules.tv.day import (
    MIN_PIECE_MS,
    Channel,
    Day,
    DayReport,
    Episode,
    Filler,
    FillerPool,
    Item,
    RepeatRule,
    Series,
    Text,
    TvScheduleError,
    ms_between,
    ms_from_seconds,
)

# ---------------------------------------------------------------- building

# What the builder tells the engineer (DayReport.notes; the engineer page words them as engineer.msg.<code>).
# {programme} is "<series title> ep. <n>" (with " (repeat)"); the note's params also carry title, episode
# and repeat ("1" or "") so a page can say it in its own words.
_OVERLAP = "starts {start} but overlaps '{other}' ({other_start}–{other_end})"
_DAY_END = "starts {start} but overlaps the end of the day"
WARNINGS = Messages({
    "tv_moved": "{programme}: " + _OVERLAP + "; moved to {moved_to}",
    "tv_moved_day_end": "{programme}: " + _DAY_END + "; moved to {moved_to}",
    "tv_dropped": "{programme}: " + _OVERLAP + "; no free slot left, not aired",
    "tv_dropped_day_end": "{programme}: " + _DAY_END + "; no free slot left, not aired",
    "tv_no_slot": "{programme}: no free slot of the channel can take it, not aired",
    "tv_outside_day": "{programme}: start {start} is outside the day",
    "tv_empty_slot": "slot {slot} has no lecture; filled with fillers",
    "tv_black": "gap {start}–{end}: {seconds} s left black (no loop filler or clock can fill it)",
})  # fmt: skip


def day_bounds(channel: Channel, day: date, length: timedelta | None = None) -> tuple[datetime, datetime]:
    """Local start and end of ``day``: from day_start to the next day's day_start (23/24/25 h)."""
    zone = channel.zone
    start = _local(day, channel.day_start, zone)
    end = _local(day + timedelta(days=1), channel.day_start, zone) if length is None else None
    if end is None:
        end = (start.astimezone(UTC) + length).astimezone(zone)
    return start, end


def build_day(
    channel: Channel,
    day: date,
    series: Sequence[Series],
    fillers: FillerPool,
    repeats: Sequence[RepeatRule] = (),
    *,
    overlap: Literal["refuse", "shift"] = "refuse",
    length: timedelta | None = None,
) -> Day:
    """Place the lectures and repeats of ``day`` at fixed start times and fill every gap.

    Episodes dated ``day`` go to their own start time, else their series' slot, else the
    next free channel slot. Overlaps (and programmes running past the day's end) raise
    ``TvScheduleError`` with ``overlap="refuse"``; with ``"shift"`` the later programme
    moves to the next free slot or is dropped, and the report says so. ``length``
    shortens the day (tests and previews); normally the day runs to the next day_start.
    """
    if overlap not in ("refuse", "shift"):
        raise TvScheduleError(f"overlap policy must be 'refuse' or 'shift', not {overlap!r}")
    start, end = day_bounds(channel, day, length)
    day_ms = ms_between(start, end)
    warnings: list[Message] = []
    slot_offsets = sorted({_offset(start, day, s, channel.zone) for s in channel.slots})
    slot_offsets = [o for o in slot_offsets if 0 <= o < day_ms]

    by_id = {s.id: s for s in series}
    if len(by_id) != len(series):
        raise TvScheduleError("two series share one id")
    wanted: list[tuple[int | None, Item, dict[str, str]]] = []
    for s in series:
        slot_taken = False
        for ep in sorted(s.episodes, key=lambda e: e.number):
            if ep.date != day:
                continue
            at = ep.start
            if at is None and not slot_taken:
                at, slot_taken = s.slot, True  # the series slot takes its first lecture; more float
            off = _offset(start, day, at, channel.zone) if at is not None else None
            wanted.append((off, _programme(s, ep, "lecture"), _label(s, ep)))
    for rule in repeats:
        s = by_id.get(rule.series)
        if s is None:
            raise TvScheduleError(f"repeat rule names unknown series {rule.series!r}")
        first = day - timedelta(days=rule.day_offset)
        eps = [e for e in s.episodes if e.date == first and (rule.episode is None or e.number == rule.episode)]
        off = _offset(start, day, rule.at, channel.zone)
        for ep in eps:
            at = ep.start or s.slot
            first_at = _local(first, at, channel.zone) if at is not None else None
            item = replace(_programme(s, ep, "repeat"), first_shown=first_at)
            # several repeats of one rule run back to back from its start time
            wanted.append((off, item, _label(s, ep, repeat=True)))
            off += item.duration_ms

    placed: list[Item] = []

    def free(at: int, dur: int) -> bool:
        return at + dur <= day_ms and all(at + dur <= p.offset_ms or at >= p.end_ms for p in placed)

    def place(at: int, item: Item) -> None:
        placed.append(replace(item, offset_ms=at))
        placed.sort(key=lambda p: p.offset_ms)

    def next_slot(item: Item, after: int, label: dict[str, str], why: dict[str, str] | None) -> bool:
        """``why``: None for a floating lecture, else the clash (start, and other/other_start/other_end)."""
        for so in slot_offsets:
            if so >= after and free(so, item.duration_ms):
                place(so, item)
                if why is not None:
                    code = "tv_moved" if "other" in why else "tv_moved_day_end"
                    warnings.append(WARNINGS.make(code, **label, **why, moved_to=_hhmm(start, so, channel)))
                return True
        if why is not None:
            warnings.append(WARNINGS.make("tv_dropped" if "other" in why else "tv_dropped_day_end", **label, **why))
        else:
            _refuse_or_warn(overlap, warnings, WARNINGS.make("tv_no_slot", **label))
        return False

    fixed = sorted((w for w in wanted if w[0] is not None), key=lambda w: (w[0], w[2]["programme"]))
    floating = [w for w in wanted if w[0] is None]
    for off, item, label in fixed:
        assert off is not None
        if off < 0 or off >= day_ms:
            _refuse_or_warn(overlap, warnings, WARNINGS.make("tv_outside_day", **label, start=_hhmm(start, off, channel)))
            continue
        if free(off, item.duration_ms):
            place(off, item)
            continue
        clash = next((p for p in placed if off < p.end_ms and off + item.duration_ms > p.offset_ms), None)
        why = {"start": _hhmm(start, off, channel)}
        if clash:
            why |= {"other": _title(clash.title), "other_start": _hhmm(start, clash.offset_ms, channel),
                    "other_end": _hhmm(start, clash.end_ms, channel)}  # fmt: skip
        if overlap == "refuse":
            template = _OVERLAP if clash else _DAY_END
            raise TvScheduleError(f"{label['programme']} {template.format(**why)}")
        next_slot(item, off, label, why)
    for _, item, label in floating:
        next_slot(item, 0, label, None)

    aired = {(p.series, p.episode): p.offset_ms for p in placed if p.kind == "lecture"}
    for i, p in enumerate(placed):
        if p.kind == "repeat" and p.first_shown is None and (p.series, p.episode) in aired:
            first_local = (start.astimezone(UTC) + timedelta(milliseconds=aired[p.series, p.episode]))
            placed[i] = replace(p, first_shown=first_local.astimezone(channel.zone))

    occupied = {p.offset_ms for p in placed}
    for so in slot_offsets:
        if so not in occupied and all(not (p.offset_ms <= so < p.end_ms) for p in placed):
            warnings.append(WARNINGS.make("tv_empty_slot", slot=_hhmm(start, so, channel)))

    items: list[Item] = []
    rot = _Rotation()
    cursor = 0
    for p in placed:
        items.extend(_fill(cursor, p.offset_ms - cursor, p, fillers, rot, warnings, start, channel))
        items.append(p)
        cursor = p.end_ms
    items.extend(_fill(cursor, day_ms - cursor, None, fillers, rot, warnings, start, channel))
    result = Day(channel, day, start, end, tuple(items), DayReport.of(warnings))
    check_day(result)
    return result


def check_day(day: Day) -> None:
    """Raise unless the items run back to back from the day's start to its end."""
    cursor = 0
    for i, item in enumerate(day.items):
        if item.offset_ms != cursor:
            raise TvScheduleError(f"item {i}: starts at {item.offset_ms} ms, expected {cursor} ms (gap or overlap)")
        if item.duration_ms <= 0:
            raise TvScheduleError(f"item {i}: duration must be positive")
        cursor = item.end_ms
    if cursor != day.length_ms:
        raise TvScheduleError(f"items cover {cursor} ms of a {day.length_ms} ms day")


class _Rotation:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def take(self, kind: str, pool: Sequence[Filler]) -> Filler:
        n = self.counters.get(kind, 0)
        self.counters[kind] = n + 1
        return pool[n % len(pool)]


def _fill(
    at: int,
    gap: int,
    following: Item | None,
    pool: FillerPool,
    rot: _Rotation,
    warnings: list[Message],
    start: datetime,
    channel: Channel,
) -> list[Item]:
    """Fill ``gap`` ms exactly: ident, looped clips (last one cut), announcement, clock."""
    if gap <= 0:
        return []
    rem = gap
    head: list[Item] = []
    tail: list[Item] = []
    if pool.idents:
        f = pool.idents[rot.counters.get("ident", 0) % len(pool.idents)]
        if ms_from_seconds(f.duration) <= rem:
            rot.take("ident", pool.idents)
            head.append(_filler_item(f, ms_from_seconds(f.duration)))
            rem -= ms_from_seconds(f.duration)
    if following is not None and pool.announcements:
        f = pool.announcements[rot.counters.get("announcement", 0) % len(pool.announcements)]
        if ms_from_seconds(f.duration) <= rem:
            rot.take("announcement", pool.announcements)
            tail.append(_filler_item(f, ms_from_seconds(f.duration)))
            rem -= ms_from_seconds(f.duration)
    clock_ms = 0
    if pool.clock is not None and rem >= ms_from_seconds(pool.clock.min_seconds):
        clock_ms = rem if not pool.loops else min(rem, ms_from_seconds(pool.clock.max_seconds))
        rem -= clock_ms
    middle: list[Item] = []
    while rem > 0 and pool.loops:
        f = rot.take("loop", pool.loops)
        piece = min(rem, ms_from_seconds(f.duration))
        if piece < rem or piece >= MIN_PIECE_MS or pool.clock is None or clock_ms == 0:
            middle.append(_filler_item(f, piece))
            rem -= piece
        else:  # a sliver: the clock runs a little longer instead
            clock_ms += rem
            rem = 0
    if rem > 0 and clock_ms > 0:
        clock_ms += rem
        rem = 0
    items = head + middle
    if clock_ms:
        tail.append(Item(0, clock_ms, "clock", dict(pool.clock.title) if pool.clock else {}))
    if rem > 0:
        warnings.append(WARNINGS.make("tv_black", start=_hhmm(start, at, channel),
                                      end=_hhmm(start, at + gap, channel), seconds=f"{rem / 1000:.3f}"))  # fmt: skip
        items.append(Item(0, rem, "black", {"en": "Black"}))
    items += tail
    out: list[Item] = []
    cursor = at
    for item in items:
        out.append(replace(item, offset_ms=cursor))
        cursor += item.duration_ms
    return out


def _filler_item(f: Filler, dur_ms: int) -> Item:
    return Item(0, dur_ms, f.kind, dict(f.title) or {"en": Path(f.source).stem}, source=f.source, category=None)


def _programme(s: Series, ep: Episode, kind: str) -> Item:
    dur = ms_from_seconds(ep.duration)
    if dur <= 0:
        raise TvScheduleError(f"series {s.id!r} episode {ep.number}: duration must be positive")
    return Item(
        0, dur, kind, dict(s.title), source=ep.media, media_in=ep.media_in,
        description=dict(ep.description or s.description), series=s.id, season=s.season,
        episode=ep.number, episode_title=dict(ep.title), category=s.category,
    )


def _refuse_or_warn(policy: str, warnings: list[Message], message: Message) -> None:
    if policy == "refuse":
        raise TvScheduleError(message.text)
    warnings.append(message)


def _label(s: Series, ep: Episode, repeat: bool = False) -> dict[str, str]:
    """The programme a note names: its English label, and the parts a page words itself."""
    title = _title(s.title)
    label = f"{title} ep. {ep.number}" + (" (repeat)" if repeat else "")
    return {"programme": label, "title": title, "episode": str(ep.number), "repeat": "1" if repeat else ""}


def _title(text: Text) -> str:
    for lang in ("en", "ru", "kk"):
        if text.get(lang):
            return text[lang]
    return next(iter(text.values()), "")


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    # normalise through UTC so a wall time inside a DST gap maps to a real instant
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC).astimezone(zone)


def _offset(start: datetime, day: date, at: time, zone: ZoneInfo) -> int:
    local = _local(day, at, zone)
    if local < start:  # a slot before day_start belongs to the next calendar date
        local = _local(day + timedelta(days=1), at, zone)
    return ms_between(start, local)


def _hhmm(start: datetime, offset_ms: int, channel: Channel) -> str:
    t = (start.astimezone(UTC) + timedelta(milliseconds=offset_ms)).astimezone(channel.zone)
    return t.strftime("%H:%M:%S") if t.second else t.strftime("%H:%M")
