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
    return asyncio.run(_serve(app, settings.host, settings.port, logins, settings.http.header_timeout_seconds))


def make_runner(app: web.Application, header_timeout: float) -> web.AppRunner:
    """The runner ``serve`` uses: no access log (the app logs each request, secrets cut out), and a
    connection must send a request within ``header_timeout`` s (aiohttp's idle timer also closes a
    client still trickling its headers then: slow-header clients are closed)."""
    from aiohttp import web

    return web.AppRunner(app, access_log=None, keepalive_timeout=header_timeout)


async def _serve(app: web.Application, host: str, port: int, logins: list[tuple[str, str, str]],
                 header_timeout: float = 15.0) -> int:  # fmt: skip
    from aiohttp import web

    runner = make_runner(app, header_timeout)
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
