"""``aulacast audit``: check that grades, results and the audit chain are as written (§28); anchor the chain.

    aulacast audit verify [--anchors FILE] [--key PEM] [--json]   # exit 0 clean, 1 tampering found
    aulacast audit anchor                                         # append the signed chain head now

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


def _db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    settings = load_settings(args.config)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    return settings, db


def run_verify(args: argparse.Namespace) -> int:
    from orchestrator.defenses.signing import load_public
    from orchestrator.defenses.tamper import verify

    settings, db = _db(args)
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

    settings, db = _db(args)
    with db.session() as s:
        env = anchor(s, settings)
    assert env is not None
    a = env["anchor"]
    print(f"anchored entry {a['entry_id']} ({a['entries']} entries) in {anchor_path(settings)}")
    return 0
