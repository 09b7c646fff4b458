"""``aulacast serve``: run the service (``--demo`` loads a demo calendar, people and plan)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the service")
    p.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default from settings: 8080; 0 = any free port)")
    p.add_argument("--demo", action="store_true", help="load the demo calendar, people and offerings, and plan them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.config import load_settings
    from orchestrator.logs import setup_logging

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(args.config, **overrides)
    setup_logging(settings.log_level)
    from orchestrator.app import create_app
    from orchestrator.store.db import Database

    db = Database.from_url(settings.effective_database_url)
    if args.demo:
        from orchestrator.demo import load_demo

        db.upgrade()
        logins = load_demo(settings, db)
    else:
        db.check_revision()
        logins = []
    app = create_app(settings)
    return asyncio.run(_serve(app, settings.host, settings.port, logins))


async def _serve(app: web.Application, host: str, port: int, logins: list[tuple[str, str, str]]) -> int:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    url = f"http://{host}:{bound}"
    print(f"aulacast is serving at {url}/  (schedule: {url}/schedule, API: {url}/api/openapi.json)", flush=True)
    if logins:
        print("demo logins (username / password / role):", flush=True)
        for username, password, role in logins:
            print(f"  {username:<12} {password:<20} {role}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0
