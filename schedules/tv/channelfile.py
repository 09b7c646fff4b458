"""The channel file (YAML): a channel, its series, fillers and repeat rules, read with keyed errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

from schedules.tv.day import Channel, Clock, Episode, Filler, FillerPool, RepeatRule, Series, TvScheduleError

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
