"""Playlists another playout server can run, and the as-run log of what actually played.

    write_ffplayout(day, "2026-11-26.json")   # ffplayout's daily playlist
    write_csv(day, "day.csv")                  # one row per item, for spreadsheets
    with AsRunLog("asrun.jsonl") as log: log.append(AsRunRecord(...))

ffplayout's playlist is {"channel", "date", "program": [{"in", "out", "duration",
"source", ...}]}: items have no start times, they play back to back from the
channel's day start, so our day (which is back to back too) maps one to one.
"duration" is the length of the whole source file in ffplayout, "in"/"out" the
part played; for a cut filler we only know the part, so duration = out.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from fileio import write_text_atomic
from fileio.csvcell import csv_writer
from schedules.tv.day import Day, Item, TvScheduleError

GENERATED_SOURCE = "generated:{kind}"
"""Source written for items rendered at playout (clock, black): ffplayout replaces a
source it cannot open with its configured filler for exactly that duration."""


def _title(text: Mapping[str, str], langs: Iterable[str]) -> str:
    for lang in [*langs, "en", "ru", "kk"]:
        if text.get(lang):
            return text[lang]
    return next(iter(text.values()), "")


def ffplayout_playlist(day: Day, sources: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ffplayout daily playlist for ``day``; ``sources`` maps generated kinds to real files."""
    sources = sources or {}
    program: list[dict[str, Any]] = []
    langs = day.channel.languages
    for item in day.items:
        source = item.source or sources.get(item.kind) or GENERATED_SOURCE.format(kind=item.kind)
        entry: dict[str, Any] = {
            "in": round(item.media_in, 3),
            "out": item.media_out,
            "duration": item.media_out,
            "source": source,
            "category": item.kind,
        }
        title = _title(item.title, langs)
        if item.episode_title:
            title = f"{title}: {_title(item.episode_title, langs)}"
        if title:
            entry["title"] = title
        program.append(entry)
    return {
        "channel": day.channel.name,
        "date": day.date.isoformat(),
        "begin": day.channel.day_start.strftime("%H:%M:%S"),
        "length": _hms(day.length_ms),
        "program": program,
    }


def write_ffplayout(day: Day, path: str | os.PathLike[str], sources: Mapping[str, str] | None = None) -> None:
    data = ffplayout_playlist(day, sources)
    body = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in data.pop("program"))
    head = json.dumps(data, ensure_ascii=False, indent=2)[:-2]
    write_text_atomic(Path(path), f'{head},\n  "program": [\n{body}\n  ]\n}}\n')


CSV_COLUMNS = (
    "start", "end", "duration", "kind", "series", "season", "episode", "title", "episode_title",
    "category", "source", "in", "out",
)


def day_csv(day: Day) -> str:
    """One row per item; local ISO times with offsets, texts in the channel's first language."""
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow(CSV_COLUMNS)
    langs = day.channel.languages
    for item in day.items:
        w.writerow([
            day.at(item).isoformat(), day.local(item.end_ms).isoformat(), f"{item.duration:.3f}", item.kind,
            item.series or "", item.season or "", item.episode or "", _title(item.title, langs),
            _title(item.episode_title, langs), item.category or "", item.source or "",
            f"{item.media_in:.3f}", f"{item.media_out:.3f}",
        ])
    return buf.getvalue()


def write_csv(day: Day, path: str | os.PathLike[str]) -> None:
    write_text_atomic(Path(path), day_csv(day))


# ---------------------------------------------------------------- as-run log


@dataclass(frozen=True)
class AsRunRecord:
    """What actually went to air: one item, when it started and ended (UTC with offset)."""

    channel: str
    start: str
    end: str
    kind: str
    title: str
    source: str | None
    media_in: float
    media_out: float
    status: str = "played"
    note: str = ""

    @classmethod
    def of(cls, day: Day, item: Item, start: datetime, end: datetime, status: str = "played",
           note: str = "") -> AsRunRecord:
        return cls(
            channel=day.channel.id, start=start.isoformat(timespec="milliseconds"),
            end=end.isoformat(timespec="milliseconds"), kind=item.kind,
            title=_title(item.title, day.channel.languages)
            + (f": {_title(item.episode_title, day.channel.languages)}" if item.episode_title else ""),
            source=item.source, media_in=item.media_in, media_out=item.media_out, status=status, note=note,
        )


class AsRunLog:
    """Append-only JSON-lines log, flushed per record so a crash loses at most the current line.

        with AsRunLog(path) as log:
            log.append(record)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def append(self, record: AsRunRecord) -> None:
        self._fh.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> AsRunLog:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def read_as_run(path: str | os.PathLike[str]) -> list[AsRunRecord]:
    """All records of a log; a torn last line (crash mid-write) is skipped, other bad lines refused."""
    p = Path(path)
    lines = p.read_text(encoding="utf-8").splitlines()
    out: list[AsRunRecord] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(AsRunRecord(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            if n == len(lines):
                break
            raise TvScheduleError(f"{p}:{n}: not an as-run record ({exc})") from exc
    return out


AS_RUN_COLUMNS = ("channel", "start", "end", "kind", "title", "source", "media_in", "media_out", "status", "note")


def as_run_csv(records: Iterable[AsRunRecord]) -> str:
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow(AS_RUN_COLUMNS)
    for r in records:
        d = asdict(r)
        w.writerow([d[c] if d[c] is not None else "" for c in AS_RUN_COLUMNS])
    return buf.getvalue()


def write_as_run_csv(records: Iterable[AsRunRecord], path: str | os.PathLike[str]) -> None:
    write_text_atomic(Path(path), as_run_csv(records))


def _hms(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
