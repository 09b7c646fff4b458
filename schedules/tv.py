"""A TV channel's broadcast day: lectures at fixed start times, fillers to the second.

    day = build_day(channel, date(2026, 11, 26), series, FillerPool(...), repeats)
    save_day(day, "day.json")          # one readable, diffable file
    day = load_day("day.json")         # validated; errors name the file and item

Pure code over dataclasses: no I/O except ``save_day``/``load_day``. Times are
kept as integer milliseconds from the day's start so that 24 hours of items add
up exactly; the local wall clock comes from ``zoneinfo``, so a day is 23 or 25
hours long across a DST change and items still land on their local slot times.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schedules.errors import ScheduleError

Text = Mapping[str, str]
"""Text in several languages: ISO 639-1 code -> text, e.g. {"kk": ..., "ru": ..., "en": ...}."""

DAY_FORMAT = "aulacast-day/1"
PROGRAMME_KINDS = ("lecture", "repeat")
FILLER_KINDS = ("ident", "clock", "announcement", "loop", "black")
ITEM_KINDS = PROGRAMME_KINDS + FILLER_KINDS
GENERATED_KINDS = ("clock", "black")
MIN_PIECE_MS = 2000
"""A looped filler cut shorter than this would flash on screen; the clock absorbs it when there is one."""


class TvScheduleError(ScheduleError, ValueError):
    """A channel day cannot be built or read; the message names the file, item or slot."""


@dataclass(frozen=True)
class Channel:
    """A TV channel: its ids, local time zone and the fixed start times of its slots."""

    id: str
    name: str
    tz: str = "Asia/Almaty"
    country: str = "KAZ"
    slots: tuple[time, ...] = ()
    languages: tuple[str, ...] = ("kk", "ru", "en")
    display_names: Mapping[str, str] = field(default_factory=dict)
    day_start: time = time(0, 0)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise TvScheduleError(f"channel {self.id!r}: unknown time zone {self.tz!r}") from exc


@dataclass(frozen=True)
class Episode:
    """One lecture of a series; ``number`` counts from 1 as people do."""

    number: int
    title: Text
    media: str
    duration: float
    description: Text = field(default_factory=dict)
    date: date | None = None
    start: time | None = None
    media_in: float = 0.0


@dataclass(frozen=True)
class Series:
    """A TV-technology offering as the channel sees it: a titled run of lectures."""

    id: str
    title: Text
    episodes: tuple[Episode, ...]
    description: Text = field(default_factory=dict)
    category: str = "Education"
    season: int = 1
    slot: time | None = None
    offering_id: str | None = None


@dataclass(frozen=True)
class Filler:
    """A clip that fills gaps: ident, announcement, or a loop clip that may be cut."""

    kind: Literal["ident", "announcement", "loop"]
    source: str
    duration: float
    title: Text = field(default_factory=dict)


@dataclass(frozen=True)
class Clock:
    """A generated clock (rendered at playout) of any length between min and max seconds."""

    min_seconds: float = 5.0
    max_seconds: float = 60.0
    title: Text = field(default_factory=lambda: {"en": "Clock"})


@dataclass(frozen=True)
class FillerPool:
    """The channel's fillers; each kind is used in rotation so a day is not one clip repeated."""

    idents: tuple[Filler, ...] = ()
    announcements: tuple[Filler, ...] = ()
    loops: tuple[Filler, ...] = ()
    clock: Clock | None = None


@dataclass(frozen=True)
class RepeatRule:
    """Repeat ``series`` (one episode or all) first aired ``day_offset`` days earlier, at ``at``."""

    series: str
    at: time
    day_offset: int = 0
    episode: int | None = None


@dataclass(frozen=True)
class Item:
    """One entry of the day: what plays, from which point of which file, for how long."""

    offset_ms: int
    duration_ms: int
    kind: str
    title: Text
    source: str | None = None
    media_in: float = 0.0
    description: Text = field(default_factory=dict)
    series: str | None = None
    season: int | None = None
    episode: int | None = None
    episode_title: Text = field(default_factory=dict)
    category: str | None = None
    first_shown: datetime | None = None

    @property
    def duration(self) -> float:
        return self.duration_ms / 1000

    @property
    def media_out(self) -> float:
        return round(self.media_in + self.duration, 3)

    @property
    def is_programme(self) -> bool:
        return self.kind in PROGRAMME_KINDS

    @property
    def end_ms(self) -> int:
        return self.offset_ms + self.duration_ms


@dataclass(frozen=True)
class DayReport:
    """What the builder had to decide for the engineer: gaps filled, slots empty, items moved."""

    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Day:
    """A channel's day: items back to back from ``start`` to ``end`` with no gap or overlap."""

    channel: Channel
    date: date
    start: datetime
    end: datetime
    items: tuple[Item, ...]
    report: DayReport = DayReport()

    @property
    def length_ms(self) -> int:
        return _between(self.start, self.end)

    def at(self, item: Item) -> datetime:
        """Local wall-clock start of ``item`` (with the UTC offset in force at that instant)."""
        return self.local(item.offset_ms)

    def local(self, offset_ms: int) -> datetime:
        utc = self.start.astimezone(UTC) + timedelta(milliseconds=offset_ms)
        return utc.astimezone(self.channel.zone)

    def programmes(self) -> list[Item]:
        return [item for item in self.items if item.is_programme]


# ---------------------------------------------------------------- building


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
    day_ms = _between(start, end)
    warnings: list[str] = []
    slot_offsets = sorted({_offset(start, day, s, channel.zone) for s in channel.slots})
    slot_offsets = [o for o in slot_offsets if 0 <= o < day_ms]

    by_id = {s.id: s for s in series}
    if len(by_id) != len(series):
        raise TvScheduleError("two series share one id")
    wanted: list[tuple[int | None, Item, str]] = []
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
            wanted.append((off, item, _label(s, ep) + " (repeat)"))
            off += item.duration_ms

    placed: list[Item] = []

    def free(at: int, dur: int) -> bool:
        return at + dur <= day_ms and all(at + dur <= p.offset_ms or at >= p.end_ms for p in placed)

    def place(at: int, item: Item) -> None:
        placed.append(replace(item, offset_ms=at))
        placed.sort(key=lambda p: p.offset_ms)

    def next_slot(item: Item, after: int, label: str, why: str) -> bool:
        for so in slot_offsets:
            if so >= after and free(so, item.duration_ms):
                place(so, item)
                if why:
                    warnings.append(f"{label}: {why}; moved to {_hhmm(start, so, channel)}")
                return True
        if why:
            warnings.append(f"{label}: {why}; no free slot left, not aired")
        else:
            _refuse_or_warn(overlap, warnings, f"{label}: no free slot of the channel can take it, not aired")
        return False

    fixed = sorted((w for w in wanted if w[0] is not None), key=lambda w: (w[0], w[2]))
    floating = [w for w in wanted if w[0] is None]
    for off, item, label in fixed:
        assert off is not None
        if off < 0 or off >= day_ms:
            _refuse_or_warn(overlap, warnings, f"{label}: start {_hhmm(start, off, channel)} is outside the day")
            continue
        if free(off, item.duration_ms):
            place(off, item)
            continue
        clash = next((p for p in placed if off < p.end_ms and off + item.duration_ms > p.offset_ms), None)
        why = (
            f"starts {_hhmm(start, off, channel)} but overlaps "
            + (f"'{_title(clash.title)}' ({_hhmm(start, clash.offset_ms, channel)}–"
               f"{_hhmm(start, clash.end_ms, channel)})" if clash else "the end of the day")
        )
        if overlap == "refuse":
            raise TvScheduleError(f"{label} {why}")
        next_slot(item, off, label, why)
    for _, item, label in floating:
        next_slot(item, 0, label, "")

    aired = {(p.series, p.episode): p.offset_ms for p in placed if p.kind == "lecture"}
    for i, p in enumerate(placed):
        if p.kind == "repeat" and p.first_shown is None and (p.series, p.episode) in aired:
            first_local = (start.astimezone(UTC) + timedelta(milliseconds=aired[p.series, p.episode]))
            placed[i] = replace(p, first_shown=first_local.astimezone(channel.zone))

    occupied = {p.offset_ms for p in placed}
    for so in slot_offsets:
        if so not in occupied and all(not (p.offset_ms <= so < p.end_ms) for p in placed):
            warnings.append(f"slot {_hhmm(start, so, channel)} has no lecture; filled with fillers")

    items: list[Item] = []
    rot = _Rotation()
    cursor = 0
    for p in placed:
        items.extend(_fill(cursor, p.offset_ms - cursor, p, fillers, rot, warnings, start, channel))
        items.append(p)
        cursor = p.end_ms
    items.extend(_fill(cursor, day_ms - cursor, None, fillers, rot, warnings, start, channel))
    result = Day(channel, day, start, end, tuple(items), DayReport(tuple(warnings)))
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
    warnings: list[str],
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
        if _ms_f(f.duration) <= rem:
            rot.take("ident", pool.idents)
            head.append(_filler_item(f, _ms_f(f.duration)))
            rem -= _ms_f(f.duration)
    if following is not None and pool.announcements:
        f = pool.announcements[rot.counters.get("announcement", 0) % len(pool.announcements)]
        if _ms_f(f.duration) <= rem:
            rot.take("announcement", pool.announcements)
            tail.append(_filler_item(f, _ms_f(f.duration)))
            rem -= _ms_f(f.duration)
    clock_ms = 0
    if pool.clock is not None and rem >= _ms_f(pool.clock.min_seconds):
        clock_ms = rem if not pool.loops else min(rem, _ms_f(pool.clock.max_seconds))
        rem -= clock_ms
    middle: list[Item] = []
    while rem > 0 and pool.loops:
        f = rot.take("loop", pool.loops)
        piece = min(rem, _ms_f(f.duration))
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
        warnings.append(
            f"gap {_hhmm(start, at, channel)}–{_hhmm(start, at + gap, channel)}: "
            f"{rem / 1000:.3f} s left black (no loop filler or clock can fill it)"
        )
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
    dur = _ms_f(ep.duration)
    if dur <= 0:
        raise TvScheduleError(f"series {s.id!r} episode {ep.number}: duration must be positive")
    return Item(
        0, dur, kind, dict(s.title), source=ep.media, media_in=ep.media_in,
        description=dict(ep.description or s.description), series=s.id, season=s.season,
        episode=ep.number, episode_title=dict(ep.title), category=s.category,
    )


def _refuse_or_warn(policy: str, warnings: list[str], message: str) -> None:
    if policy == "refuse":
        raise TvScheduleError(message)
    warnings.append(message)


def _label(s: Series, ep: Episode) -> str:
    return f"{_title(s.title)} ep. {ep.number}"


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
    return _between(start, local)


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def _between(a: datetime, b: datetime) -> int:
    """Milliseconds from ``a`` to ``b`` in real time (same-zone subtraction would use wall time)."""
    return _ms(b.astimezone(UTC) - a.astimezone(UTC))


def _ms_f(seconds: float) -> int:
    return round(seconds * 1000)


def _hhmm(start: datetime, offset_ms: int, channel: Channel) -> str:
    t = (start.astimezone(UTC) + timedelta(milliseconds=offset_ms)).astimezone(channel.zone)
    return t.strftime("%H:%M:%S") if t.second else t.strftime("%H:%M")


# ---------------------------------------------------------------- the day file


def day_to_json(day: Day) -> str:
    """The day as JSON text: fixed key order, one item per line, local ISO times with offsets."""
    ch = day.channel
    head = {
        "format": DAY_FORMAT,
        "channel": {
            "id": ch.id, "name": ch.name, "tz": ch.tz, "country": ch.country,
            "languages": list(ch.languages), "display_names": dict(ch.display_names),
            "day_start": ch.day_start.strftime("%H:%M:%S"),
            "slots": [s.strftime("%H:%M:%S") for s in ch.slots],
        },
        "date": day.date.isoformat(),
        "start": _iso(day.start),
        "end": _iso(day.end),
        "warnings": list(day.report.warnings),
    }
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {_dumps(value)},")
    lines.append('  "items": [')
    rows = [f"    {_dumps(_item_dict(day, item))}" for item in day.items]
    lines.append(",\n".join(rows))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_day(day: Day, path: str | os.PathLike[str]) -> None:
    """Write the day file atomically (temp name, then rename): never a half-written day."""
    write_text_atomic(Path(path), day_to_json(day))


def load_day(path: str | os.PathLike[str]) -> Day:
    """Read and validate a day file; errors name the file and the item index."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TvScheduleError(f"{p}: no such day file") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TvScheduleError(f"{p}: not a JSON day file ({exc})") from exc
    return day_from_dict(data, source=str(p))


def day_from_dict(data: Any, source: str = "<day>") -> Day:
    if not isinstance(data, dict) or data.get("format") != DAY_FORMAT:
        raise TvScheduleError(f"{source}: not an aulacast day file (\"format\" must be {DAY_FORMAT!r})")
    try:
        c = data["channel"]
        channel = Channel(
            id=str(c["id"]), name=str(c["name"]), tz=str(c["tz"]), country=str(c.get("country", "")),
            slots=tuple(time.fromisoformat(s) for s in c.get("slots", [])),
            languages=tuple(c.get("languages", ())), display_names=dict(c.get("display_names", {})),
            day_start=time.fromisoformat(c.get("day_start", "00:00:00")),
        )
        channel.zone  # noqa: B018 - validates tz
        day_date = date.fromisoformat(data["date"])
        start = datetime.fromisoformat(data["start"])
        end = datetime.fromisoformat(data["end"])
        rows = data["items"]
        warnings = tuple(str(w) for w in data.get("warnings", []))
    except TvScheduleError as exc:
        raise TvScheduleError(f"{source}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise TvScheduleError(f"{source}: bad day header ({exc!r})") from exc
    if start.tzinfo is None or end.tzinfo is None:
        raise TvScheduleError(f"{source}: start and end need a UTC offset")
    if not isinstance(rows, list):
        raise TvScheduleError(f"{source}: \"items\" must be a list")
    items: list[Item] = []
    cursor = 0
    for i, row in enumerate(rows):
        try:
            item = _item_from_dict(row, start)
        except (KeyError, TypeError, ValueError) as exc:
            raise TvScheduleError(f"{source}: item {i}: {exc}") from exc
        if item.offset_ms != cursor:
            what = "gap" if item.offset_ms > cursor else "overlap"
            raise TvScheduleError(
                f"{source}: item {i} starts {row.get('start')} but the previous item ends "
                f"{_iso((start.astimezone(UTC) + timedelta(milliseconds=cursor)).astimezone(start.tzinfo))} ({what})"
            )
        cursor = item.end_ms
        items.append(item)
    day = Day(channel, day_date, start, end, tuple(items), DayReport(warnings))
    if cursor != day.length_ms:
        raise TvScheduleError(
            f"{source}: items end {_iso(day.local(cursor))} but the day ends {_iso(end)} "
            f"({(day.length_ms - cursor) / 1000:+.3f} s)"
        )
    return day


def _item_dict(day: Day, item: Item) -> dict[str, Any]:
    d: dict[str, Any] = {
        "start": _iso(day.at(item)),
        "duration": item.duration,
        "kind": item.kind,
        "title": dict(item.title),
    }
    if item.episode_title:
        d["episode_title"] = dict(item.episode_title)
    if item.series is not None:
        d["series"] = item.series
        d["season"] = item.season
        d["episode"] = item.episode
    if item.category:
        d["category"] = item.category
    d["source"] = item.source
    d["in"] = item.media_in
    d["out"] = item.media_out
    if item.first_shown is not None:
        d["first_shown"] = _iso(item.first_shown)
    if item.description:
        d["description"] = dict(item.description)
    return d


def _item_from_dict(row: Any, day_start: datetime) -> Item:
    if not isinstance(row, dict):
        raise TypeError("an item must be a JSON object")
    kind = row["kind"]
    if kind not in ITEM_KINDS:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(ITEM_KINDS)})")
    at = datetime.fromisoformat(row["start"])
    if at.tzinfo is None:
        raise ValueError(f"start {row['start']!r} needs a UTC offset")
    duration = float(row["duration"])
    if duration <= 0:
        raise ValueError("duration must be positive")
    source = row.get("source")
    if kind not in GENERATED_KINDS and not source:
        raise ValueError(f"a {kind} item needs a source file")
    media_in = float(row.get("in", 0.0))
    if "out" in row and abs(float(row["out"]) - (media_in + duration)) > 0.0015:
        raise ValueError(f"out {row['out']} != in {media_in} + duration {duration}")
    title = row.get("title", {})
    if not isinstance(title, dict):
        raise TypeError("title must be an object of language -> text")
    first = row.get("first_shown")
    return Item(
        offset_ms=_between(day_start, at), duration_ms=_ms_f(duration), kind=kind, title=title,
        source=source, media_in=media_in, description=row.get("description", {}) or {},
        series=row.get("series"), season=row.get("season"), episode=row.get("episode"),
        episode_title=row.get("episode_title", {}) or {}, category=row.get("category"),
        first_shown=datetime.fromisoformat(first) if first else None,
    )


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder, renamed when complete."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def series_by_id(series: Iterable[Series]) -> dict[str, Series]:
    return {s.id: s for s in series}


def programme_window(day: Day, item: Item) -> tuple[datetime, datetime]:
    """Local start and stop of a programme rounded to the second, as XMLTV and EIT both carry them.

    One rounding rule for both exports keeps the in-band EPG equal to the XMLTV file.
    """
    return day.local(_round_s(item.offset_ms)), day.local(_round_s(item.end_ms))


def _round_s(ms: int) -> int:
    """Half up to whole seconds: one programme's stop stays the next one's start."""
    return (ms + 500) // 1000 * 1000


ISO639_2 = {"kk": "kaz", "ru": "rus", "en": "eng", "de": "deu", "fr": "fra", "tr": "tur", "uz": "uzb", "ky": "kir"}
"""ISO 639-1 -> ISO 639-2/B codes for DVB descriptors (which carry three letters)."""


# ---------------------------------------------------------------- the channel file


@dataclass(frozen=True)
class ChannelConfig:
    """Everything a channel file holds: what ``build_day`` needs besides the date."""

    channel: Channel
    series: tuple[Series, ...]
    fillers: FillerPool
    repeats: tuple[RepeatRule, ...]


def channel_config(data: Any, source: str = "<channel>", base: Path | None = None) -> ChannelConfig:
    """Read a parsed channel YAML/JSON document; errors name the file and the key path.

    Relative media paths resolve against ``base`` (normally the channel file's folder).
    Times are "HH:MM" strings; durations are seconds or "HH:MM:SS(.fff)".
    """
    r = _Reader(source, base)
    if not isinstance(data, dict):
        raise TvScheduleError(f"{source}: a channel file is a mapping with keys channel, series, fillers, repeats")
    c = r.mapping(data, "channel")
    channel = Channel(
        id=r.text(c, "channel.id"), name=r.text(c, "channel.name"),
        tz=r.text(c, "channel.tz", "Asia/Almaty"), country=r.text(c, "channel.country", "KAZ"),
        slots=tuple(r.clock(v, f"channel.slots[{i}]") for i, v in enumerate(r.seq(c, "channel.slots"))),
        languages=tuple(str(x) for x in r.seq(c, "channel.languages", ["kk", "ru", "en"])),
        display_names=r.texts(c, "channel.display_names"),
        day_start=r.clock(c.get("day_start", "00:00"), "channel.day_start"),
    )
    try:
        channel.zone  # noqa: B018 - validates tz early, with the key named
    except TvScheduleError as exc:
        raise TvScheduleError(f"{source}: channel.tz: {exc}") from exc
    series: list[Series] = []
    for i, s in enumerate(r.seq(data, "series")):
        key = f"series[{i}]"
        if not isinstance(s, dict):
            raise TvScheduleError(f"{source}: {key}: must be a mapping")
        eps = []
        for j, e in enumerate(r.seq(s, f"{key}.episodes")):
            ek = f"{key}.episodes[{j}]"
            if not isinstance(e, dict):
                raise TvScheduleError(f"{source}: {ek}: must be a mapping")
            eps.append(Episode(
                number=r.integer(e, f"{ek}.number", j + 1), title=r.texts(e, f"{ek}.title"),
                media=r.path(e, f"{ek}.media"), duration=r.seconds(e, f"{ek}.duration"),
                description=r.texts(e, f"{ek}.description"),
                date=r.day(e.get("date"), f"{ek}.date") if e.get("date") is not None else None,
                start=r.clock(e["start"], f"{ek}.start") if e.get("start") is not None else None,
                media_in=r.seconds(e, f"{ek}.in", 0.0),
            ))
        series.append(Series(
            id=r.text(s, f"{key}.id"), title=r.texts(s, f"{key}.title", required=True), episodes=tuple(eps),
            description=r.texts(s, f"{key}.description"), category=r.text(s, f"{key}.category", "Education"),
            season=r.integer(s, f"{key}.season", 1),
            slot=r.clock(s["slot"], f"{key}.slot") if s.get("slot") is not None else None,
            offering_id=str(s["offering"]) if s.get("offering") is not None else None,
        ))
    f = r.mapping(data, "fillers", {})
    pool = FillerPool(
        idents=tuple(r.filler(x, "ident", f"fillers.idents[{i}]") for i, x in enumerate(r.seq(f, "fillers.idents"))),
        announcements=tuple(
            r.filler(x, "announcement", f"fillers.announcements[{i}]")
            for i, x in enumerate(r.seq(f, "fillers.announcements"))
        ),
        loops=tuple(r.filler(x, "loop", f"fillers.loops[{i}]") for i, x in enumerate(r.seq(f, "fillers.loops"))),
        clock=(
            Clock(
                min_seconds=r.seconds(f["clock"], "fillers.clock.min", 5.0),
                max_seconds=r.seconds(f["clock"], "fillers.clock.max", 60.0),
                title=r.texts(f["clock"], "fillers.clock.title") or {"en": "Clock"},
            )
            if isinstance(f.get("clock"), dict) else None
        ),
    )
    repeats = tuple(
        RepeatRule(
            series=r.text(x, f"repeats[{i}].series"), at=r.clock(x.get("at"), f"repeats[{i}].at"),
            day_offset=r.integer(x, f"repeats[{i}].day_offset", 0),
            episode=r.integer(x, f"repeats[{i}].episode", 0) or None,
        )
        for i, x in enumerate(r.seq(data, "repeats"))
    )
    known = {s.id for s in series}
    for i, rule in enumerate(repeats):
        if rule.series not in known:
            raise TvScheduleError(f"{source}: repeats[{i}].series: no series {rule.series!r} in this file")
    return ChannelConfig(channel, tuple(series), pool, repeats)


class _Reader:
    """Typed access to a parsed document; every error says file and key path."""

    def __init__(self, source: str, base: Path | None) -> None:
        self.source = source
        self.base = base

    def fail(self, key: str, message: str) -> TvScheduleError:
        return TvScheduleError(f"{self.source}: {key}: {message}")

    def mapping(self, d: Any, key: str, default: Any = None) -> dict[str, Any]:
        v = d.get(key.rsplit(".", 1)[-1], default) if isinstance(d, dict) else None
        if not isinstance(v, dict):
            raise self.fail(key, "missing or not a mapping")
        return v

    def seq(self, d: dict[str, Any], key: str, default: Any = None) -> list[Any]:
        v = d.get(key.rsplit(".", 1)[-1], default if default is not None else [])
        if not isinstance(v, list):
            raise self.fail(key, "must be a list")
        return v

    def text(self, d: dict[str, Any], key: str, default: str | None = None) -> str:
        v = d.get(key.rsplit(".", 1)[-1], default)
        if v is None or (isinstance(v, str) and not v.strip()):
            raise self.fail(key, "missing")
        if isinstance(v, dict | list):
            raise self.fail(key, "must be text")
        return str(v)

    def texts(self, d: dict[str, Any], key: str, required: bool = False) -> dict[str, str]:
        v = d.get(key.rsplit(".", 1)[-1])
        if v is None:
            if required:
                raise self.fail(key, "missing (give texts per language, e.g. {kk: ..., ru: ..., en: ...})")
            return {}
        if isinstance(v, str):
            return {"en": v}
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise self.fail(key, "must be text or a mapping of language code -> text")
        return {str(k): x for k, x in v.items()}

    def integer(self, d: dict[str, Any], key: str, default: int) -> int:
        v = d.get(key.rsplit(".", 1)[-1], default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, f"must be a whole number, not {v!r}")
        return v

    def seconds(self, d: Any, key: str, default: float | None = None) -> float:
        v = d.get(key.rsplit(".", 1)[-1], default) if isinstance(d, dict) else None
        if v is None:
            raise self.fail(key, "missing (seconds, or HH:MM:SS)")
        try:
            if isinstance(v, str):
                parts = [float(p) for p in v.split(":")]
                total = 0.0
                for p in parts:
                    total = total * 60 + p
                v = total
            value = float(v)
        except ValueError as exc:
            raise self.fail(key, f"not a duration: {v!r}") from exc
        if value < 0:
            raise self.fail(key, "must not be negative")
        return value

    def clock(self, v: Any, key: str) -> time:
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:
            return time(v // 60, v % 60)  # YAML 1.1 reads unquoted 10:30 as 630 (base 60)
        if isinstance(v, time):
            return v
        try:
            return time.fromisoformat(str(v))
        except ValueError as exc:
            raise self.fail(key, f"not a time of day (HH:MM): {v!r}") from exc

    def day(self, v: Any, key: str) -> date:
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(str(v))
        except ValueError as exc:
            raise self.fail(key, f"not a date (YYYY-MM-DD): {v!r}") from exc

    def path(self, d: dict[str, Any], key: str) -> str:
        p = Path(self.text(d, key))
        if not p.is_absolute() and self.base is not None:
            p = self.base / p
        return str(p)

    def filler(self, x: Any, kind: str, key: str) -> Filler:
        if not isinstance(x, dict):
            raise self.fail(key, "must be a mapping with source and duration")
        dur = self.seconds(x, f"{key}.duration")
        if dur <= 0:
            raise self.fail(f"{key}.duration", "must be positive")
        return Filler(kind, self.path(x, f"{key}.source"), dur, self.texts(x, f"{key}.title"))  # type: ignore[arg-type]
