"""``aulacast config show``: the effective settings, secrets masked."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="inspect settings")
    csub = p.add_subparsers(dest="config_command", metavar="CONFIG_COMMAND")
    csub.required = True
    show = csub.add_parser("show", help="print the effective settings with secrets masked")
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings, render_settings

    print(render_settings(load_settings(args.config)), end="")
    return 0
