"""The registrar's path on the real CLI and server: roster, calendar, curriculum, plan, feeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from icalendar import Calendar

from tests.helpers.registrar import CALENDAR, DEMO, cli, ok, one_line_error
from tests.helpers.support import free_port


def sessions_count(tmp_path: Path) -> int:
    import sqlite3

    con = sqlite3.connect(tmp_path / "var" / "aulacast.db")
    try:
        return con.execute("select count(*) from sessions").fetchone()[0]
    finally:
        con.close()


def test_service_refuses_unmigrated_database(tmp_path: Path) -> None:
    res = cli(tmp_path, "admin", "create", "root", "--password-env", "NOPE")
    assert "aulacast db upgrade" in one_line_error(res)


def test_roster_dry_run_reports_every_bad_row_and_imports_nothing(tmp_path: Path) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    bad = tmp_path / "roster.csv"
    bad.write_text(
        "username,display_name,roles,group\n"
        "dana,Dana,student,IS-21\n"
        "dana,Dana again,student,IS-21\n"
        "Bad Name,X,student,IS-21\n"
        "zed,Zed,wizard,\n"
        "tom,Tom,tutor,IS-21\n"
    )
    res = cli(tmp_path, "roster", "import", str(bad), "--dry-run")
    assert res.returncode != 0
    for line in (":3: username: 'dana' duplicates line 2", ":4: username", ":5: roles: unknown wizard", ":6: group"):
        assert line in res.stderr, res.stderr
    res = cli(tmp_path, "roster", "import", str(bad))
    assert "nothing imported" in one_line_error(res)
    import sqlite3

    con = sqlite3.connect(tmp_path / "var" / "aulacast.db")
    assert con.execute("select count(*) from people").fetchone()[0] == 0
    con.close()
    good = tmp_path / "good.csv"
    good.write_text("username,display_name,roles,group\ndana,Dana,student,IS-21\n")
    assert "valid; dry run" in ok(cli(tmp_path, "roster", "import", str(good), "--dry-run"))


def test_calendar_import_is_atomic_and_names_the_line(tmp_path: Path) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    text = CALENDAR.read_text()
    broken = tmp_path / "cal.yaml"
    broken.write_text(text.replace("slot_minutes: 15", "slot_minutes: 15\ncolour: blue"))
    msg = one_line_error(cli(tmp_path, "calendar", "import", str(broken)))
    assert str(broken) in msg and "colour" in msg
    line = [i for i, ln in enumerate(text.splitlines()) if ln.startswith("slot_minutes: 15")][0] + 2
    assert f"{broken}:{line}:" in msg
    malformed = tmp_path / "bad.yaml"
    malformed.write_text("periods: [\n")
    assert str(malformed) in one_line_error(cli(tmp_path, "calendar", "import", str(malformed)))
    import sqlite3

    con = sqlite3.connect(tmp_path / "var" / "aulacast.db")
    assert con.execute("select count(*) from calendars").fetchone()[0] == 0
    con.close()


def test_calendar_import_refuses_bad_public_holidays_and_transfers(tmp_path: Path) -> None:
    """Issue 14's bad input on the real CLI: one `FILE:LINE: KEY: message` line, nothing imported."""
    ok(cli(tmp_path, "db", "upgrade"))
    text = CALENDAR.read_text()
    line = text.splitlines().index("  country: KZ                    # from the `holidays` library pinned in pyproject.toml (docs/calendar.md)") + 1
    cases = [
        (text.replace("  country: KZ ", "  country: QZ "),
         f":{line}: public_holidays.country: QZ is not a country known to holidays 0.108 (codes are ISO 3166-1, "
         "e.g. KZ; `aulacast calendar countries` lists them all)"),
        (text.replace("  country: KZ ", "  subdivision: ALA\n  country: KZ "),
         f":{line}: public_holidays.subdivision: ALA is not a subdivision of KZ (KZ has none in holidays 0.108; "
         "`aulacast calendar countries KZ` lists them)"),
        (text + "transfers:\n  - {work: 2027-03-27, off: 2027-03-25, name: Decree}\n",
         ": transfers[0].work: Sat 2027-03-27 is already a working day (teaching_days: mon, tue, wed, thu, fri, sat); "
         "a decree's working weekend day concerns institutions that do not teach on it"),
        (text + "transfers:\n  - {work: 2027-03-28, off: 2027-03-24, name: Decree}\n",
         ": transfers[0].off: Wed 2027-03-24 is already off"),
        (text + "transfers:\n  - {work: 2027-09-05, off: 2027-09-06, name: Decree}\n",
         ": transfers[0].work: transfer working day 2027-09-05 is outside the academic year 2026-09-01 – 2027-08-31"),
    ]  # fmt: skip
    for i, (body, expected) in enumerate(cases):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(body)
        msg = one_line_error(cli(tmp_path, "calendar", "import", str(bad)))
        assert msg.startswith(f"aulacast: error: {bad}:") and expected in msg, msg
    import sqlite3

    con = sqlite3.connect(tmp_path / "var" / "aulacast.db")
    assert con.execute("select count(*) from calendars").fetchone()[0] == 0
    con.close()
    out = ok(cli(tmp_path, "calendar", "import", str(CALENDAR)))
    assert "note: estimated public holiday date(s) not yet confirmed: 2027-05-16 Құрбан айт" in out
    assert "KZ: Kazakhstan (holidays 0.108)" in ok(cli(tmp_path, "calendar", "countries", "kz"))
    assert "did you mean KZ (Kazakhstan)?" in one_line_error(cli(tmp_path, "calendar", "countries", "Kazakstan"))


def test_plan_dry_run_apply_replan_and_feed(institution: Path) -> None:
    tmp = institution
    dry = ok(cli(tmp, "plan", "--dry-run"))
    assert "added" in dry and "dry run: nothing written" in dry
    assert sessions_count(tmp) == 0
    assert "§29 timur" not in dry  # no results yet: everyone lacks results
    out = ok(cli(tmp, "plan"))
    n = sessions_count(tmp)
    assert n > 50, out
    again = ok(cli(tmp, "plan", "--dry-run"))
    assert again.startswith("0 added, 0 moved, 0 updated, 0 cancelled"), again
    ics = tmp / "dana.ics"
    ok(cli(tmp, "schedule", "export", "--person", "dana", "-o", str(ics)))
    cal = Calendar.from_ical(ics.read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    assert events and all(str(e["UID"]).endswith("@example.edu") for e in events)
    assert cal.walk("VTIMEZONE") and str(cal.walk("VTIMEZONE")[0]["TZID"]) == "Asia/Almaty"
    assert all(e.get("SEQUENCE") == 0 for e in events)
    assert any("https://portal.example.edu/join/" in str(e.get("URL", "")) for e in events)
    # a new holiday on a consultation day moves sessions: same UID, SEQUENCE 1
    first = min(events, key=lambda e: e.decoded("DTSTART"))
    day = first.decoded("DTSTART").date().isoformat()
    cal_text = CALENDAR.read_text().replace("\nholidays:", f"\nholidays:\n  - {{date: {day}, name: Rector's day}}", 1)
    moved_cal = tmp / "cal2.yaml"
    moved_cal.write_text(cal_text)
    ok(cli(tmp, "calendar", "import", str(moved_cal)))
    diff = ok(cli(tmp, "plan", "--dry-run"))
    assert " moved" in diff and not diff.startswith("0 added, 0 moved")
    ok(cli(tmp, "plan"))
    assert sessions_count(tmp) == n  # moved, not re-created
    ok(cli(tmp, "schedule", "export", "--person", "dana", "-o", str(ics)))
    after = {str(e["UID"]): e for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT")}
    uid = str(first["UID"])
    assert after[uid].get("SEQUENCE") == 1
    assert after[uid].decoded("DTSTART").date().isoformat() != day
    group_ics = tmp / "group.ics"
    ok(cli(tmp, "schedule", "export", "--group", "IS-21", "-o", str(group_ics)))
    assert b"BEGIN:VEVENT" in group_ics.read_bytes()
    assert "no person" in one_line_error(cli(tmp, "schedule", "export", "--person", "ghost", "-o", str(ics)))


def test_unsatisfiable_plan_is_reported(institution: Path) -> None:
    tmp = institution
    cur = (DEMO / "curriculum.yaml").read_text().replace(
        "consultations: {per_week: 1, minutes: 60, weekdays: [wed], hours: [\"14:00\", \"19:00\"]}",
        "consultations: {per_week: 1, minutes: 480, weekdays: [wed], hours: [\"14:00\", \"15:00\"], strict: true}",
    )
    f = tmp / "cur.yaml"
    f.write_text(cur)
    ok(cli(tmp, "curriculum", "import", str(f)))
    out = ok(cli(tmp, "plan", "--dry-run", "--limit", "500"))
    assert "could not be placed" in out and "\n! NET210-IS21-A/consultation" in out


def test_curriculum_errors_name_line_and_key(institution: Path) -> None:
    tmp = institution
    f = tmp / "cur.yaml"
    f.write_text("offerings:\n  - code: X\n    discipline: DB201\n    group: IS-21\n    period: autumn\n"
                 "    tutor: aigerim\n    technology: radio\n")
    msg = one_line_error(cli(tmp, "curriculum", "import", str(f)))
    assert f"{f}:7: offerings[0].technology" in msg
    f.write_text("offerings:\n  - {code: X, discipline: DB201, group: NOPE, period: autumn, tutor: dana}\n")
    msg = one_line_error(cli(tmp, "curriculum", "import", str(f)))
    assert "unknown group 'NOPE'" in msg and "'dana' is not a tutor" in msg
    # a malformed attendance rule on a control (issue 12 §5): the line and key, nothing imported
    head = "offerings:\n  - code: X\n    discipline: DB201\n    group: IS-21\n    period: autumn\n    tutor: aigerim\n"
    for rule, says in (
        ("      attendance: {sessions: [lecture], min_percent: 70}", ":9: offerings[0].controls[0].attendance.sessions[0]: Input should be 'consultation' or 'control'"),
        ("      attendance:\n        min_percent: 170", ":10: offerings[0].controls[0].attendance.min_percent: Input should be less than or equal to 100"),
        ("      attendance: {sessions: [consultation]}", ":9: offerings[0].controls[0].attendance.min_percent: Field required"),
        ("      attendance: {min_percent: 70, share: 50}", ":9: offerings[0].controls[0].attendance.share: unknown key"),
        ("      graded: false", ":8: offerings[0].controls[0]: a control with graded: false is passed by attendance alone"),
    ):  # fmt: skip
        f.write_text(head + "    controls:\n    - id: lab\n" + rule + "\n      name: Lab\n")
        msg = one_line_error(cli(tmp, "curriculum", "import", str(f)))
        assert f"{f}{says}" in msg, msg
    import sqlite3

    con = sqlite3.connect(tmp / "var" / "aulacast.db")
    assert con.execute("select count(*) from offerings where code = 'X'").fetchone()[0] == 0
    con.close()


def test_serve_demo_prints_url_and_logins(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "aulacast.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "var"}"\nport = {port}\n')
    env = {**os.environ, "AULACAST_CONFIG": str(cfg)}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "serve", "--demo"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/" in lines[0]
        assert "demo logins" in lines[1] and "ada" in lines[2] and "admin" in lines[2]
        import urllib.request

        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10).read()
        assert b'"ready": true' in body
    finally:
        proc.terminate()
        proc.wait(10)


def test_admin_create_and_login(tmp_path: Path) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    env_file = {"ROOT_PW": "a long enough password"}
    cfg = tmp_path / "aulacast.toml"
    res = subprocess.run([sys.executable, "-m", "orchestrator.cli", "admin", "create", "root", "--password-env", "ROOT_PW"],
                         capture_output=True, text=True, env={**os.environ, **env_file, "AULACAST_CONFIG": str(cfg)})
    assert res.returncode == 0, res.stderr
    again = subprocess.run([sys.executable, "-m", "orchestrator.cli", "admin", "create", "root", "--password-env", "ROOT_PW"],
                           capture_output=True, text=True, env={**os.environ, **env_file, "AULACAST_CONFIG": str(cfg)})
    assert "taken" in one_line_error(again)
    short = subprocess.run([sys.executable, "-m", "orchestrator.cli", "admin", "create", "r2", "--password-env", "P"],
                           capture_output=True, text=True, env={**os.environ, "P": "short", "AULACAST_CONFIG": str(cfg)})
    assert "at least 10 characters" in one_line_error(short)
    import sqlite3

    con = sqlite3.connect(tmp_path / "var" / "aulacast.db")
    row = con.execute("select password_hash from people where username='root'").fetchone()
    con.close()
    assert row[0].startswith("$argon2id$")


def test_ics_holidays_merge_and_cancelled_sessions(institution: Path) -> None:
    tmp = institution
    ok(cli(tmp, "plan"))
    ics = tmp / "dana.ics"
    ok(cli(tmp, "schedule", "export", "--person", "dana", "-o", str(ics)))
    before = {str(e["UID"]): e for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT")}
    # the registrar drops the Networks offering's consultations: its sessions become CANCELLED, not deleted
    cur = (DEMO / "curriculum.yaml").read_text().replace(
        "    consultations: {per_week: 1, minutes: 60, weekdays: [wed], hours: [\"14:00\", \"19:00\"]}\n", "")
    f = tmp / "cur.yaml"
    f.write_text(cur)
    ok(cli(tmp, "curriculum", "import", str(f)))
    out = ok(cli(tmp, "plan"))
    assert " cancelled" in out
    ok(cli(tmp, "schedule", "export", "--person", "dana", "-o", str(ics)))
    after = {str(e["UID"]): e for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT")}
    gone = [u for u in before if "NET210" in u and "consultation" in u]
    assert gone and all(str(after[u]["STATUS"]) == "CANCELLED" and after[u]["SEQUENCE"] == 1 for u in gone)
    # a holiday feed in .ics merged at import
    hol = tmp / "extra.ics"
    hol.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:h1@test\r\n"
                   "DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\n"
                   "SUMMARY:Extra day off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    ok(cli(tmp, "calendar", "import", str(CALENDAR), "--ics", str(hol)))
    ok(cli(tmp, "plan"))
    ok(cli(tmp, "schedule", "export", "--person", "dana", "-o", str(ics)))
    days = {e.decoded("DTSTART").date().isoformat() for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
            if str(e["STATUS"]) != "CANCELLED"}
    assert "2026-12-01" not in days
    bad = tmp / "bad.ics"
    bad.write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2026XX01\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    msg = one_line_error(cli(tmp, "calendar", "import", str(CALENDAR), "--ics", str(bad)))
    assert str(bad) in msg


def test_tv_series_from_the_calendars_tv_offerings(institution: Path) -> None:
    tmp = institution
    lectures = tmp / "lectures.yaml"
    lectures.write_text("HIST100-EC22-TV:\n"
                        "  - {number: 1, date: 2026-09-05, title: {ru: Введение}, media: m/h1.ts, duration: 2700}\n"
                        "  - {number: 2, date: 2026-09-12, title: {ru: Степь}}\n")
    out = tmp / "series.yaml"
    res = cli(tmp, "tv", "series", "-o", str(out), "--lectures", str(lectures))
    assert res.returncode == 0, res.stderr
    assert "lecture 2 (2026-09-12) has no packaged media yet" in res.stderr
    import yaml

    doc = yaml.safe_load(out.read_text())
    assert [s["offering"] for s in doc["series"]] == ["HIST100-EC22-TV"]
    series = doc["series"][0]
    assert series["title"]["kk"].startswith("Қазақстан") and len(series["episodes"]) == 1
    lectures.write_text("HIST100-EC22-TV:\n  - {number: 1, date: 2027-09-05, media: m/h1.ts, duration: 2700}\n")
    assert "outside the period" in one_line_error(cli(tmp, "tv", "series", "-o", str(out), "--lectures", str(lectures)))


def test_case_export_of_an_offering_takes_title_and_schedule_from_the_store(institution: Path) -> None:
    tmp = institution
    ok(cli(tmp, "plan"))
    syllabus = tmp / "syllabus.txt"
    syllabus.write_text("Week 1: relational model\n")
    out = tmp / "db201.zip"
    ok(cli(tmp, "case", "export", "DB201-IS21-A", "--material", str(syllabus), "-o", str(out)))
    import json
    import zipfile

    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        manifest = json.loads(z.read(next(n for n in names if n.endswith("manifest.json"))))
        ics = z.read(next(n for n in names if n.endswith(".ics")))
    assert "Databases" in json.dumps(manifest, ensure_ascii=False)
    assert b"DB201-IS21-A/consultation" in ics
    assert "no offering 'NOPE'" in one_line_error(cli(tmp, "case", "export", "NOPE", "-o", str(tmp / "x.zip")))
    assert not (tmp / "x.zip").exists()
