"""The aiohttp application: API routes, web pages, lifecycle scheduler, and later signaling.

    app = create_app(settings)          # refuses a database at the wrong revision on start-up
    web.run_app(app, host=..., port=...)
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from orchestrator.api import SERVICES, api
from orchestrator.api.auth import resolve_identity
from orchestrator.config import Settings
from orchestrator.http import BODY_TIMEOUT, make_middlewares
from orchestrator.services import Services

log = logging.getLogger("aulacast.app")

API_MODULES = (
    "orchestrator.api.auth",
    "orchestrator.api.health",
    "orchestrator.api.people",
    "orchestrator.api.calendar",
    "orchestrator.api.schedule",
    "orchestrator.api.results",
    "orchestrator.api.rooms",
    "orchestrator.api.recordings",
    "orchestrator.api.archive",
    "orchestrator.api.uploads",
    "orchestrator.api.portal",
    "orchestrator.api.defenses",
    "orchestrator.api.jobs",
    "orchestrator.api.channel",
    "orchestrator.web",
)

# Modules that add more than routes (a Socket.IO server, media workers): each has ``attach(app, svc)``.
EXTENSIONS = ("orchestrator.rooms", "orchestrator.recordings", "orchestrator.archive.service", "orchestrator.jobs.service",
              "orchestrator.webhooks.service", "orchestrator.defenses.service", "orchestrator.metrics")

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

LIFECYCLE = web.AppKey("lifecycle", object)
Hook = Callable[[web.Application, Services], None]


def load_api_modules() -> None:
    for name in API_MODULES:
        importlib.import_module(name)


def private_data_dir(settings: Settings) -> None:
    """The data folder (database, keys, media) is the service's own: 0700, made so if it is wider."""
    path = settings.data_dir
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(path, 0o700)


def create_app(settings: Settings, *, services: Services | None = None, hooks: tuple[Hook, ...] = ()) -> web.Application:
    load_api_modules()
    private_data_dir(settings)
    svc = services or Services.build(settings)
    app = web.Application(middlewares=make_middlewares(resolve_identity), client_max_size=16 * 1024 * 1024)
    app[SERVICES] = svc
    app[BODY_TIMEOUT] = settings.http.body_timeout_seconds
    from orchestrator.web import harden_response

    app.on_response_prepare.append(harden_response)
    api.install(app)
    if (WEB_ROOT / "static").is_dir():
        app.router.add_static("/static/", WEB_ROOT / "static", append_version=True)
    for name in EXTENSIONS:
        importlib.import_module(name).attach(app, svc)
    for hook in hooks:
        hook(app, svc)
    app.cleanup_ctx.append(_lifespan)
    return app


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    svc = app[SERVICES]
    svc.db.check_revision()
    await svc.bus.start()
    lifecycle = None
    if svc.settings.scheduler_enabled:
        from orchestrator.lifecycle import Lifecycle

        lifecycle = Lifecycle(svc)
        await lifecycle.start()
        svc.lifecycle = lifecycle
    log.info("started", extra={"node": svc.node, "database": svc.db.engine.dialect.name, "redis": svc.redis is not None})
    yield
    if lifecycle is not None:
        await lifecycle.stop()
    await svc.close()
