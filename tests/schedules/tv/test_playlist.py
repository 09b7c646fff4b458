"""ffplayout playlist, CSV and the as-run log."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from orchestrator.cli import main
from schedules.tv.day import Channel, Clock, Episode, Filler, FillerPool, Series, TvScheduleError, save_day
from schedules.tv.fill import build_day
from schedules.tv.playlist import (
    AsRunLog,
    AsRunRecord,
    as_run_csv,
    day_csv,
    ffplayout_playlist,
    read_as_run,
    write_ffplayout,
)

CH = Channel("aulacast-1.kz", "Aulacast 1", slots=(time(9), time(10, 30)))
SERIES = Series("math", {"ru": "Математика", "en": "Mathematics"},
                (Episode(1, {"en": "Limits"}, "/m/1.ts", 4000.5, date=date(2026, 11, 26)),))
POOL = FillerPool(idents=(Filler("ident", "/m/id.ts", 10),), loops=(Filler("loop", "/m/loop.ts", 300),), clock=Clock())


def day():  # type: ignore[no-untyped-def]
    return build_day(CH, date(2026, 11, 26), [SERIES], POOL)


def test_ffplayout_playlist_covers_the_day_back_to_back(tmp_path: Path) -> None:
    d = day()
    path = tmp_path / "2026-11-26.json"
    write_ffplayout(d, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == ffplayout_playlist(d)
    assert (data["channel"], data["date"], data["begin"], data["length"]) == ("Aulacast 1", "2026-11-26", "00:00:00", "24:00:00.000")
    prog = data["program"]
    assert len(prog) == len(d.items)
    assert all(set(e) >= {"in", "out", "duration", "source"} for e in prog)
    assert round(sum(e["out"] - e["in"] for e in prog), 3) == 86400
    lecture = next(e for e in prog if e["category"] == "lecture")
    assert lecture == {"in": 0.0, "out": 4000.5, "duration": 4000.5, "source": "/m/1.ts", "category": "lecture",
                       "title": "Математика: Limits"}
    assert {e["source"] for e in prog if e["category"] == "clock"} == {"generated:clock"}
    # one entry per line: an engineer can diff two days
    assert sum(1 for line in path.read_text().splitlines() if line.startswith('    {"in"')) == len(prog)


def test_csv_rows_match_items() -> None:
    d = day()
    rows = list(csv.DictReader(io.StringIO(day_csv(d))))
    assert len(rows) == len(d.items)
    lec = next(r for r in rows if r["kind"] == "lecture")
    assert (lec["start"], lec["end"], lec["title"], lec["episode_title"]) == (
        "2026-11-26T09:00:00+05:00", "2026-11-26T10:06:40.500000+05:00", "Математика", "Limits")


def test_as_run_log_appends_survives_a_torn_line_and_exports_csv(tmp_path: Path) -> None:
    d = day()
    log_path = tmp_path / "asrun.jsonl"
    t0 = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    with AsRunLog(log_path) as log:
        for i, item in enumerate(d.items[:3]):
            log.append(AsRunRecord.of(d, item, t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 1)))
    with AsRunLog(log_path) as log:  # a second run appends
        log.append(AsRunRecord.of(d, d.items[3], t0, t0, status="skipped", note="source missing"))
    with log_path.open("a") as fh:
        fh.write('{"channel": "aulacast-1.kz", "sta')  # crash mid-write
    recs = read_as_run(log_path)
    assert [r.status for r in recs] == ["played"] * 3 + ["skipped"]
    assert recs[0].start == "2026-11-26T04:00:00.000+00:00"
    rows = list(csv.DictReader(io.StringIO(as_run_csv(recs))))
    assert rows[3]["note"] == "source missing" and rows[0]["kind"] == d.items[0].kind
    log_path.write_text("garbage\n" + log_path.read_text())
    with pytest.raises(TvScheduleError, match=r"asrun\.jsonl:1: not an as-run record"):
        read_as_run(log_path)


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dp = tmp_path / "day.json"
    save_day(day(), dp)
    out = {k: tmp_path / f"out.{k}" for k in ("xml", "json", "csv")}
    assert main(["tv", "schedule", "export", str(dp), "--xmltv", str(out["xml"]), "--ffplayout", str(out["json"]),
                 "--csv", str(out["csv"])]) == 0
    assert all(p.stat().st_size > 0 for p in out.values())
    assert main(["tv", "schedule", "export", str(dp), str(dp), "--csv", str(tmp_path / "x.csv")]) == 2
    assert "exactly one day" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(dp.read_text().replace('"kind": "lecture"', '"kind": "sitcom"'))
    assert main(["tv", "schedule", "export", str(broken), "--xmltv", str(tmp_path / "b.xml")]) == 2
    assert "broken.json: item" in capsys.readouterr().err and not (tmp_path / "b.xml").exists()
