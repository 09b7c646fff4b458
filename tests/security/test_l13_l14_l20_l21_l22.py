"""Low 13, 14, 20, 21, 22: masked config, iCalendar TEXT, file modes, bounded fields, CSV cells."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.helpers.support import ApiClient, make_settings


def test_l13_config_show_masks_every_credential_form(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('database_url = "postgresql://app@db.example/aulacast?password=S3cretQuery&sslmode=require"\n'
                   '[ice]\nturn_urls = ["turn:alice:S3cretTurn@turn.example:3478", "turns:S3cretOpaque@turn.example"]\n')
    env = {**os.environ, "AULACAST_REDIS_URL": "redis://:S3cretRedis@127.0.0.1:6379/0"}
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(cfg), "config", "show"],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for secret in ("S3cretQuery", "S3cretTurn", "S3cretOpaque", "S3cretRedis"):
        assert secret not in out.stdout, secret
    assert "turn.example" in out.stdout and "alice" in out.stdout
    kv = tmp_path / "b.toml"
    kv.write_text('database_url = "host=db user=app password=S3cretKeyValue dbname=aulacast"\n')
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(kv), "config", "show"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "S3cretKeyValue" not in out.stdout + out.stderr


async def test_l14_control_characters_never_reach_icalendar_text(api: ApiClient) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    r = await api.call("POST", "/api/sessions", "tutor", json={"title": "Evil\rDTSTART:19700101T000000\x07 end",
                                                               "start": start, "minutes": 30})  # fmt: skip
    assert r.status == 200, await r.text()
    ics = await (await api.call("GET", f"/api/people/{api.ids['tutor']}/schedule.ics", "tutor")).read()
    assert b"\r" not in ics.replace(b"\r\n", b"")
    assert b"\x07" not in ics
    from icalendar import Calendar

    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(ics).walk("VEVENT")]
    assert summaries == ["Evil\nDTSTART:19700101T000000 end"]


async def test_l20_database_and_data_folder_are_private(api: ApiClient, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    for f in settings.data_dir.glob("aulacast.db*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


async def test_l21_fields_are_bounded_and_typed(api: ApiClient) -> None:
    r = await api.call("POST", "/api/people", "registrar", json={"username": "longmail", "display_name": "L",
                                                                  "roles": ["student"], "email": "a" * 100_000 + "@x.kz"})  # fmt: skip
    assert r.status == 422
    r = await api.call("POST", "/api/results", "registrar", json={"offering": "X", "student": "stu", "activity": "a",
                                                                   "points": True})  # fmt: skip
    assert r.status == 422 and "points" in (await r.json())["error"]["message"]
    csv_rows = "username,display_name,roles,email\nlong,Long,student," + "b" * 300 + "@x.kz\n"
    r = await api.call("POST", "/api/roster", "registrar", data=csv_rows.encode(), headers={"Content-Type": "text/csv"})
    assert r.status == 422


def test_l22_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    from datetime import date, time

    from orchestrator.cli import main
    from schedules.tv.day import Channel, Clock, Episode, Filler, FillerPool, Series, save_day
    from schedules.tv.fill import build_day

    ch = Channel("aulacast-1.kz", "Aulacast 1", slots=(time(9),))
    series = Series("=cmd|' /C calc'!A0", {"en": "=HYPERLINK(\"http://evil.example\",\"x\")"},
                    (Episode(1, {"en": "+SUM(1,2)"}, "/m/1.ts", 600.0, date=date(2026, 11, 26)),))
    pool = FillerPool(idents=(Filler("ident", "@id.ts", 10),), loops=(Filler("loop", "/m/loop.ts", 300),), clock=Clock())
    dp = tmp_path / "day.json"
    save_day(build_day(ch, date(2026, 11, 26), [series], pool), dp)
    out = tmp_path / "day.csv"
    assert main(["tv", "schedule", "export", str(dp), "--csv", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    cells = [c for row in rows[1:] for c in row]
    assert any("HYPERLINK" in c for c in cells)
    for c in cells:
        assert not c.startswith(("=", "+", "@", "\t", "\r")) and not (c.startswith("-") and not c[1:2].isdigit()), c
