"""Seen after the probe: any tutor read every person's e-mail and every group's students.

Listings now follow the curriculum like the rest of High 2: a tutor sees the groups they teach and
those groups' students (with addresses), colleagues without addresses, other groups' students not at all.
"""

from __future__ import annotations

from tests.helpers.security import add_tutor
from tests.helpers.support import DemoClient


async def test_a_tutor_lists_only_their_own_students_and_groups(demo: DemoClient) -> None:
    everyone = (await (await demo.call("GET", "/api/people", "reg")).json())["people"]
    all_groups = (await (await demo.call("GET", "/api/groups", "reg")).json())["groups"]
    students = {p["username"] for p in everyone if "student" in p["roles"]}
    assert {"dana", "timur", "madina"} <= students

    await add_tutor(demo, "kairat")  # teaches nothing
    seen = (await (await demo.call("GET", "/api/people", "kairat")).json())["people"]
    assert not students & {p["username"] for p in seen}
    assert all(p["email"] is None for p in seen if p["username"] != "kairat")
    assert (await (await demo.call("GET", "/api/groups", "kairat")).json())["groups"] == []

    mine = (await (await demo.call("GET", "/api/people", "aigerim")).json())["people"]
    groups = (await (await demo.call("GET", "/api/groups", "aigerim")).json())["groups"]
    taught = {m for g in groups for m in g["students"]}
    assert groups and {g["id"] for g in groups} <= {g["id"] for g in all_groups}
    listed_students = {p["id"] for p in mine if "student" in p["roles"]}
    assert listed_students == taught  # exactly the students of the groups she teaches
