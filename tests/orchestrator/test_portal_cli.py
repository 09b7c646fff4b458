"""``aulacast portal``: the gradebook and status views at the command line, with the same policy as the API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.registrar import cli, ok, one_line_error


def test_gradebook_as_a_tutor_shows_only_their_offerings(institution: Path) -> None:
    everything = json.loads(ok(cli(institution, "portal", "gradebook", "--json")))["offerings"]
    assert {o["code"] for o in everything} >= {"DB201-IS21-A", "NET210-IS21-A", "MICRO101-EC22-A"}
    mine = json.loads(ok(cli(institution, "portal", "gradebook", "--as", "aigerim", "--json")))["offerings"]
    assert {o["code"] for o in mine} == {"DB201-IS21-A", "MICRO101-EC22-A"}
    assert "no role that sees gradebooks" in one_line_error(cli(institution, "portal", "gradebook", "--as", "dana"))
    assert "no person" in one_line_error(cli(institution, "portal", "gradebook", "--as", "nobody"))
    text = ok(cli(institution, "portal", "gradebook", "--as", "aigerim"))
    assert "DB201-IS21-A" in text and "NET210" not in text
    # the demo's NET210 lab requires 60 % attendance (§29): nothing held yet, so the rule is met
    nurlan = ok(cli(institution, "portal", "gradebook", "--as", "nurlan"))
    assert "lab=— (attended 0 of 0 sessions, 60 % required)" in nurlan, nurlan
    (net,) = [o for o in everything if o["code"] == "NET210-IS21-A"]
    assert net["controls"][0]["attendance"] == {"sessions": ["consultation"], "min_percent": 60, "presence_percent": 50}
    assert all(st["standing"]["lab"]["attendance"]["met"] for st in net["students"])


def test_status_names_what_it_checked(institution: Path) -> None:
    out = json.loads(ok(cli(institution, "portal", "status", "--json")))
    assert out["database"]["ok"] is True and out["redis"]["ok"] is None
    assert "database: up" in ok(cli(institution, "portal", "status"))
