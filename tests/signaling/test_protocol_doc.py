"""Issue 13 §1.7: docs/signaling-protocol.md's examples are replayed against the real server.

Section 9 of the page is a list of steps (emit with its ack, or an event someone receives). Each
is sent or awaited as written and the server's answer must have exactly the documented shape:
the same keys, the same values where the page gives one ("*" = any value). Also: every client and
server event the code knows is named in the page.
"""

from __future__ import annotations

import json
import re
from typing import Any

from signaling.protocol import CLIENT_EVENTS, SERVER_EVENTS
from tests.helpers.rooms import RoomClient, World
from tests.helpers.support import REPO

PAGE = REPO / "docs" / "signaling-protocol.md"


def steps() -> list[dict[str, Any]]:
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"## 9\. Examples.*?```jsonl\n(.*?)```", text, re.S)
    assert block, "section 9 of docs/signaling-protocol.md has no ```jsonl block"
    return [json.loads(line) for line in block.group(1).splitlines() if line.strip()]


def fill(data: Any, ids: dict[str, int]) -> Any:
    """The step's payload with "<name>" replaced by that person's id."""
    if isinstance(data, str) and re.fullmatch(r"<\w+>", data):
        return ids[data[1:-1]]
    if isinstance(data, dict):
        return {k: fill(v, ids) for k, v in data.items()}
    if isinstance(data, list):
        return [fill(v, ids) for v in data]
    return data


def matches(expected: Any, actual: Any, ids: dict[str, int], where: str = "") -> None:
    if expected == "*":
        return
    if isinstance(expected, str) and re.fullmatch(r"<\w+>", expected):
        assert actual == ids[expected[1:-1]], f"{where}: {actual!r} is not {expected}"
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} documented as {sorted(expected)}"
        for k, v in expected.items():
            matches(v, actual[k], ids, f"{where}.{k}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} vs {expected!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            matches(e, a, ids, f"{where}[{i}]")
        return
    assert actual == expected, f"{where}: {actual!r} documented as {expected!r}"


async def test_the_pages_examples_replay(world: World, loopback_only: None) -> None:
    sid = world.consult
    people: dict[str, RoomClient] = {"tom": await world.socket("tom", sid)}
    await people["tom"].wait_for("welcome")
    seen: dict[tuple[str, str], int] = {}
    for n, step in enumerate(steps(), 1):
        who = step["as"]
        where = f"example {n} ({who} {step.get('emit') or step.get('expect')})"
        if step.get("connect"):
            people[who] = await world.socket(who, sid)
        client = people[who]
        if "emit" in step:
            ack = await client.call(step["emit"], fill(step["data"], world.ids))
            matches(step["ack"], ack, world.ids, f"{where} -> {ack}")
        else:
            event = step["expect"]
            skip = seen.get((who, event), 0)  # the n-th time this person expects this event
            await client.wait_for(event, lambda d, c=client, e=event, k=skip: len(c.events[e]) > k)
            matches(step["data"], client.events[event][skip], world.ids, where)
            seen[(who, event)] = skip + 1


def test_every_event_is_on_the_page() -> None:
    text = PAGE.read_text(encoding="utf-8")
    missing = [e for e in [*CLIENT_EVENTS, *SERVER_EVENTS] if f"`{e}`" not in text]
    assert missing == [], f"events the code knows but docs/signaling-protocol.md does not name: {missing}"
