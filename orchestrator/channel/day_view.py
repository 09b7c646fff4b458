"""The configured channel's day, exports and as-run log, as the engineer's page and ``aulacast tv`` show them.

    cfg = configured_channel(settings)            # tv.channel_file + tv.series_files, or a clear error
    day = channel_day(settings, date(2026, 11, 26))
    day_json(day)                                 # items with start/end, kind and type, titles per language
    as_run_for(settings, day)                     # what actually aired that day (the as-run log)

The day is built on demand from the channel file exactly as ``tv schedule build`` builds it
(overlaps refused), so the page, the CLI and the exports never disagree.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from orchestrator.config import Settings
from orchestrator.errors import NotFound, UserError
from schedules.errors import ScheduleError
from schedules.tv import channelfile
from schedules.tv.channelfile import ChannelConfig
from schedules.tv.day import Day, Item
from schedules.tv.fill import build_day
from schedules.tv.playlist import AsRunRecord, read_as_run


def configured_channel(settings: Settings) -> ChannelConfig:
    """The channel file named in the settings, with its series files; errors say which file and why."""
    path = settings.tv.channel_file
    if path is None:
        raise NotFound("no channel is configured: set tv.channel_file to a channel file (docs/broadcast-engineer.md)",
                       code="no_channel")  # fmt: skip
    try:
        cfg = channelfile.read_channel_file(path)
        for extra in settings.tv.series_files:
            cfg = channelfile.with_series(cfg, channelfile.read_series_file(extra), source=str(extra))
    except FileNotFoundError as exc:
        raise UserError(f"channel file not found: {exc.filename}", code="channel_file", status=422) from exc
    except ScheduleError as exc:
        raise UserError(str(exc), code="channel_file", status=422) from exc
    return cfg


def parse_date(text: str | None, cfg: ChannelConfig) -> date:
    """``YYYY-MM-DD``; none given: the broadcast day on air now (before ``day_start`` it is yesterday's)."""
    if not text:
        return broadcast_date(cfg.channel.zone, cfg.channel.day_start)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"date {text[:40]!r}: not a date (YYYY-MM-DD)", code="invalid_query", status=422) from exc


def broadcast_date(zone: Any, day_start: time, now: datetime | None = None) -> date:
    local = (now or datetime.now(UTC)).astimezone(zone)
    return local.date() - timedelta(days=1) if local.time() < day_start else local.date()


def channel_day(settings: Settings, day_text: str | None) -> Day:
    cfg = configured_channel(settings)
    day_date = parse_date(day_text, cfg)
    try:
        return build_day(cfg.channel, day_date, cfg.series, cfg.fillers, cfg.repeats)
    except ScheduleError as exc:
        raise UserError(f"{settings.tv.channel_file}: {day_date}: {exc}", code="channel_day", status=422) from exc


def item_type(item: Item) -> str:
    """The three kinds the page tells apart: a lecture (programme), a repeat, and everything that fills gaps."""
    return "programme" if item.kind == "lecture" else "repeat" if item.kind == "repeat" else "filler"


def day_json(day: Day) -> dict[str, Any]:
    ch = day.channel
    return {
        "channel": {"id": ch.id, "name": ch.name, "display_names": dict(ch.display_names), "timezone": ch.tz,
                    "languages": list(ch.languages)},  # fmt: skip
        "date": day.date.isoformat(),
        "start": day.start.isoformat(timespec="seconds"),
        "end": day.end.isoformat(timespec="seconds"),
        "warnings": list(day.report.warnings),
        "notes": [n.as_dict() for n in day.report.notes],
        "items": [
            {"index": i, "start": day.at(it).isoformat(timespec="milliseconds"),
             "end": day.local(it.end_ms).isoformat(timespec="milliseconds"),
             "offset": it.offset_ms / 1000, "duration": it.duration, "kind": it.kind, "type": item_type(it),
             "title": dict(it.title), "episode_title": dict(it.episode_title), "series": it.series,
             "episode": it.episode, "source": it.source,
             "first_shown": it.first_shown.isoformat(timespec="seconds") if it.first_shown else None}
            for i, it in enumerate(day.items)
        ],
    }  # fmt: skip


def as_run_for(settings: Settings, day: Day) -> dict[str, Any]:
    """The as-run records of ``day``'s channel that started within the broadcast day (``start`` .. ``end``:
    a day starting at 06:00 holds what aired after midnight too)."""
    path = settings.tv.as_run_log
    if path is None:
        return {"records": [], "message": "no as-run log is configured (tv.as_run_log)"}
    try:
        records = read_as_run(path)
    except FileNotFoundError:
        return {"records": [], "message": "nothing has aired yet: the as-run log does not exist"}
    except (ScheduleError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"{path.name}: {exc}", code="as_run_log", status=422) from exc
    out = [r for r in records if r.channel == day.channel.id and _within(r, day)]
    return {"records": [asdict(r) for r in out], "message": "" if out else "no as-run records for this day"}


def _within(r: AsRunRecord, day: Day) -> bool:
    try:
        start = datetime.fromisoformat(r.start)
    except ValueError:
        return False
    return start.tzinfo is not None and day.start <= start < day.end
