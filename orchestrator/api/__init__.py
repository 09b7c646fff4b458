"""The JSON API: one route table shared by every module in this package."""

from __future__ import annotations

from aiohttp import web

from orchestrator.http import Api
from orchestrator.services import Services

api = Api()

SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


STAFF = frozenset({"admin", "registrar"})
TEACHING = frozenset({"tutor", "teacher"})
