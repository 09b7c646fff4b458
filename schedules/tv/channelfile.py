"""The channel file (YAML): a channel, its series, fillers and repeat rules, read with keyed errors.

    cfg = read_channel_file("examples/channel-demo.yaml")   # errors: FILE:LINE: KEY: message
    cfg = channel_config(data, source="demo.yaml")           # data parsed elsewhere: FILE: KEY: message

The file is read by ``fileio`` (safe YAML, one typed reader); what is the
channel's own here is a duration (seconds or ``HH:MM:SS``), texts per
language, media paths relative to the file, and the cross-checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import time
from pathlib import Path
from typing import Any

from fileio import Document, FileFormatError, Reader, read_yaml
from fileio.document import KeyPath
from schedules.tv.day import (
    Channel,
    ChannelService,
    Clock,
    Episode,
    Filler,
    FillerPool,
    RepeatRule,
    Series,
    TvScheduleError,
)

# ---------------------------------------------------------------- the channel file

SERVICE_KEYS = ("id", "name", "provider", "original_network_id", "transport_stream_id")
SERVICE_NAME_BYTES = 100
"""The SDT's service and provider names (UTF-8 bytes); receivers show far fewer characters anyway."""


class ChannelFileError(TvScheduleError, FileFormatError):
    """A channel file is wrong at one place: ``FILE:LINE: KEY: message``."""

    def __init__(self, message: str, *, file: str = "<channel>", line: int | None = None, key: str | None = None):
        FileFormatError.__init__(self, message, file=file, line=line, key=key)


@dataclass(frozen=True)
class ChannelConfig:
    """Everything a channel file holds: what ``build_day`` needs besides the date."""

    channel: Channel
    series: tuple[Series, ...]
    fillers: FillerPool
    repeats: tuple[RepeatRule, ...]


def read_channel_file(path: str | Path) -> ChannelConfig:
    """Read a channel file; relative media paths resolve against its folder."""
    path = Path(path)
    return _ChannelFile(read_yaml(path, error=ChannelFileError), path.parent.resolve()).config()


def read_series_file(path: str | Path) -> tuple[Series, ...]:
    """A file holding a ``series:`` list (``aulacast tv series`` writes one); media relative to its folder."""
    path = Path(path)
    cf = _ChannelFile(read_yaml(path, error=ChannelFileError), path.parent.resolve())
    if not isinstance(cf.r.doc.data, dict):
        raise cf.r.fail((), "a series file is a mapping with the key series")
    cf.r.mapping((), optional=("series",))
    return tuple(cf.series())


def with_series(cfg: ChannelConfig, extra: Sequence[Series], source: str = "<series>") -> ChannelConfig:
    """``cfg`` with ``extra`` series added: one for an offering (or id) the channel file already has gives
    that series its episodes (the channel file's titles and slot stay); others are added whole.
    Two episodes of one series with the same number are refused, naming both sources."""
    series = list(cfg.series)
    for new in extra:
        at = next((i for i, s in enumerate(series) if s.id == new.id
                   or (new.offering_id is not None and s.offering_id == new.offering_id)), None)  # fmt: skip
        if at is None:
            series.append(new)
            continue
        old = series[at]
        clash = {e.number for e in old.episodes} & {e.number for e in new.episodes}
        if clash:
            raise TvScheduleError(f"{source}: series {new.id}: episode(s) {', '.join(map(str, sorted(clash)))} "
                                  f"are also in the channel file's series {old.id}")
        series[at] = replace(old, episodes=tuple(sorted((*old.episodes, *new.episodes), key=lambda e: e.number)))
    return replace(cfg, series=tuple(series))


def channel_config(data: Any, source: str = "<channel>", base: Path | None = None) -> ChannelConfig:
    """Read a parsed channel YAML/JSON document; errors name the file and the key path.

    Relative media paths resolve against ``base`` (normally the channel file's folder).
    Times are "HH:MM" strings; durations are seconds or "HH:MM:SS(.fff)".
    """
    return _ChannelFile(Document.of(data, source), base).config()


class _ChannelFile:
    """The channel file's own rules over the one typed reader."""

    def __init__(self, doc: Document, base: Path | None) -> None:
        self.r = Reader(doc, error=ChannelFileError)
        self.base = base

    def config(self) -> ChannelConfig:
        r = self.r
        if not isinstance(r.doc.data, dict):
            raise r.fail((), "a channel file is a mapping with keys channel, series, fillers, repeats")
        c: KeyPath = ("channel",)
        r.mapping(c)
        channel = Channel(
            id=r.text((*c, "id")), name=r.text((*c, "name")),
            tz=r.text((*c, "tz"), "Asia/Almaty"), country=r.text((*c, "country"), "KAZ"),
            slots=tuple(self.clock((*c, "slots", i)) for i in range(len(r.seq((*c, "slots"))))),
            languages=self.words((*c, "languages"), ("kk", "ru", "en")),
            display_names=self.texts((*c, "display_names")),
            day_start=self.clock((*c, "day_start"), "00:00"),
            service=self.service((*c, "service"), r.text((*c, "name"))),
        )  # fmt: skip
        try:
            channel.zone  # noqa: B018 - validates tz early, with the key named
        except TvScheduleError as exc:
            raise r.fail((*c, "tz"), str(exc)) from exc
        series = self.series()
        f: KeyPath = ("fillers",)
        r.mapping(f, default={})
        pool = FillerPool(
            idents=self.fillers((*f, "idents"), "ident"),
            announcements=self.fillers((*f, "announcements"), "announcement"),
            loops=self.fillers((*f, "loops"), "loop"),
            clock=(
                Clock(
                    min_seconds=self.seconds((*f, "clock", "min"), 5.0),
                    max_seconds=self.seconds((*f, "clock", "max"), 60.0),
                    title=self.texts((*f, "clock", "title")) or {"en": "Clock"},
                )
                if isinstance(r.get((*f, "clock"), None), dict) else None
            ),
        )  # fmt: skip
        repeats = []
        for i in range(len(r.seq(("repeats",)))):
            x: KeyPath = ("repeats", i)
            r.mapping(x)
            repeats.append(RepeatRule(
                series=r.text((*x, "series")), at=self.clock((*x, "at")),
                day_offset=r.integer((*x, "day_offset"), default=0),
                episode=r.integer((*x, "episode"), default=0) or None,
            ))  # fmt: skip
        known = {s.id for s in series}
        for i, rule in enumerate(repeats):
            if rule.series not in known:
                raise r.fail(("repeats", i, "series"), f"no series {rule.series!r} in this file")
        return ChannelConfig(channel, tuple(series), pool, tuple(repeats))

    def service(self, path: KeyPath, channel_name: str) -> ChannelService:
        """The channel's DVB service; the name defaults to the channel's, the provider to the name."""
        r = self.r
        r.mapping(path, optional=SERVICE_KEYS, default={})
        name = r.text((*path, "name"), channel_name, max_bytes=SERVICE_NAME_BYTES)
        return ChannelService(
            id=r.integer((*path, "id"), 1, 0xFFFF, default=1), name=name,
            provider=r.text((*path, "provider"), name, max_bytes=SERVICE_NAME_BYTES),
            original_network_id=r.integer((*path, "original_network_id"), 1, 0xFFFF, default=0xFF01),
            transport_stream_id=r.integer((*path, "transport_stream_id"), 1, 0xFFFF, default=1),
        )

    def series(self) -> list[Series]:
        """The ``series`` list (each with its episodes)."""
        r = self.r
        series: list[Series] = []
        for i in range(len(r.seq(("series",)))):
            s: KeyPath = ("series", i)
            r.mapping(s)
            eps = []
            for j in range(len(r.seq((*s, "episodes")))):
                e: KeyPath = (*s, "episodes", j)
                r.mapping(e)
                eps.append(Episode(
                    number=r.integer((*e, "number"), default=j + 1), title=self.texts((*e, "title")),
                    media=self.path((*e, "media")), duration=self.seconds((*e, "duration")),
                    description=self.texts((*e, "description")),
                    date=r.day((*e, "date")) if r.get((*e, "date"), None) is not None else None,
                    start=self.clock((*e, "start")) if r.get((*e, "start"), None) is not None else None,
                    media_in=self.seconds((*e, "in"), 0.0),
                ))  # fmt: skip
            series.append(Series(
                id=r.text((*s, "id")), title=self.texts((*s, "title"), required=True), episodes=tuple(eps),
                description=self.texts((*s, "description")), category=r.text((*s, "category"), "Education"),
                season=r.integer((*s, "season"), default=1),
                slot=self.clock((*s, "slot")) if r.get((*s, "slot"), None) is not None else None,
                offering_id=r.text((*s, "offering")) if r.get((*s, "offering"), None) is not None else None,
            ))  # fmt: skip
        return series

    def words(self, path: KeyPath, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list of short texts (language codes); ``default`` when absent."""
        if self.r.get(path, None) is None:
            return default
        return tuple(self.r.text((*path, i)) for i in range(len(self.r.seq(path))))

    def texts(self, path: KeyPath, required: bool = False) -> dict[str, str]:
        """Text per language: a mapping of language code to text, or one text (taken as English)."""
        v = self.r.get(path, None)
        if v is None:
            if required:
                raise self.r.fail(path, "missing (give texts per language, e.g. {kk: ..., ru: ..., en: ...})")
            return {}
        if isinstance(v, str):
            return {"en": v}
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise self.r.fail(path, "must be text or a mapping of language code -> text")
        return {str(k): x for k, x in v.items()}

    def seconds(self, path: KeyPath, default: float | None = None) -> float:
        """A duration: seconds, or ``HH:MM:SS(.fff)``."""
        v = self.r.get(path, None)
        if v is None:
            if default is None:
                raise self.r.fail(path, "missing (seconds, or HH:MM:SS)")
            v = default
        try:
            if isinstance(v, bool):
                raise ValueError(v)
            if isinstance(v, str):
                total = 0.0
                for part in v.split(":"):
                    total = total * 60 + float(part)
                v = total
            value = float(v)
        except (TypeError, ValueError) as exc:
            raise self.r.fail(path, f"not a duration: {v!r}") from exc
        if value < 0:
            raise self.r.fail(path, "must not be negative")
        return value

    def clock(self, path: KeyPath, default: Any = None) -> time:
        """A time of day, ``HH:MM`` (``HH:MM:SS`` allowed)."""
        v = self.r.get(path, default)
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:
            return time(v // 60, v % 60)  # YAML 1.1 (data parsed elsewhere) reads unquoted 10:30 as 630 (base 60)
        return self.r.clock(path, default, seconds=True)

    def path(self, path: KeyPath) -> str:
        p = Path(self.r.text(path))
        if not p.is_absolute() and self.base is not None:
            p = self.base / p
        return str(p)

    def fillers(self, path: KeyPath, kind: str) -> tuple[Filler, ...]:
        out = []
        for i in range(len(self.r.seq(path))):
            x: KeyPath = (*path, i)
            if not isinstance(self.r.get(x), dict):
                raise self.r.fail(x, "must be a mapping with source and duration")
            duration = self.seconds((*x, "duration"))
            if duration <= 0:
                raise self.r.fail((*x, "duration"), "must be positive")
            out.append(Filler(kind, self.path((*x, "source")), duration, self.texts((*x, "title"))))  # type: ignore[arg-type]
        return tuple(out)
