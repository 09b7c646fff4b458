"""``aulacast portal``: the staff pages' views at the command line, with the same policy functions.

    aulacast portal gradebook [--as aigerim] [--json]   # the offerings a person may see, with results
    aulacast portal status [--json]                     # database, Redis and nodes (no live rooms: a CLI holds none)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

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


def _services(args: argparse.Namespace) -> Any:
    from orchestrator.config import load_settings
    from orchestrator.services import Services

    svc = Services.build(load_settings(args.config))
    svc.db.check_revision()
    return svc


def _cell(cid: str, result: dict[str, Any] | None, standing: dict[str, Any]) -> str:
    """``lab=80``, or with a required attendance ``lab=80 (attended 5 of 10 sessions, 70 % required: not passed)``."""
    text = f"{cid}={result['points'] if result else '—'}"
    a = standing.get("attendance")
    if a:
        verdict = "" if a["met"] else ": not passed"
        text += f" (attended {a['attended']} of {a['held']} sessions, {a['min_percent']} % required{verdict})"
    return text


def gradebook(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator import policy
    from orchestrator.api.portal import offerings_of
    from orchestrator.auth import identity_of
    from orchestrator.store.models import Person

    svc = _services(args)
    with svc.db.session() as s:
        actor = policy.OPERATOR
        if args.as_user:
            person = s.scalar(select(Person).where(Person.username == args.as_user))
            if person is None:
                raise UserError(f"no person {args.as_user!r}")
            actor = identity_of(person)
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

    svc = _services(args)

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
