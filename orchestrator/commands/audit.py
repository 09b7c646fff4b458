"""``aulacast audit``: check that grades, results and the audit chain are as written (§28); anchor the chain.

    aulacast audit verify [--anchors FILE] [--key PEM] [--json]   # exit 0 clean, 1 tampering found
    aulacast audit anchor                                         # append the signed chain head now
    aulacast audit log [--as admin] [--limit 50] [--json]         # the newest entries, as GET /api/audit

``verify`` names the first broken link of the chain, every bound row (scores, grades, sign-offs,
control results, attendance) whose value differs from the audit entry that wrote it, and every
anchor the chain no longer matches. The running service anchors on its own every
``audit_anchor_minutes``; keep the anchor file (``audit_anchor_file``) where the database's
administrators cannot rewrite it (another host, WORM storage, ``chattr +a``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from orchestrator.commands.common import acting, open_database, print_json, route_gate
from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="tamper evidence: verify rows and chain, anchor the chain head")
    asub = p.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND")
    asub.required = True
    v = asub.add_parser("verify", help="walk the chain, check every bound row against its entry, check the anchors")
    v.add_argument("--anchors", type=Path, help="anchor file (default: audit_anchor_file or data_dir/audit-anchors.jsonl)")
    v.add_argument("--key", type=Path, help="the institution's public key (PEM or well-known JSON); default: this installation's")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=run_verify)
    a = asub.add_parser("anchor", help="append the signed chain head to the anchor file now")
    a.set_defaults(func=run_anchor)
    lg = asub.add_parser("log", help="the newest audit entries and whether the chain is intact (GET /api/audit)")
    lg.add_argument("--as", dest="as_user", metavar="USER", help="as this person (the audit log is for admins)")
    lg.add_argument("--limit", type=_limit, default=50, help="how many entries, newest first (1-1000; default 50)")
    lg.add_argument("--json", action="store_true")
    lg.set_defaults(func=run_log)


def _limit(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 1000:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number from 1 to 1000")
    return n


def run_verify(args: argparse.Namespace) -> int:
    from orchestrator.defenses.signing import load_public
    from orchestrator.defenses.tamper import verify

    settings, db = open_database(args)
    keys = None
    if args.key is not None:
        try:
            keys = [load_public(args.key.read_bytes())]
        except OSError as exc:
            raise UserError(f"cannot read {args.key}: {exc.strerror}") from None
    with db.session() as s:
        report = verify(s, settings, anchors=args.anchors, keys=keys)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str))
        return 0 if report.ok else 1
    print(f"{report.entries} audit entries, {report.rows_checked} bound rows, {report.anchors_checked} anchors checked")
    if report.broken:
        b = report.broken
        print(f"BROKEN LINK: entry {b['id']} ({b['action']} {b['target']}): {b['reason']}")
    for r in report.rows:
        line = f"ROW {r['table']}:{r['id']}: {r['problem']}"
        if r.get("differs"):
            line += "; " + ", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in r["differs"].items())
        print(line)
    for problem in report.anchor_problems:
        print(f"ANCHOR: {problem}")
    print("OK: nothing was changed outside the application" if report.ok else "TAMPERING FOUND")
    return 0 if report.ok else 1


def run_anchor(args: argparse.Namespace) -> int:
    from orchestrator.defenses.tamper import anchor, anchor_path

    settings, db = open_database(args)
    with db.session() as s:
        env = anchor(s, settings)
    assert env is not None
    a = env["anchor"]
    print(f"anchored entry {a['entry_id']} ({a['entries']} entries) in {anchor_path(settings)}")
    return 0


def run_log(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator.api.people import audit_log
    from orchestrator.store.models import Person

    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user)
        route_gate(actor, "GET", "/api/audit")
        out = audit_log(s, args.limit)
        ids = {e["actor_id"] for e in out["entries"] if e["actor_id"] is not None}
        names = dict(s.execute(select(Person.id, Person.username).where(Person.id.in_(ids))).tuples().all()) if ids else {}
    for e in out["entries"]:
        e["actor"] = names.get(e["actor_id"])
    if args.json:
        print_json(out)
        return 0
    for e in out["entries"]:
        who = e["actor"] or ("(system)" if e["actor_id"] is None else f"person {e['actor_id']}")
        detail = ", ".join(f"{k}={v}" for k, v in (e["detail"] or {}).items() if k != "row")
        print(f"{e['id']:>6}  {e['at']}  {who:<14} {e['action']:<20} {e['target']}  {detail}".rstrip())
    print(out["chain"]["message"] if out["intact"] else f"{out['chain']['message']} (`aulacast audit verify` tells more)")
    return 0
