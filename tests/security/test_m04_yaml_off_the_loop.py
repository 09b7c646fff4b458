"""Medium 4: YAML uploads refuse alias bombs, and every upload is parsed off the event loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.helpers.support import ApiClient

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{chr(99 + i)}: &{chr(99 + i)} [{', '.join(['*' + chr(98 + i)] * 9)}]\n" for i in range(7)
)


async def test_alias_bomb_is_refused_with_its_line(api: ApiClient) -> None:
    assert len(BOMB) < 600
    for path in ("/api/curriculum", "/api/calendar"):
        r = await api.call("POST", path, "registrar", data=BOMB.encode(), headers={"Content-Type": "application/yaml"})
        assert r.status == 422, (path, await r.text())
        assert "alias" in (await r.json())["error"]["message"].lower() or "anchor" in (await r.json())["error"]["message"].lower()
    assert (await api.call("GET", "/healthz")).status == 200


@pytest.mark.parametrize("path, target, body, ctype", [
    ("/api/curriculum", "orchestrator.yamlfile.load_yaml", b"disciplines: []\nofferings: []\n", "application/yaml"),
    ("/api/calendar", "orchestrator.api.calendar.validate_calendar", b"name: x\n", "application/yaml"),
    ("/api/roster", "orchestrator.api.people.parse_roster", b"username,display_name,roles\nzz,Z,student\n", "text/csv"),
])
async def test_uploads_are_parsed_off_the_event_loop(api: ApiClient, monkeypatch: pytest.MonkeyPatch, path: str,
                                                     target: str, body: bytes, ctype: str) -> None:
    """A spy (the only stand-in here) records the thread each parser runs on: never the event loop's."""
    import importlib

    module_name, name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    real = getattr(module, name)
    threads: list[threading.Thread] = []

    def spy(*args: Any, **kw: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kw)

    monkeypatch.setattr(module, name, spy)
    r = await api.call("POST", path, "registrar", data=body, headers={"Content-Type": ctype})
    assert r.status < 500, await r.text()
    assert threads and all(t is not threading.main_thread() for t in threads), threads
