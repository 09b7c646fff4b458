"""The ``aulacast`` command line: one entry point, subcommands contributed by modules.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and sets a
``func(args) -> int`` default on its parsers. User errors become one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orchestrator.errors import UserError

COMMAND_MODULES = (
    "orchestrator.commands.serve",
    "orchestrator.commands.config",
    "orchestrator.commands.db",
    "orchestrator.commands.admin",
    "orchestrator.commands.roster",
    "orchestrator.commands.calendar",
    "orchestrator.commands.curriculum",
    "orchestrator.commands.plan",
    "orchestrator.commands.schedule",
    "orchestrator.commands.tv",
    "orchestrator.commands.case",
    "orchestrator.commands.archive",
    "orchestrator.commands.protocol",
    "orchestrator.commands.audit",
    "orchestrator.commands.jobs",
    "orchestrator.commands.webhooks",
    "orchestrator.commands.portal",
    "orchestrator.commands.people",
    "orchestrator.commands.tokens",
    "orchestrator.commands.sessions",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aulacast", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML settings file (default: $AULACAST_CONFIG or ./aulacast.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"aulacast: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aulacast: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
