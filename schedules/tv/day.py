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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fileio import write_text_atomic
from fileio.message import Message
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
class ChannelService:
    """The channel's DVB service: the SDT name and provider receivers list, and the ids that find it.

    Set in the channel file (``channel.service``) and carried into SDT/EIT by playout, so a
    receiver's list and the XMLTV guide name the same channel whatever profile encodes it.
    """

    id: int
    name: str
    provider: str
    original_network_id: int = 0xFF01
    transport_stream_id: int = 1


@dataclass(frozen=True)
class Channel:
    """A TV channel: its ids, local time zone, the fixed start times of its slots and its DVB service."""

    id: str
    name: str
    tz: str = "Asia/Almaty"
    country: str = "KAZ"
    slots: tuple[time, ...] = ()
    languages: tuple[str, ...] = ("kk", "ru", "en")
    display_names: Mapping[str, str] = field(default_factory=dict)
    day_start: time = time(0, 0)
    service: ChannelService | None = None

    @property
    def dvb_service(self) -> ChannelService:
        """The service as set, or (a channel built without one) service 1 named after the channel."""
        return self.service or ChannelService(1, self.name, self.name)

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
    """What the builder had to decide for the engineer: gaps filled, slots empty, items moved.

    ``warnings`` are the English sentences; ``notes`` the same with their codes and quoted values
    (schedules.tv.fill.WARNINGS), so the engineer's page words them in the reader's language.
    """

    warnings: tuple[str, ...] = ()
    notes: tuple[Message, ...] = ()

    @classmethod
    def of(cls, notes: Sequence[Message]) -> DayReport:
        return cls(tuple(n.text for n in notes), tuple(notes))


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
        return ms_between(self.start, self.end)

    def at(self, item: Item) -> datetime:
        """Local wall-clock start of ``item`` (with the UTC offset in force at that instant)."""
        return self.local(item.offset_ms)

    def local(self, offset_ms: int) -> datetime:
        utc = self.start.astimezone(UTC) + timedelta(milliseconds=offset_ms)
        return utc.astimezone(self.channel.zone)

    def programmes(self) -> list[Item]:
        return [item for item in self.items if item.is_programme]


def ms_of(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def ms_between(a: datetime, b: datetime) -> int:
    """Milliseconds from ``a`` to ``b`` in real time (same-zone subtraction would use wall time)."""
    return ms_of(b.astimezone(UTC) - a.astimezone(UTC))


def ms_from_seconds(seconds: float) -> int:
    return round(seconds * 1000)


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
            "service": _service_dict(ch.dvb_service),
        },
        "date": day.date.isoformat(),
        "start": _iso(day.start),
        "end": _iso(day.end),
        "warnings": list(day.report.warnings),
        "notes": [{"code": n.code, "params": dict(n.params)} for n in day.report.notes],
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
            service=_service_from_dict(c["service"]) if c.get("service") is not None else None,
        )
        channel.zone  # noqa: B018 - validates tz
        day_date = date.fromisoformat(data["date"])
        start = datetime.fromisoformat(data["start"])
        end = datetime.fromisoformat(data["end"])
        rows = data["items"]
        warnings = tuple(str(w) for w in data.get("warnings", []))
        notes = tuple(Message(str(n["code"]), w, {str(k): str(v) for k, v in dict(n.get("params", {})).items()})
                      for w, n in zip(warnings, data.get("notes") or [], strict=False))  # fmt: skip
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
    day = Day(channel, day_date, start, end, tuple(items), DayReport(warnings, notes if len(notes) == len(warnings) else ()))
    if cursor != day.length_ms:
        raise TvScheduleError(
            f"{source}: items end {_iso(day.local(cursor))} but the day ends {_iso(end)} "
            f"({(day.length_ms - cursor) / 1000:+.3f} s)"
        )
    return day


def _service_dict(s: ChannelService) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "provider": s.provider, "original_network_id": s.original_network_id,
            "transport_stream_id": s.transport_stream_id}


def _service_from_dict(d: Any) -> ChannelService:
    if not isinstance(d, dict):
        raise TypeError("channel service must be a mapping")
    ids = {k: d[k] for k in ("id", "original_network_id", "transport_stream_id")}
    for key, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
            raise ValueError(f"channel service {key} must be an integer 1..65535, not {value!r}")
    return ChannelService(name=str(d["name"]), provider=str(d["provider"]), **ids)


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
        offset_ms=ms_between(day_start, at), duration_ms=ms_from_seconds(duration), kind=kind, title=title,
        source=source, media_in=media_in, description=row.get("description", {}) or {},
        series=row.get("series"), season=row.get("season"), episode=row.get("episode"),
        episode_title=row.get("episode_title", {}) or {}, category=row.get("category"),
        first_shown=datetime.fromisoformat(first) if first else None,
    )


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


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
