"""Issue 13 §5: axe-core (vendored from npm, tests/e2e/vendor) finds no serious or critical violation
on any page or state the portal run visits: login, schedule, home, every staff page, device check,
not-open notice, lobby, room on a phone, room with a screen share, chat with a refused message, ended."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_portal_defects import seen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

STATES = ("login", "schedule week", "home (reg)", "/staff/registrar (reg)", "/staff/admin (ada)", "/staff/operator (ada)",
          "/staff/tutor (aigerim)", "/staff/engineer (eng)", "room: device check", "room: not open yet", "room: lobby (phone)", "room (phone)",
          "room: screen share, host with a participant", "room: chat with a refused message", "room: ended")  # fmt: skip


def test_axe_finds_no_serious_or_critical_violation(portal_run: dict[str, Any]) -> None:
    found = seen(portal_run, "axe")
    missing = [s for s in STATES if s not in found]
    assert missing == [], f"axe never ran on {missing} (steps: {portal_run.get('steps')}, errors: {portal_run.get('errors')})"
    bad = {state: [v for v in vs if v["impact"] in ("serious", "critical")] for state, vs in found.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert bad == {}, bad


def test_keyboard_alone_does_the_registrars_and_tutors_main_tasks(portal_run: dict[str, Any]) -> None:
    walks = seen(portal_run, "keyboard")
    reg, tutor = walks["reg"], walks["aigerim"]
    assert reg["reached_page_link"] and reg["reached_control"] and reg["done"], reg
    assert tutor["reached_page_link"] and tutor["reached_control"], tutor
    assert "64 points" in tutor["done"] and "recorded in the audit log" in tutor["done"], tutor
