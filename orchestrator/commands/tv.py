"""``aulacast tv``: broadcast packaging, checks, channel schedules and playout.

The group is created here; each part registers its own subcommands from its
own module so that they can land independently.
"""

from __future__ import annotations

import argparse
import importlib

TV_MODULES = (
    "orchestrator.commands.tv_package",
    "orchestrator.commands.tv_check",
    "orchestrator.commands.tv_schedule",
    "orchestrator.commands.tv_playout",
    "orchestrator.commands.tv_series",
    "orchestrator.commands.tv_channel",
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tv", help="TV technology: package, check, schedule, playout")
    tv_sub = parser.add_subparsers(dest="tv_command", metavar="TV_COMMAND")
    tv_sub.required = True
    for name in TV_MODULES:
        importlib.import_module(name).register(tv_sub)
