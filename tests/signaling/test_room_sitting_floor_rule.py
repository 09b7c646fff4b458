"""The room page's copy of the floor rule (web/static/room-sitting.js ``allowedNow``) agrees with the
server's (signaling/handlers/defense.py ``floor_grant``) for every role and floor state, so the page
never offers a track the server would refuse (a refused offer would leave a student without video).

Runs the page's own module under Node (its two imports stubbed: no DOM is needed for the rule).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from signaling.grants import GRANTS
from signaling.handlers.defense import floor_grant
from signaling.room import RoomMeta
from tests.helpers.support import REPO

NODE = shutil.which("node")
ROLES = ("chair", "committee", "presenter", "secretary", "audience", "observer")
ME = 7


def _cases() -> list[dict]:
    out = []
    for role in ROLES:
        for floor in (None, ME, 8):
            for mics in ([], [ME], [8]):
                for on_deck in ([], [ME], [8]):
                    for sitting in (None, 3):
                        out.append({"role": role, "floor": floor, "mics": mics, "on_deck": on_deck, "sitting": sitting})
    return out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_pages_floor_rule_is_the_servers(tmp_path: Path) -> None:
    src = (REPO / "web" / "static" / "room-sitting.js").read_text()
    (tmp_path / "common.mjs").write_text(
        "export const el = () => null; export const announce = () => {}; export const errorText = (e) => String(e);\n")
    (tmp_path / "i18n.mjs").write_text("export const t = (k) => k;\n")
    src = src.replace('"/static/common.js"', '"./common.mjs"').replace('"/static/i18n.js"', '"./i18n.mjs"')
    (tmp_path / "room-sitting.mjs").write_text(src)
    cases = _cases()
    grants = {role: GRANTS["defense"][role].to_dict() for role in ROLES}
    script = (
        "import { allowedNow, clock, onDeck, timerText } from './room-sitting.mjs';\n"
        f"const cases = {json.dumps(cases)}; const grants = {json.dumps(grants)};\n"
        f"const out = cases.map((c) => allowedNow(grants[c.role], {ME}, c.sitting == null ? null : c));\n"
        "const timer = [timerText({name: 'A', ends_at: 1000, warn_at: 880}, 400, false),\n"
        "  timerText({name: 'A', ends_at: 1000, warn_at: 880}, 900, false), timerText({name: 'A', ends_at: 1000}, 950, true),\n"
        "  timerText({name: 'A', ends_at: 1000}, 1075, false), timerText(null, 0, false)];\n"
        f"const deck = cases.map((c) => onDeck(c.sitting == null ? null : c, {ME}));\n"
        "console.log(JSON.stringify({out, timer, deck, clock: clock(-754)}));\n"
    )
    (tmp_path / "run.mjs").write_text(script)
    res = subprocess.run([NODE, str(tmp_path / "run.mjs")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    for case, page in zip(cases, got["out"], strict=True):
        meta = None if case["sitting"] is None else RoomMeta(kind="defense", sitting=case["sitting"], floor=case["floor"],
                                                             mics=case["mics"], on_deck=case["on_deck"])  # fmt: skip
        server = floor_grant(GRANTS["defense"][case["role"]], ME, meta).publish
        assert sorted(page) == sorted(server), (case, page, server)
    # standby: the page's "you are next" is the server's standby grant
    for case, deck in zip(cases, got["deck"], strict=True):
        if case["role"] == "presenter" and case["sitting"] is not None:
            meta = RoomMeta(kind="defense", sitting=3, floor=case["floor"], mics=case["mics"], on_deck=case["on_deck"])
            assert deck == floor_grant(GRANTS["defense"]["presenter"], ME, meta).standby, case
    states = [t["state"] for t in got["timer"]]
    assert states == ["running", "warning", "warning", "over", "idle"]
    assert got["timer"][0]["text"] == "sitting.timer.left" and got["clock"] == "12:34"
