"""``aulacast portal``: the staff pages' views at the command line, with the same policy functions.

    aulacast portal gradebook [--as aigerim] [--json]   # the offerings a person may see, with results
    aulacast portal status [--json]                     # database, Redis and nodes (no live rooms: a CLI holds none)
    aulacast portal result --as aigerim DB201-IS21-A dana midterm 85   # enter or change a result (audited)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from orchestrator.commands.common import add_as, open_database, open_services, person_named, route_gate
from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("portal", help="the staff pages' views (gradebook, service status)")
    psub = p.add_subparsers(dest="portal_command", metavar="PORTAL_COMMAND")
    psub.required = True
    g = psub.add_parser("gradebook", help="offerings with their students and results")
    g.add_argument("--as", dest="as_user", help="see what this person may see (default: the operator sees all)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=gradebook)
    s = psub.add_parser("status", help="database, Redis and nodes as the operations page shows them")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=status)
    r = psub.add_parser("result", help="enter or change a student's result for a control (audited, POST /api/results)")
    add_as(r, write=True)
    r.add_argument("offering", metavar="OFFERING", help="offering code, e.g. DB201-IS21-A")
    r.add_argument("student", metavar="STUDENT", help="the student's username")
    r.add_argument("activity", metavar="CONTROL", help="the control activity's id, e.g. midterm")
    r.add_argument("points", metavar="POINTS", type=int, help="0-100")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=result)


def _cell(cid: str, result: dict[str, Any] | None, standing: dict[str, Any]) -> str:
    """``lab=80``, or with a required attendance ``lab=80 (attended 5 of 10 sessions, 70 % required: not passed)``."""
    text = f"{cid}={result['points'] if result else '—'}"
    a = standing.get("attendance")
    if a:
        verdict = "" if a["met"] else ": not passed"
        text += f" (attended {a['attended']} of {a['held']} sessions, {a['min_percent']} % required{verdict})"
    return text


def gradebook(args: argparse.Namespace) -> int:
    from orchestrator import policy
    from orchestrator.api.portal import offerings_of
    from orchestrator.auth import identity_of

    _, db = open_database(args)
    with db.session() as s:
        actor = policy.OPERATOR
        if args.as_user:
            actor = identity_of(person_named(s, args.as_user))
            if not actor.has("admin", "registrar", "tutor", "teacher"):
                raise UserError(f"{args.as_user} has no role that sees gradebooks (tutor, teacher, registrar, admin)")
        books = offerings_of(s, actor)
    if args.json:
        print(json.dumps({"offerings": books}, ensure_ascii=False, indent=1))
        return 0
    for o in books:
        print(f"{o['code']}  {o['discipline']}  ({o['group']['code']}, {o['period']}, tutor {o['tutor']})")
        for st in o["students"]:
            cells = ", ".join(_cell(c["id"], st["results"][c["id"]], st["standing"][c["id"]]) for c in o["controls"])
            print(f"    {st['name']:<30} {cells}")
    if not books:
        print("no offering to show")
    return 0


def status(args: argparse.Namespace) -> int:
    from orchestrator.api.portal import operations_status

    svc = open_services(args)

    async def run() -> dict[str, Any]:
        try:
            return await operations_status(svc)
        finally:
            await svc.close()

    out = asyncio.run(run())
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
        return 0
    db = out["database"]
    print(f"database: {'up' if db.get('ok') else 'DOWN'}  {db.get('dialect', '')} revision {db.get('revision', '')} "
          f"{db.get('error', '')}")  # fmt: skip
    redis = out["redis"]
    print(f"redis:    {'not configured' if redis.get('ok') is None else 'up' if redis['ok'] else 'DOWN'}")
    print(f"nodes:    {', '.join(out['nodes'])}")
    print("sessions: " + ", ".join(f"{k} {v}" for k, v in sorted((db.get("sessions_by_status") or {}).items())))
    print("live rooms and media workers are held by the serving nodes: see /staff/operator or /metrics")
    return 0


def result(args: argparse.Namespace) -> int:
    from orchestrator.api.results import ResultBody, enter_result
    from orchestrator.commands.common import acting, print_json, validated

    body = validated(ResultBody, offering=args.offering, student=args.student, activity=args.activity,
                     points=args.points)  # fmt: skip
    settings, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="enter results")
        route_gate(actor, "POST", "/api/results")
        out = enter_result(s, actor, settings, body, via="cli")
    if args.json:
        print_json(out)
        return 0
    was = "new" if out["before"] is None else f"was {out['before']}"
    verdict = "passed" if out["passed"] else "not passed"
    print(f"{body.offering} {body.student} {body.activity}: {out['points']} ({out['letter']}, {out['grade_point']}, "
          f"{verdict}; {was}), entered by {actor.username}")  # fmt: skip
    return 0
