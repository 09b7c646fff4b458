"""A TV channel's series from the academic calendar's TV-technology offerings.

    series = series_from_offerings([
        TvOffering("OFF-MATH", {"ru": "Высшая математика"}, date(2026, 9, 1), date(2026, 12, 25),
                   lectures=[TvLecture(1, date(2026, 9, 2), {"ru": "Пределы"}, "/media/m1.ts", 4800)]),
    ])

Takes plain records (dataclasses or dicts) that the orchestrator fills from its
store, so this module knows nothing of the planner's internals: an offering id,
the discipline title(s), the period's dates and the lecture list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, time
from typing import Any

from schedules.tv.day import Episode, Series, Text, TvScheduleError


@dataclass(frozen=True)
class TvLecture:
    """One recorded (or still to be recorded) lecture of a TV offering."""

    number: int
    date: date
    title: Text = field(default_factory=dict)
    media: str | None = None
    duration: float | None = None
    start: time | None = None
    description: Text = field(default_factory=dict)


@dataclass(frozen=True)
class TvOffering:
    """A calendar offering as the channel needs it; ``technology`` other than "tv" is ignored."""

    offering_id: str
    titles: Text
    period_start: date
    period_end: date
    lectures: Sequence[TvLecture | Mapping[str, Any]] = ()
    description: Text = field(default_factory=dict)
    category: str = "Education"
    season: int = 1
    slot: time | None = None
    technology: str = "tv"


def series_from_offerings(
    offerings: Iterable[TvOffering | Mapping[str, Any]], skipped: list[str] | None = None
) -> list[Series]:
    """One ``Series`` per TV offering, its lectures as episodes in number order.

    Lectures without media or duration yet (not recorded or not packaged) are left
    out and named in ``skipped`` so the caller can report them; a lecture dated
    outside its period, or two lectures with one number, is an error naming both.
    """
    out: list[Series] = []
    seen: set[str] = set()
    for raw in offerings:
        off = raw if isinstance(raw, TvOffering) else _record(TvOffering, raw, "offering")
        if str(off.technology).lower().rsplit(".", 1)[-1] != "tv":
            continue
        where = f"offering {off.offering_id}"
        if off.period_end < off.period_start:
            raise TvScheduleError(f"{where}: period ends {off.period_end} before it starts {off.period_start}")
        sid = series_id(off.offering_id)
        if sid in seen:
            raise TvScheduleError(f"{where}: appears twice")
        seen.add(sid)
        numbers: set[int] = set()
        episodes: list[Episode] = []
        for raw_lec in off.lectures:
            lec = raw_lec if isinstance(raw_lec, TvLecture) else _record(TvLecture, raw_lec, f"{where} lecture")
            if lec.number in numbers:
                raise TvScheduleError(f"{where}: lecture {lec.number} is listed twice")
            numbers.add(lec.number)
            if not off.period_start <= lec.date <= off.period_end:
                raise TvScheduleError(
                    f"{where}: lecture {lec.number} on {lec.date} is outside the period "
                    f"{off.period_start}..{off.period_end}"
                )
            if not lec.media or not lec.duration:
                if skipped is not None:
                    skipped.append(f"{where}: lecture {lec.number} ({lec.date}) has no packaged media yet")
                continue
            episodes.append(Episode(
                number=lec.number, title=dict(lec.title), media=lec.media, duration=float(lec.duration),
                description=dict(lec.description), date=lec.date, start=lec.start,
            ))
        episodes.sort(key=lambda e: e.number)
        out.append(Series(
            id=sid, title=dict(off.titles), episodes=tuple(episodes), description=dict(off.description),
            category=off.category, season=off.season, slot=off.slot, offering_id=off.offering_id,
        ))
    return out


def series_id(offering_id: str) -> str:
    """A stable, file-name-safe series id from an offering id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", offering_id).strip("-").lower() or "series"


def _record(cls: type, data: Mapping[str, Any], what: str) -> Any:
    if not isinstance(data, Mapping):
        raise TvScheduleError(f"{what}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    aliases = {"id": "offering_id", "title": "titles", "discipline": "titles"}
    kw = {aliases.get(k, k): v for k, v in data.items() if aliases.get(k, k) in names}
    if isinstance(kw.get("titles"), str):
        kw["titles"] = {"en": kw["titles"]}
    if isinstance(kw.get("title"), str):
        kw["title"] = {"en": kw["title"]}
    for key, parse in (("date", date), ("period_start", date), ("period_end", date), ("start", time), ("slot", time)):
        if isinstance(kw.get(key), str):
            try:
                kw[key] = parse.fromisoformat(kw[key])
            except ValueError:
                shown = dict(data).get("id") or dict(data).get("number") or ""
                raise TvScheduleError(f"{what} {shown}: {key} {kw[key]!r} is not a {parse.__name__}") from None
    try:
        return cls(**kw)
    except TypeError as exc:
        raise TvScheduleError(f"{what} {dict(data).get('id') or dict(data).get('number') or ''}: {exc}") from exc
