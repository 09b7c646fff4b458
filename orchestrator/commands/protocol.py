"""``aulacast protocol``: export a sitting's signed protocol, and verify a downloaded one offline.

    aulacast protocol verify protocol-sitting-3.pdf [--key protocol-key.pem]   # exit 0 valid, 1 not
    aulacast protocol export 3 --format pdf -o protocol.pdf

Without ``--key`` the installation's own key (the configured data folder) is the trusted one;
give ``--key`` with the PEM or the JSON served at ``/.well-known/aulacast/protocol-key`` to
check a protocol elsewhere.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from orchestrator.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocol", help="defense protocols: export, verify offline")
    psub = p.add_subparsers(dest="protocol_command", metavar="PROTOCOL_COMMAND")
    psub.required = True
    v = psub.add_parser("verify", help="check a protocol's signature (JSON, HTML or PDF) and its visible grades")
    v.add_argument("file", type=Path)
    v.add_argument("--key", type=Path, help="the institution's public key (PEM, or the well-known JSON)")
    v.set_defaults(func=run_verify)
    e = psub.add_parser("export", help="write a signed-off sitting's protocol")
    e.add_argument("sitting", type=int)
    e.add_argument("--format", choices=("json", "html", "pdf"), default="pdf")
    e.add_argument("-o", "--output", type=Path, required=True)
    e.set_defaults(func=run_export)


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from orchestrator.config import load_settings

    return load_settings(args.config)


def run_verify(args: argparse.Namespace) -> int:
    from orchestrator.defenses.protocol import verify_file
    from orchestrator.defenses.signing import Invalid, load_public, signing_key

    if args.key is not None:
        try:
            keys = [load_public(args.key.read_bytes())]
        except OSError as exc:
            raise UserError(f"cannot read {args.key}: {exc.strerror}") from None
    else:
        keys = [signing_key(_settings(args)).public_key()]
    try:
        doc = verify_file(args.file, keys)
    except Invalid as exc:
        print(f"INVALID: {args.file}: {exc}")
        return 1
    sit = doc["sitting"]
    graded = sum(1 for t in doc["turns"] if t.get("grade"))
    print(f"VALID: {args.file}: protocol of sitting {sit['id']} ({sit['title']}), signed off {sit['signed_at']}, "
          f"{graded} grade(s)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from fileio.atomic import write_bytes_atomic
    from orchestrator.defenses.models import Sitting
    from orchestrator.defenses.policy import Viewer, protocol_access
    from orchestrator.defenses.protocol import signed_protocol, to_html, to_pdf
    from orchestrator.store.db import Database

    settings = _settings(args)
    db = Database.from_url(settings.effective_database_url)
    db.check_revision()
    with db.session() as s:
        sitting = s.get(Sitting, args.sitting)
        if sitting is None:
            raise UserError(f"no sitting {args.sitting}")
        protocol_access(Viewer(0, staff=True), "read", sitting).enforce()  # the operator acts as staff
        env = signed_protocol(s, sitting, settings)
    data = to_pdf(env) if args.format == "pdf" else (
        to_html(env).encode() if args.format == "html" else json.dumps(env, ensure_ascii=False, indent=1).encode())
    write_bytes_atomic(args.output, data)
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0
