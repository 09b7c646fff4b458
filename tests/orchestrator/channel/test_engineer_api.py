"""The broadcast engineer's routes on the real server (issue 13 §3): the channel day, its exports, playout
status and the as-run log; only the engineer and the admin get them; the CLI says the same.

The channel is a small channel file written here (a lecture, its repeat, fillers, and a title that is
a spreadsheet formula); XMLTV is read back by the XMLTV reader and checked against the XMLTV DTD
(``tv_validate_file``), responses against the published OpenAPI schemas (jsonschema).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from orchestrator.channel.playout_state import PlayoutState, write_state
from orchestrator.cli import main
from schedules.tv.channelfile import read_channel_file
from schedules.tv.fill import WARNINGS, build_day
from schedules.tv.playlist import AsRunLog, AsRunRecord
from schedules.tv.xmltv import read_xmltv
from tests.helpers.support import ROLE_PEOPLE, TEST_DATA, ApiClient, serve_api

DATE = "2026-11-26"
ROUTES = ("/api/tv/day", "/api/tv/day.xml", "/api/tv/day.ffplayout.json", "/api/tv/day.csv", "/api/tv/playout",
          "/api/tv/as-run", "/api/tv/as-run.csv")  # fmt: skip
CHANNEL = {
    "channel": {"id": "aulacast-1.kz", "name": "Aulacast 1", "tz": "Asia/Almaty", "day_start": "06:00",
                "display_names": {"kk": "Аулакаст 1", "ru": "Аулакаст 1", "en": "Aulacast 1"},
                "slots": ["09:00", "12:00"]},
    "series": [{"id": "db201", "slot": "09:00",
                "title": {"kk": "Деректер қоры", "ru": "Базы данных", "en": "Databases"},
                "episodes": [{"number": 1, "title": {"kk": "=HYPERLINK(\"x\")", "ru": "Таблицы", "en": "Tables"},
                              "media": "db-1.ts", "duration": 3600, "date": DATE}]}],
    "fillers": {"idents": [{"source": "ident.ts", "duration": 10, "title": {"en": "Ident"}}],
                "loops": [{"source": "loop.ts", "duration": 1800, "title": {"en": "Campus"}}],
                "clock": {"min": 5, "max": 60}},
    "repeats": [{"series": "db201", "at": "20:00"}],
}  # fmt: skip


@pytest.fixture
def channel_files(tmp_path: Path) -> dict[str, Path]:
    path = tmp_path / "channel.yaml"
    path.write_text(yaml.safe_dump(CHANNEL, allow_unicode=True), encoding="utf-8")
    return {"channel_file": path, "as_run_log": tmp_path / "tv" / "asrun.jsonl", "playout_state": tmp_path / "tv" / "playout.json"}


@pytest.fixture
async def eng_api(tmp_path: Path, channel_files: dict[str, Path]) -> Any:
    async with serve_api(tmp_path, tv=channel_files) as client:
        yield client


def the_day(channel_files: dict[str, Path]) -> Any:
    from datetime import date

    cfg = read_channel_file(channel_files["channel_file"])
    return build_day(cfg.channel, date.fromisoformat(DATE), cfg.series, cfg.fillers, cfg.repeats)


async def schema(api: ApiClient, path: str) -> jsonschema.Draft202012Validator:
    doc = await (await api.client.get("/api/openapi.json")).json()
    s = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**s, "components": doc["components"]})


async def test_only_the_engineer_and_the_admin_get_the_channel(eng_api: ApiClient) -> None:
    for path in ROUTES:
        r = await eng_api.call("GET", f"{path}?date={DATE}")
        assert r.status == 401, path
        for role in ROLE_PEOPLE:
            r = await eng_api.call("GET", f"{path}?date={DATE}", role)
            if role in ("engineer", "admin"):
                assert r.status == 200, (path, role, await r.text())
            else:
                assert r.status == 403, (path, role, r.status)
                assert (await r.json())["error"]["code"] == "forbidden"


async def test_the_day_as_json_is_the_built_day(eng_api: ApiClient, channel_files: dict[str, Path]) -> None:
    r = await eng_api.call("GET", f"/api/tv/day?date={DATE}", "engineer")
    body = await r.json()
    (await schema(eng_api, "/api/tv/day")).validate(body)
    day = the_day(channel_files)
    assert body["date"] == DATE and body["start"] == "2026-11-26T06:00:00+05:00" and body["end"] == "2026-11-27T06:00:00+05:00"
    assert len(body["items"]) == len(day.items)
    items = body["items"]
    assert items[0]["start"].startswith(body["start"][:19]) and items[-1]["end"].startswith(body["end"][:19])
    assert all(a["end"] == b["start"] for a, b in zip(items, items[1:], strict=False)), "back to back, no gap"
    types = {i["type"] for i in items}
    assert types == {"programme", "repeat", "filler"}
    lecture = next(i for i in items if i["type"] == "programme")
    assert lecture["start"].startswith("2026-11-26T09:00:00") and lecture["duration"] == 3600
    assert lecture["title"] == {"kk": "Деректер қоры", "ru": "Базы данных", "en": "Databases"}
    assert lecture["episode_title"]["ru"] == "Таблицы"
    repeat = next(i for i in items if i["type"] == "repeat")
    assert repeat["start"].startswith("2026-11-26T20:00:00") and repeat["first_shown"].startswith("2026-11-26T09:00")
    assert {i["kind"] for i in items if i["type"] == "filler"} <= {"ident", "loop", "clock", "announcement", "black"}
    # each warning again with its code and quoted values (the page words them in the reader's language)
    assert [n["text"] for n in body["notes"]] == body["warnings"] == list(day.report.warnings)
    assert all(n["code"] in WARNINGS and WARNINGS.make(n["code"], **n["params"]).text == n["text"] for n in body["notes"])


async def test_downloads_xmltv_ffplayout_and_a_formula_safe_csv(eng_api: ApiClient, tmp_path: Path) -> None:
    r = await eng_api.call("GET", f"/api/tv/day.xml?date={DATE}", "engineer")
    assert r.headers["Content-Type"].startswith("application/xml")
    assert r.headers["Content-Disposition"] == 'attachment; filename="aulacast-1.kz-2026-11-26.xml"'
    xml = await r.read()
    progs = read_xmltv(xml)
    assert [p.start.strftime("%H:%M") for p in progs] == ["09:00", "20:00"]
    if shutil.which("tv_validate_file"):  # the XMLTV project's own validator (Debian xmltv-util)
        sup = tmp_path / "supplement"
        sup.mkdir()
        shutil.copy(TEST_DATA / "xmltv.dtd", sup / "xmltv.dtd")
        (tmp_path / "guide.xml").write_bytes(xml)
        res = await asyncio.to_thread(subprocess.run, ["tv_validate_file", str(tmp_path / "guide.xml")],
                                      capture_output=True, text=True, env={**os.environ, "XMLTV_SUPPLEMENT": str(sup)},
                                      cwd=tmp_path, timeout=60)  # fmt: skip
        assert res.returncode == 0 and "Validated ok" in res.stdout + res.stderr, res.stdout + res.stderr

    r = await eng_api.call("GET", f"/api/tv/day.ffplayout.json?date={DATE}", "admin")
    play = await r.json()
    (await schema(eng_api, "/api/tv/day.ffplayout.json")).validate(play)
    assert play["date"] == DATE and play["begin"] == "06:00:00" and len(play["program"]) > 3
    assert r.headers["Content-Disposition"].endswith('-2026-11-26.json"')

    r = await eng_api.call("GET", f"/api/tv/day.csv?date={DATE}", "engineer")
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    titled = [row for row in rows if row["kind"] == "lecture"]
    assert titled and titled[0]["episode_title"] == "'=HYPERLINK(\"x\")", "a formula is written as text"
    assert not any(v.startswith(("=", "+", "@")) for row in rows for v in row.values() if v)


async def test_bad_input_is_refused_plainly(tmp_path: Path, channel_files: dict[str, Path]) -> None:
    async with serve_api(tmp_path / "a", tv=channel_files) as api:
        r = await api.call("GET", "/api/tv/day?date=2026-02-30", "engineer")
        assert r.status == 422
        err = (await r.json())["error"]
        assert err["code"] == "invalid_query" and "2026-02-30" in err["message"] and "YYYY-MM-DD" in err["message"]
        r = await api.call("GET", "/api/tv/day.csv?date=tomorrow", "engineer")
        assert r.status == 422
    async with serve_api(tmp_path / "b") as api:  # no channel configured
        r = await api.call("GET", "/api/tv/day", "engineer")
        assert r.status == 404
        err = (await r.json())["error"]
        assert err["code"] == "no_channel" and "tv.channel_file" in err["message"]
        r = await api.call("GET", "/api/tv/playout", "engineer")
        assert (await r.json())["state"] == "not_configured"
    broken = tmp_path / "broken.yaml"
    broken.write_text("channel:\n  id: x\n  name: X\n  slots: [\"25:00\"]\n")
    async with serve_api(tmp_path / "c", tv={"channel_file": broken}) as api:
        r = await api.call("GET", "/api/tv/day", "engineer")
        assert r.status == 422
        msg = (await r.json())["error"]["message"]
        assert "broken.yaml:4" in msg and "Traceback" not in msg


async def test_playout_status_running_stopped_and_never(eng_api: ApiClient, channel_files: dict[str, Path]) -> None:
    validator = await schema(eng_api, "/api/tv/playout")
    body = await (await eng_api.call("GET", "/api/tv/playout", "engineer")).json()
    validator.validate(body)
    assert body["running"] is False and body["state"] == "never" and "not running" in body["message"]

    day = the_day(channel_files)
    state = PlayoutState.starting(day, pid=os.getpid(), day_file="day.json", target="udp://127.0.0.1:5000")
    write_state(channel_files["playout_state"], state.at_item(day, 3))
    body = await (await eng_api.call("GET", "/api/tv/playout", "engineer")).json()
    validator.validate(body)
    assert body["running"] is True and body["state"] == "sending"
    assert body["current"]["index"] == 3 and body["next"]["index"] == 4
    assert body["current"]["start"] == day.at(day.items[3]).isoformat(timespec="seconds")
    assert "pid" not in body and "day_file" not in body, "no host details to the page"

    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")  # a pid that no longer runs
    await gone.wait()
    write_state(channel_files["playout_state"], PlayoutState.starting(day, pid=gone.pid, day_file="d", target="u").at_item(day, 5))
    body = await (await eng_api.call("GET", "/api/tv/playout", "engineer")).json()
    validator.validate(body)
    assert body["running"] is False and body["state"] == "stopped" and body["current"] is None
    assert "stopped without finishing" in body["message"]

    write_state(channel_files["playout_state"], state.at_item(day, 7).ended("finished"))
    body = await (await eng_api.call("GET", "/api/tv/playout", "engineer")).json()
    assert body["running"] is False and body["state"] == "finished"

    channel_files["playout_state"].write_text("{half a file")
    body = await (await eng_api.call("GET", "/api/tv/playout", "engineer")).json()
    assert body["running"] is False and body["state"] == "unreadable"


async def test_as_run_shows_that_days_records_only(eng_api: ApiClient, channel_files: dict[str, Path]) -> None:
    validator = await schema(eng_api, "/api/tv/as-run")
    body = await (await eng_api.call("GET", f"/api/tv/as-run?date={DATE}", "engineer")).json()
    validator.validate(body)
    assert body["records"] == [] and "nothing has aired" in body["message"]

    day = the_day(channel_files)
    with AsRunLog(channel_files["as_run_log"]) as log:
        for item in day.items[:3]:
            log.append(AsRunRecord.of(day, item, day.at(item), day.local(item.end_ms), note="udp://x"))
        late = day.items[-1]  # 05:59 the next calendar day: still this broadcast day (06:00 to 06:00)
        log.append(AsRunRecord.of(day, late, day.at(late), day.local(late.end_ms)))
        log.append(AsRunRecord.of(day, late, day.at(late) + timedelta(days=2), day.local(late.end_ms) + timedelta(days=2)))
        log.append(AsRunRecord("other.kz", day.at(day.items[0]).isoformat(), day.at(day.items[0]).isoformat(), "loop",
                               "-1+2", None, 0, 1, "played", ""))  # fmt: skip
    body = await (await eng_api.call("GET", f"/api/tv/as-run?date={DATE}", "engineer")).json()
    validator.validate(body)
    assert [r["kind"] for r in body["records"]] == [i.kind for i in [*day.items[:3], late]]
    assert body["records"][-1]["start"].startswith("2026-11-27T05:59")
    assert body["message"] == ""
    r = await eng_api.call("GET", f"/api/tv/as-run.csv?date={DATE}", "admin")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert len(rows) == 4 and rows[0]["status"] == "played"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values() if v), "formula-safe"
    body = await (await eng_api.call("GET", "/api/tv/as-run?date=2026-11-27", "engineer")).json()
    assert body["records"] == [] and body["message"] == "no as-run records for this day"


def test_the_cli_shows_the_same_day_status_and_as_run(tmp_path: Path, channel_files: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    conf = tmp_path / "aulacast.toml"
    conf.write_text(f'data_dir = "{tmp_path / "var"}"\n[tv]\n'
                    + "".join(f'{k} = "{v}"\n' for k, v in channel_files.items()))  # fmt: skip
    assert main(["--config", str(conf), "tv", "day", "--date", DATE, "--json", "--csv", str(tmp_path / "d.csv")]) == 0
    out = capsys.readouterr().out
    day = json.loads(out[out.index("{"):])
    assert day["date"] == DATE and len(day["items"]) == len(the_day(channel_files).items)
    assert (tmp_path / "d.csv").read_text(encoding="utf-8").count("'=HYPERLINK") == 2  # the lecture and its repeat
    assert main(["--config", str(conf), "tv", "status"]) == 0
    assert "playout is not running" in capsys.readouterr().out
    assert main(["--config", str(conf), "tv", "as-run", "--date", DATE]) == 0
    assert "nothing has aired yet" in capsys.readouterr().out
    assert main(["--config", str(conf), "tv", "day", "--date", "26.11.2026"]) == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err
