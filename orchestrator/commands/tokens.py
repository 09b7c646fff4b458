"""``aulacast tokens``: a person's own sessions and API bearer tokens, as ``/api/me/tokens`` keeps them.

    aulacast tokens list --as aigerim [--json]
    aulacast tokens issue --as aigerim [--label "grades script"]   # prints the token once; keep it
    aulacast tokens revoke --as aigerim 17

A person sees, issues and revokes only their own tokens; issuing and revoking are audited naming them.
"""

from __future__ import annotations

import argparse
import sys

from orchestrator.commands.common import acting, add_as, open_database, print_json, route_gate, validated


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokens", help="a person's own sessions and API tokens (list, issue, revoke)")
    tsub = p.add_subparsers(dest="tokens_command", metavar="TOKENS_COMMAND")
    tsub.required = True
    ls = tsub.add_parser("list", help="the person's live sessions and API tokens")
    add_as(ls, write=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    i = tsub.add_parser("issue", help="a new API bearer token (printed once)")
    add_as(i, write=True)
    i.add_argument("--label", default="api", help="what it is for (shown in the list)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run_issue)
    r = tsub.add_parser("revoke", help="revoke one of the person's tokens by its id")
    add_as(r, write=True)
    r.add_argument("token_id", metavar="TOKEN_ID", type=int)
    r.set_defaults(func=run_revoke)


def run_list(args: argparse.Namespace) -> int:
    from orchestrator.api.auth import tokens_of

    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="list their tokens")
        route_gate(actor, "GET", "/api/me/tokens")
        rows = tokens_of(s, actor)
    if args.json:
        print_json({"tokens": rows})
        return 0
    for t in rows:
        print(f"{t['id']:>6}  {t['kind']:<8} {t['label'] or '':<30} created {t['created_at']}, expires {t['expires_at']}")
    if not rows:
        print(f"{actor.username} has no live session or token")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    from orchestrator.api.auth import TokenBody, issue_own_token

    body = validated(TokenBody, label=args.label)
    settings, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="issue a token")
        route_gate(actor, "POST", "/api/me/tokens")
        token = issue_own_token(s, actor, settings.auth.api_token_days, body.label, via="cli")
    if args.json:
        print_json({"token": token})
    else:
        print(token)
        print(f"(an API token of {actor.username}, valid {settings.auth.api_token_days} days; it is shown only now: "
              "use it as 'Authorization: Bearer <token>')", file=sys.stderr)  # fmt: skip
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from orchestrator.api.auth import revoke_own_token

    _, db = open_database(args)
    with db.session() as s:
        actor = acting(s, args.as_user, write=True, what="revoke a token")
        route_gate(actor, "DELETE", "/api/me/tokens/{token_id:\\d+}")
        revoke_own_token(s, actor, args.token_id, via="cli")
    print(f"token {args.token_id} of {actor.username} revoked")
    return 0
