"""High 1: role changes of staff accounts and admin grants pass one admin-only check, whatever the path."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.registrar import DEMO, cli, ok
from tests.helpers.security import people_ids
from tests.helpers.support import DemoClient

HEADER = "username,display_name,roles,group,group_name,programme,email,timezone\n"


async def roles_of(demo: DemoClient, username: str) -> list[str]:
    r = await demo.call("GET", "/api/people", "ada")
    return next(p["roles"] for p in (await r.json())["people"] if p["username"] == username)


async def test_roster_upload_cannot_grant_admin_or_change_staff_roles(demo: DemoClient) -> None:
    csv = (HEADER
           + "newstudent,New Student,student,IS-21,,,,Asia/Almaty\n"   # line 2: fine on its own
           + "reg,Registrar Office,registrar;admin,,,,,Asia/Almaty\n"   # line 3: self-grant of admin
           + "eng,Broadcast Engineer,engineer;tutor,,,,,Asia/Almaty\n"  # line 4: staff role change
           + "dana,Dana Akhmetova,student;admin,IS-21,,,,Asia/Almaty\n")  # line 5: admin to a student
    r = await demo.call("POST", "/api/roster", "reg", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status == 403, await r.text()
    body = await r.json()
    assert body["error"]["code"] == "roster_refused"
    lines = sorted(e.split(":")[1] for e in body["errors"])
    assert lines == ["3", "4", "5"], body["errors"]
    assert await roles_of(demo, "reg") == ["registrar"]
    assert await roles_of(demo, "eng") == ["engineer"]
    assert "admin" not in await roles_of(demo, "dana")
    # all or nothing: the good row was not imported either
    assert "newstudent" not in await people_ids(demo)
    # dry run reports the same refusal
    r = await demo.call("POST", "/api/roster?dry_run=1", "reg", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status == 403 and len((await r.json())["errors"]) == 3


async def test_roster_upload_by_admin_still_never_changes_staff_roles(demo: DemoClient) -> None:
    csv = HEADER + "nurlan,Nurlan Bekov,tutor;committee;registrar,,,,,Asia/Almaty\n"
    r = await demo.call("POST", "/api/roster", "ada", data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status == 403, await r.text()
    assert await roles_of(demo, "nurlan") == ["committee", "tutor"]


async def test_roles_route_is_the_one_admin_only_path(demo: DemoClient) -> None:
    ids = await people_ids(demo)
    # the registrar cannot grant themself admin, nor change another staff member's roles
    r = await demo.call("PUT", f"/api/people/{ids['reg']}/roles", "reg", json={"roles": ["registrar", "admin"]})
    assert r.status == 403 and (await r.json())["error"]["code"] == "admin_only"
    r = await demo.call("PUT", f"/api/people/{ids['eng']}/roles", "reg", json={"roles": ["engineer", "producer"]})
    assert r.status == 403
    # nor make a student staff, nor create an admin
    r = await demo.call("PUT", f"/api/people/{ids['dana']}/roles", "reg", json={"roles": ["student", "tutor"]})
    assert r.status == 403
    r = await demo.call("POST", "/api/people", "reg", json={"username": "mallory", "display_name": "M", "roles": ["admin"]})
    assert r.status == 403
    assert await roles_of(demo, "reg") == ["registrar"]
    # an admin can, and it is audited
    r = await demo.call("PUT", f"/api/people/{ids['eng']}/roles", "ada", json={"roles": ["engineer", "producer"]})
    assert r.status == 200, await r.text()
    assert await roles_of(demo, "eng") == ["engineer", "producer"]
    audit = await (await demo.call("GET", "/api/audit", "ada")).json()
    assert any(e["action"] == "person.roles" for e in audit["entries"])
    # unknown roles are a 422, not a silent drop
    r = await demo.call("PUT", f"/api/people/{ids['eng']}/roles", "ada", json={"roles": ["wizard"]})
    assert r.status == 422


def test_cli_roster_refuses_staff_role_changes_by_line(tmp_path: Path) -> None:
    ok(cli(tmp_path, "db", "upgrade"))
    ok(cli(tmp_path, "roster", "import", str(DEMO / "roster.csv")))
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "zara,Zara New,student,IS-21,,,,Asia/Almaty\n"
                   + "reg,Registrar Office,registrar;admin,,,,,Asia/Almaty\n")
    res = cli(tmp_path, "roster", "import", str(bad))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert f"{bad}:3: roles: reg:" in res.stderr
    res = cli(tmp_path, "roster", "import", "--dry-run", str(bad))
    assert res.returncode != 0 and f"{bad}:3:" in res.stderr
    # nothing imported: a re-import of only the good row creates zara now
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "zara,Zara New,student,IS-21,,,,Asia/Almaty\n")
    assert "1 created" in ok(cli(tmp_path, "roster", "import", str(good)))
