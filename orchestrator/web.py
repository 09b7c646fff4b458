"""Browser pages: sign-in, "My schedule", the room page, the archive and its player. Plain files from web/static, no build step.

Pages are public HTML shells; every piece of data they show comes from the
JSON API, which checks who is asking. A page that needs a signed-in person
sends the browser to /login when the API answers 401.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from orchestrator.api import api
from orchestrator.http import PUBLIC

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)


async def harden_response(request: web.Request, response: web.StreamResponse) -> None:
    """Every response (routes, static files, errors): no software versions in ``Server``, and any
    HTML (the /static/*.html copies too) carries the pages' CSP and frame protections."""
    response.headers["Server"] = "aulacast"
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


def page(name: str) -> web.FileResponse:
    response = web.FileResponse(STATIC / name)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-cache"
    return response


@api.route("GET", "/", roles=PUBLIC, summary="Portal start page (sends you to your home page)", produces="text/html", tags=("web",))
async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/home")


@api.route("GET", "/home", roles=PUBLIC, summary="Home: the pages of your roles (no one lands on an empty schedule)", produces="text/html", tags=("web",))
async def home_page(request: web.Request) -> web.StreamResponse:
    return page("staff.html")


@api.route("GET", "/staff/{page:(?:registrar|admin|tutor|operator|engineer)}", roles=PUBLIC, summary="A staff page (registrar, admin, tutor, operator, engineer); its data comes from the API, which checks who asks", produces="text/html", tags=("web",))
async def staff_page(request: web.Request) -> web.StreamResponse:
    return page("staff.html")


@api.route("GET", "/favicon.ico", roles=PUBLIC, summary="The icon", produces="image/svg+xml", tags=("web",))
async def favicon(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC / "favicon.svg")
    response.content_type = "image/svg+xml"
    return response


@api.route("GET", "/login", roles=PUBLIC, summary="Sign-in page", produces="text/html", tags=("web",))
async def login_page(request: web.Request) -> web.StreamResponse:
    return page("login.html")


@api.route("GET", "/schedule", roles=PUBLIC, summary="My schedule: a week view in my time zone", produces="text/html", tags=("web",))
async def schedule_page(request: web.Request) -> web.StreamResponse:
    return page("schedule.html")


@api.route("GET", "/join/{session_id:\\d+}", roles=PUBLIC, summary="The room page of a session", produces="text/html", tags=("web",))
async def room_page(request: web.Request) -> web.StreamResponse:
    return page("room.html") if (STATIC / "room.html").exists() else page("schedule.html")


@api.route("GET", "/archive", roles=PUBLIC, summary="The archive page: search recordings", produces="text/html", tags=("web",))
async def archive_page(request: web.Request) -> web.StreamResponse:
    return page("archive.html")


@api.route("GET", "/archive/{asset_id:\\d+}", roles=PUBLIC, summary="The player page of one recording: video, chapters, chat replay", produces="text/html", tags=("web",))
async def player_page(request: web.Request) -> web.StreamResponse:
    return page("player.html")


@api.route("GET", "/handin", roles=PUBLIC, summary="Hand in a recorded presentation and the written work for a defense (§31)", produces="text/html", tags=("web",))
async def handin_page(request: web.Request) -> web.StreamResponse:
    return page("handin.html")


@api.route("GET", "/committee", roles=PUBLIC, summary="The committee page: my sittings, the queue, grading, sign-off (?view=public: the audience's view)", produces="text/html", tags=("web",))
async def committee_page(request: web.Request) -> web.StreamResponse:
    return page("committee.html")
