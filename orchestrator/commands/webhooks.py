"""``aulacast webhooks``: what was sent where, and sending a failed delivery again.

    aulacast webhooks list [--status failed] [--limit 50]
    aulacast webhooks retry ID            # a failed (or pending) delivery is due again now

The deliveries are the rows the running service sends from (docs/webhooks.md);
``retry`` gives a failed one a fresh round of attempts.
"""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("webhooks", help="webhook deliveries: list, retry")
    wsub = p.add_subparsers(dest="webhooks_command", metavar="WEBHOOKS_COMMAND")
    wsub.required = True
    ls = wsub.add_parser("list", help="deliveries, newest first")
    ls.add_argument("--status", choices=("pending", "delivered", "failed"))
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=run_list)
    r = wsub.add_parser("retry", help="send a failed or pending delivery again now")
    r.add_argument("id", type=int)
    r.set_defaults(func=run_retry)


def _db(args: argparse.Namespace) -> Any:
    from orchestrator.config import load_settings
    from orchestrator.store.db import Database

    db = Database.from_url(load_settings(args.config).effective_database_url)
    db.check_revision()
    return db


def run_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from orchestrator.webhooks.models import WebhookDelivery

    if not 1 <= args.limit <= 10_000:
        raise UserError("--limit must be 1..10000")
    q = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(args.limit)
    if args.status:
        q = q.where(WebhookDelivery.status == args.status)
    with _db(args).session() as s:
        rows = list(s.scalars(q))
        for d in rows:
            last = f"HTTP {d.last_status}" if d.last_status else (d.last_error or "")[:80]
            print(f"{d.id:>6}  {d.status:<9} {d.topic:<18} attempts {d.attempts:<3} {d.url}  {last}".rstrip())
        if not rows:
            print("no deliveries")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    from orchestrator.store.types import utcnow
    from orchestrator.webhooks.models import WebhookDelivery

    with _db(args).session() as s:
        d = s.get(WebhookDelivery, args.id)
        if d is None:
            raise UserError(f"no webhook delivery {args.id}")
        if d.status == "delivered":
            raise UserError(f"delivery {args.id} was delivered; nothing to send again")
        d.status, d.attempts, d.next_at = "pending", 0, utcnow()
        print(f"delivery {d.id} ({d.topic} to {d.url}) is due again; the running service sends it")
    return 0
