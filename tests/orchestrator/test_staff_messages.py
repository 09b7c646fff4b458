"""Issue 13 §4: the sentences the server makes for the staff pages are said in kk, ru and en.

A plan's unplaced and §29 reasons, a roster's bad rows, the calendar check, the operator's
services and the audit chain carry a stable ``code`` and the ``params`` they quote next to their
English words; the pages say them by ``staff.msg.<code>`` (web/static/staff-kit.js ``said``). The
codes are collected from the Python sources the way they are written there (like
test_error_catalogue.py does for error codes), and real planner and roster runs check that what
they emit is among them, with the params each message quotes.
"""

from __future__ import annotations

import json
import re
from datetime import time
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from orchestrator.roster import parse_roster
from schedules.academic.calendar import parse_calendar
from schedules.academic.model import (
    ConsultationRule,
    ControlActivity,
    ControlResult,
    DefenseRule,
    Group,
    Offering,
)
from schedules.academic.planner import plan
from schedules.academic.said import Said
from tests.helpers.support import REPO, DemoClient

STAFF = REPO / "web" / "static" / "i18n" / "staff"
LANGS = ("kk", "ru", "en")
CODE = r'"([a-z_]+(?:\.[a-z_]+)+)"'
# how a code is written where a sentence is made: Said.of("x", ...); fail(..., code="x"); bad("x", ...) or
# report.bad(line, "x", ...); the tables of codes chosen at run time (roles, refused rows, weekdays)
PATTERNS = (
    re.compile(r"\bSaid\.of\(\s*" + CODE),
    re.compile(r"\bbad\(\s*(?:[^,()\"]+,\s*)?" + CODE),
    re.compile(r"\bcode=" + CODE),  # the YAML reader's own checks (fileio/reader.py fail(..., code="file.x"))
    re.compile(r"\bMessage\(\s*" + CODE),  # a fileio.message.Message made on the spot (orchestrator/yamlfile.py)
)
TABLES = re.compile(r"^(?:_ROLES|REFUSED_CODES|DAY_CODES|PYDANTIC_CODES) = \{(.*?)\}(?:  # fmt: skip)?$", re.M | re.S)


def server_codes() -> set[str]:
    codes: set[str] = set()
    for package in ("orchestrator", "schedules", "fileio"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in PATTERNS:
                codes.update(pattern.findall(text))
            for table in TABLES.findall(text):
                codes.update(re.findall(r":\s*" + CODE, table))
    return codes


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((STAFF / f"{lang}.json").read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def emitted(said: Said | str) -> list[Said]:
    """A sentence and every sentence nested in its params."""
    if not isinstance(said, Said):
        return []
    out = [said]
    for _k, v in said.params:
        for item in v if isinstance(v, tuple) else (v,):
            out += emitted(item)
    return out


def test_the_collector_finds_the_codes_of_each_kind() -> None:
    """A pattern that stopped matching would let new codes go unchecked: known codes of each kind."""
    codes = server_codes()
    assert {"plan.no_free_time", "plan.ineligible", "plan.attendance", "roster.username.invalid",
            "roster.empty", "plan.role.committee", "roster.refused.admin_only"} <= codes, sorted(codes)  # fmt: skip
    assert len(codes) >= 40


def test_every_code_has_a_message_in_each_language() -> None:
    codes = server_codes()
    cats = {lang: catalogue(lang) for lang in LANGS}
    for lang in LANGS:
        missing = sorted(c for c in codes if not cats[lang].get(f"staff.msg.{c}", "").strip())
        assert missing == [], (lang, missing)
    for code in codes:
        key = f"staff.msg.{code}"
        en = cats["en"][key]
        for lang in ("kk", "ru"):
            assert cats[lang][key] != en, (lang, key, en)
            assert placeholders(cats[lang][key]) == placeholders(en), (lang, key)
    # and no message in the catalogues for a code the server no longer makes
    stale = sorted(k for k in cats["en"] if k.startswith("staff.msg.") and k.removeprefix("staff.msg.") not in codes)
    assert stale == []


CALENDAR = """
name: Messages test year
timezone: Asia/Almaty
year: {start: 2026-09-01, end: 2027-08-31}
teaching_days: [mon, tue, wed, thu, fri]
day_hours: {start: "09:00", end: "18:00"}
slot_minutes: 30
periods:
  - {id: autumn, start: 2026-09-01, end: 2026-12-31}
windows:
  - {id: defense, kind: defense, start: 2026-12-14, end: 2026-12-18, period: autumn}
"""


def check(said: Said, codes: set[str], en: dict[str, str]) -> None:
    for s in emitted(said):
        assert s.code in codes, s
        assert placeholders(en[f"staff.msg.{s.code}"]) == {k for k, _ in s.params}, s


def test_what_the_planner_and_the_roster_emit_is_catalogued() -> None:
    codes, en = server_codes(), catalogue("en")
    cal = parse_calendar(CALENDAR, file="test.yaml")
    groups = {"G1": Group("G1", "", ("s1", "s2", "s3")), "G2": Group("G2", "", ("s4",))}
    strict = ConsultationRule(1, 120, weekdays=(3,), hours=(time(14), time(16)), strict=True)
    controls = (ControlActivity("m", "Midterm", 60, week=30), ControlActivity("e", "Essay"))
    offs = [
        Offering("a", "A", "G1", "autumn", "t1", consultation=strict),
        Offering("b", "B", "G2", "autumn", "t1", consultation=strict),
        Offering("long", "L", "G2", "autumn", "t2", consultation=ConsultationRule(1, 600)),
        Offering("d", "D", "G1", "autumn", "t3", consultation=None, controls=controls,
                 defense=DefenseRule("defense", 30, ("c1",))),
    ]  # fmt: skip
    results = [ControlResult("s1", "d", "e", False, Said.of("plan.attendance", "attended 1 of 4 sessions, 60 % required",
                                                             attended=1, held=4, min=60))]  # fmt: skip
    result = plan(cal, offs, [], groups, results)
    assert result.unplaced and result.ineligible
    seen: set[str] = set()
    for item in (*result.unplaced, *result.ineligible):
        assert item.said is not None and item.said.text == item.reason, item
        check(item.said, codes, en)
        seen |= {s.code for s in emitted(item.said)}
    assert {"plan.no_free_time", "plan.cause.count", "plan.cause.person_busy", "plan.where.week", "plan.role.tutor",
            "plan.does_not_fit", "plan.not_teaching_week", "plan.ineligible", "plan.no_result",
            "plan.not_passed.because", "plan.attendance"} <= seen, seen  # fmt: skip

    bad = ("username,display_name,roles,email,timezone,group\n"
           "Bad Name,,student,nope,Mars/Base,G1\n"
           "ok,Ok,wizard,,,G1\n"
           "ok,Again,student\n")  # fmt: skip
    report = parse_roster(bad)
    assert len(report.problems) == len(report.errors) > 5
    for p in report.problems:
        assert p["code"] in codes and p["message"] in report.errors[report.problems.index(p)], p
        assert placeholders(en[f"staff.msg.{p['code']}"]) == set(p["params"]), p
    header = parse_roster("user,display_name\n")
    assert {p["code"] for p in header.problems} == {"roster.header.missing", "roster.header.unknown"}


def test_the_pages_say_these_sentences_through_one_helper() -> None:
    """staff-kit.js says a coded sentence; the registrar page uses it for reasons, never the English field."""
    kit = (REPO / "web" / "static" / "staff-kit.js").read_text(encoding="utf-8")
    assert "export function said(" in kit and "staff.msg." in kit
    registrar = (REPO / "web" / "static" / "staff-registrar.js").read_text(encoding="utf-8")
    assert "u.reason" not in registrar and "i.reason" not in registrar
    assert "said(u)" in registrar and "said(i)" in registrar


async def test_the_plan_answer_has_codes_and_matches_its_published_schema(demo: DemoClient) -> None:
    """POST /api/plan: each §29 reason with its code and params, as OpenAPI documents (PlanOut); the audit and
    the operator's view too."""
    doc = await (await demo.client.get("/api/openapi.json")).json()
    validate(doc)
    r = await demo.call("POST", "/api/plan?dry_run=1", "reg")
    body = await r.json()
    assert r.status == 200, body
    schema = doc["paths"]["/api/plan"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema.get("$ref"), schema
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(body)
    # the demo: timur has not passed the databases midterm (§29)
    timur = next(i for i in body["ineligible"] if i["student"] == "timur")
    assert timur["code"] == "plan.ineligible" and timur["params"]["problems"][0]["code"] == "plan.not_passed", timur
    assert timur["params"]["problems"][0]["message"] in timur["reason"]
    # the audit chain and the operator's services, as documented (AuditOut, OpsStatusOut)
    for path in ("/api/audit", "/api/ops/status"):
        r = await demo.call("GET", path, "ada")
        body = await r.json()
        assert r.status == 200, body
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("$ref"), (path, schema)
        jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(body)
        if path == "/api/audit":
            assert body["intact"] and body["chain"]["code"] == "audit.intact", body["chain"]


def test_the_calendar_check_is_catalogued() -> None:
    """The example calendar's check: teaching weeks per period and every note by its code (estimated holidays too)."""
    from orchestrator.calendar_import import CalendarInput, check_summary, validate_calendar

    path = REPO / "examples" / "calendar-kz-2026-2027.yaml"
    cal = validate_calendar(CalendarInput(path.read_text(encoding="utf-8"), str(path)))
    out = check_summary(cal)
    assert [(p["id"], p["teaching_weeks"]) for p in out["periods"]] == [("autumn", 15), ("spring", 14)]
    codes, en = server_codes(), catalogue("en")

    def walk(item: dict[str, Any]) -> list[dict[str, Any]]:
        nested = [x for v in item["params"].values() for x in (v if isinstance(v, list) else [v]) if isinstance(x, dict)]
        return [item, *[y for x in nested for y in walk(x)]]

    seen = set()
    for note in out["notes"]:
        for item in walk(note):
            assert item["code"] in codes and placeholders(en[f"staff.msg.{item['code']}"]) == set(item["params"]), item
            seen.add(item["code"])
    assert {"calendar.teaching", "calendar.day.sat", "calendar.window", "calendar.estimated"} <= seen, seen


async def test_a_curriculums_bad_offerings_come_with_codes(demo: DemoClient) -> None:
    text = "offerings:\n  - {code: X, discipline: NOPE, group: NOPE, period: autumn, tutor: dana}\n"
    r = await demo.call("POST", "/api/curriculum?name=bad.yaml", "reg", data=text, headers={"Content-Type": "application/yaml"})
    body = await r.json()
    assert r.status == 400 and "unknown group 'NOPE'" in body["error"]["message"], body
    codes, en = server_codes(), catalogue("en")
    assert [p["code"] for p in body["problems"]] == ["curriculum.unknown_discipline", "curriculum.unknown_group", "curriculum.not_tutor"]
    for p in body["problems"]:
        assert p["code"] in codes and p["where"] == "offerings[0] (X)", p
        assert placeholders(en[f"staff.msg.{p['code']}"]) == set(p["params"]), p


async def test_a_bad_calendar_says_its_place_with_a_code(demo: DemoClient) -> None:
    """POST /api/calendar refuses a wrong calendar with the place and the sentence by its code (422)."""
    path = REPO / "examples" / "calendar-kz-2026-2027.yaml"
    text = path.read_text(encoding="utf-8").replace("timezone: Asia/Almaty", "timezone: Mars/Olympus", 1)
    assert "Mars/Olympus" in text
    r = await demo.call("POST", "/api/calendar?dry_run=1&name=bad.yaml", "reg", data=text,
                        headers={"Content-Type": "application/yaml"})  # fmt: skip
    body = await r.json()
    assert r.status == 422 and body["error"]["code"] == "calendar_invalid", body
    (problem,) = body["problems"]
    assert problem["code"] == "calendar.timezone_unknown" and problem["params"] == {"value": "Mars/Olympus"}, problem
    assert problem["where"].endswith(": timezone") and problem["message"] in body["error"]["message"], problem
    good = await demo.call("POST", "/api/calendar?dry_run=1&name=ok.yaml", "reg", data=path.read_text(encoding="utf-8"),
                           headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert good.status == 200 and [p["teaching_weeks"] for p in (await good.json())["periods"]] == [15, 14]


@pytest.mark.parametrize(("change", "code"), [
    (("    end: 2027-06-12", "    end: 2027-01-12"), "calendar.end_before_start"),
    (("  - id: spring", "  - id: autumn"), "calendar.period_duplicate"),
    (("slot_minutes: 15", "slot_minutes: 7"), "calendar.slot_minutes"),
    (("teaching_days: [mon,", "teaching_days: [monday, xyz,"), "calendar.not_weekday"),
    (("  - {start: 2027-07-26, end: 2027-08-31,", "  - {start: 2027-07-26, end: 2027-09-30,"), "calendar.outside_year"),
    # public holidays and decree transfers (issue 14's checks)
    (("  country: KZ ", "  country: QZ "), "calendar.country_unknown"),
    (("  country: KZ ", "  subdivision: ALA\n  country: KZ "), "calendar.subdivision_unknown"),
    (("slot_minutes: 15", "slot_minutes: 15\ntransfers:\n  - {work: 2027-03-27, off: 2027-03-25, name: Decree}"),
     "calendar.work_on_teaching_day_weekend"),
    (("slot_minutes: 15", "slot_minutes: 15\ntransfers:\n  - {work: 2027-03-28, off: 2027-03-24, name: Decree}"),
     "calendar.off_on_holiday"),
    # the YAML reader's own checks (fileio)
    (("  start: 2026-09-01", "  start: 2026-13-01"), "file.not_date"),
    (('  start: "09:00"', '  start: "9 am"'), "file.not_time"),
    (("slot_minutes: 15", "slot_minutes: 15\nsemester_colour: blue"), "file.unknown_key"),
    (("    name: Spring semester\n    start: 2027-02-01\n", "    name: Spring semester\n"), "file.missing_key"),
])  # fmt: skip
def test_a_wrong_calendar_is_refused_with_a_catalogued_code(change: tuple[str, str], code: str) -> None:
    from orchestrator.calendar_import import CalendarInput, CalendarInvalid, validate_calendar

    text = (REPO / "examples" / "calendar-kz-2026-2027.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(CalendarInvalid) as caught:
        validate_calendar(CalendarInput(text.replace(change[0], change[1], 1), "bad.yaml"))
    (problem,) = caught.value.problems
    assert problem["code"] == code, problem
    assert problem["code"] in server_codes() and problem["message"] in str(caught.value)
    assert placeholders(catalogue("en")[f"staff.msg.{code}"]) == set(problem["params"]), problem


def test_contradicting_plan_inputs_come_with_codes() -> None:
    from schedules.errors import PlanError

    cal = parse_calendar(CALENDAR, file="test.yaml")
    offs = [Offering("x", "X", "G9", "winter", "t1", controls=(ControlActivity("c", "C", 60, window_id="nope"),)),
            Offering("x", "X", "G1", "autumn", "t1", defense=DefenseRule("gone", 20, ()))]  # fmt: skip
    try:
        plan(cal, offs, [], {"G1": Group("G1", "", ("s1",))})
    except PlanError as exc:
        coded = exc.coded
        assert [str(c) for c in coded] == exc.problems
    else:
        raise AssertionError("no PlanError")
    codes, en = server_codes(), catalogue("en")
    for said in coded:
        check(said, codes, en)
    assert {s.code for s in coded} == {"plan.input.unknown_group", "plan.input.unknown_period", "plan.input.control_window",
                                       "plan.input.offering_twice", "plan.input.defense_window", "plan.input.defense"}


async def test_a_refused_plan_answers_its_contradictions_with_codes(demo: DemoClient) -> None:
    text = ("offerings:\n  - {code: E-W, discipline: DB201, group: IS-21, period: autumn, tutor: aigerim,\n"
            "     controls: [{id: c, name: C, minutes: 60, window: nope}]}\n")  # fmt: skip
    r = await demo.call("POST", "/api/curriculum?name=w.yaml", "reg", data=text, headers={"Content-Type": "application/yaml"})
    assert r.status == 200, await r.text()
    r = await demo.call("POST", "/api/plan?dry_run=1", "reg")
    body = await r.json()
    assert r.status == 400 and body["error"]["code"] == "plan_error", body
    assert [p["code"] for p in body["problems"]] == ["plan.input.control_window"], body
    assert body["problems"][0]["params"] == {"offering": "E-W", "control": "c", "window": "nope"}


@pytest.mark.parametrize(("control", "code", "params"), [
    ("{id: c, name: C, minutes: 999}", "file.at_most", {"value": "480"}),
    ("{id: c, name: C, attendance: {sessions: [lecture], min_percent: 70}}", "file.one_of", {"value": "'consultation', 'control'"}),
    ("{id: c, name: C, colour: red}", "file.key_unknown", {}),
    ("{name: C}", "file.required", {}),
])  # fmt: skip
async def test_a_curriculum_files_mistake_comes_with_its_place_and_code(
    demo: DemoClient, control: str, code: str, params: dict[str, str]
) -> None:
    text = f"offerings:\n  - code: X\n    discipline: DB201\n    group: IS-21\n    period: autumn\n    tutor: aigerim\n    controls:\n      - {control}\n"
    r = await demo.call("POST", "/api/curriculum?name=c.yaml", "reg", data=text, headers={"Content-Type": "application/yaml"})
    body = await r.json()
    assert r.status == 422 and body["error"]["code"] == "invalid_file", body
    (problem,) = body["problems"]
    assert problem["code"] == code and problem["params"] == params and problem["where"].startswith("8: offerings[0].controls[0]"), problem
    assert code in server_codes() and placeholders(catalogue("en")[f"staff.msg.{code}"]) == set(params)
