"""HTTP plumbing: one route table that declares who may call what, and its OpenAPI document.

    api = Api()

    @api.route("GET", "/api/me", roles=AUTHENTICATED, summary="Who am I")
    async def me(req: Request) -> dict: return {...}

Every route names its callers: ``PUBLIC``, ``AUTHENTICATED`` or a set of roles.
The wrapper is the one choke point: 401 without identity, 403 with the wrong
role, before the handler runs. Handlers return dicts (JSON) or responses;
``UserError`` becomes ``{"error": {"code", "message"}}`` with its status.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ValidationError

from orchestrator.auth import Identity
from orchestrator.errors import Forbidden, NotFound, Unauthenticated, UserError

log = logging.getLogger("aulacast.http")

PUBLIC: frozenset[str] = frozenset({"*public*"})
AUTHENTICATED: frozenset[str] = frozenset({"*any*"})

SESSION_COOKIE = "aulacast_session"
CSRF_HEADER = "X-Requested-With"



@dataclass
class AuthState:
    """What the middleware learnt about the caller; handlers read it through ``identity()``."""

    identity: Identity | None = None
    via: str | None = None  # "bearer" | "cookie"
    error: str | None = None
    code: str | None = None


AUTH = web.RequestKey("auth", AuthState)
REQUEST_ID = web.RequestKey("request_id", str)

Handler = Callable[[web.Request], Awaitable[Any]]


@dataclass
class RouteSpec:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str]
    summary: str
    body: type[BaseModel] | None = None
    body_type: str = "application/json"
    query: dict[str, str] = field(default_factory=dict)
    produces: str = "application/json"
    tags: tuple[str, ...] = ()
    response: type[BaseModel] | None = None

    @property
    def public(self) -> bool:
        return self.roles == PUBLIC


def client_address(request: web.Request, trusted: list[str], header: str = "X-Forwarded-For") -> str:
    """The client's address: the TCP peer, unless the peer is a configured trusted proxy; then the
    right-most address in ``header`` that is not itself a trusted proxy (what the proxy saw)."""
    peer = request.remote or "unknown"
    if not trusted:
        return peer
    nets = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in nets)

    if not is_trusted(peer):
        return peer
    hops = [h.strip() for v in request.headers.getall(header, []) for h in v.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a mangled header: fall back to the proxy itself, never to attacker text
    return peer


def same_origin(request: web.Request, public_url: str) -> bool:
    """Whether the request's ``Origin`` (when it sends one) is this site: the public URL or the host asked."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-site form: scripts and curl send none
    public = urlsplit(public_url)
    own = {f"{public.scheme}://{public.netloc}", f"{request.scheme}://{request.host}"}
    return origin in own


def identity(request: web.Request) -> Identity:
    ident = auth_state(request).identity
    if ident is None:
        raise Unauthenticated("sign in first", code="unauthenticated")
    return ident


def auth_state(request: web.Request) -> AuthState:
    state = request.get(AUTH)
    if state is None:
        state = request[AUTH] = AuthState()
    return state


MAX_JSON_BYTES = 1024 * 1024
MAX_ID = 2**63 - 1
READ_CHUNK = 64 * 1024


BODY_TIMEOUT = web.AppKey("body_timeout", float)


async def read_body(request: web.Request, limit: int, what: str = "body") -> bytes:
    """The whole request body, or 413 once it passes ``limit`` bytes (declared or actually sent).

    ``request.content.read(n)`` returns *at most* n bytes (whatever has arrived), so a body is
    read to its end here and only then parsed: nothing is ever imported from half a file.
    """
    if request.content_length is not None and request.content_length > limit:
        raise UserError(f"{what} larger than {limit} bytes", code="too_large", status=413)
    buf = bytearray()
    pause = request.app.get(BODY_TIMEOUT, 60.0)
    while True:
        try:
            async with asyncio.timeout(pause):  # a client that stops sending mid-body is cut off
                chunk = await request.content.readany()
        except TimeoutError:
            raise UserError(f"{what}: no data for {pause:g} s; send the whole body", code="timeout", status=408) from None
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise UserError(f"{what} larger than {limit} bytes", code="too_large", status=413)


async def parse_body(request: web.Request, model: type[BaseModel]) -> Any:
    raw_bytes = await read_body(request, MAX_JSON_BYTES, "JSON body")
    try:
        raw = json.loads(raw_bytes)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError("the request body is not valid JSON", code="invalid_json") from None
    except RecursionError:
        raise UserError("the request body is nested too deeply", code="invalid_json") from None
    where = _out_of_range(raw)  # ids and counts live in 64-bit columns: larger numbers are refused here
    if where is not None:
        raise UserError(f"{where or '(body)'}: number out of range", code="invalid_body", status=422)
    try:
        # strict: JSON types as written (true is not 1, "5" is not 5); dates still from ISO strings
        return model.model_validate_json(raw_bytes, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(body)"
        raise UserError(f"{where}: {err['msg']}", code="invalid_body", status=422) from None


def _out_of_range(value: Any, path: str = "") -> str | None:
    """The key path of the first integer beyond 64 bits in parsed JSON, else None (iterative: no recursion)."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_ID:
            return p
        if isinstance(v, dict):
            stack.extend((sub, f"{p}.{k}" if p else str(k)) for k, sub in v.items())
        elif isinstance(v, list):
            stack.extend((sub, f"{p}.{i}" if p else str(i)) for i, sub in enumerate(v))
    return None


class Api:
    def __init__(self) -> None:
        self.routes: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: frozenset[str] | set[str] | tuple[str, ...],
        summary: str,
        body: type[BaseModel] | None = None,
        body_type: str = "application/json",
        query: dict[str, str] | None = None,
        produces: str = "application/json",
        tags: tuple[str, ...] = (),
        response: type[BaseModel] | None = None,
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes.append(
                RouteSpec(method, path, fn, frozenset(roles), summary, body, body_type, query or {}, produces, tags,
                          response)  # fmt: skip
            )
            return fn

        return deco

    def install(self, app: web.Application) -> None:
        for spec in self.routes:
            app.router.add_route(spec.method, spec.path, _guard(spec))


def _guard(spec: RouteSpec) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        for name, value in request.match_info.items():
            if value.isdigit() and (len(value) > 19 or int(value) > MAX_ID):
                raise NotFound(f"no such {name.removesuffix('_id')}: {value[:24]}{'...' if len(value) > 24 else ''}")
        for name, value in request.query.items():  # ids and limits in queries meet 64-bit columns too
            digits = value.strip().lstrip("+-")
            if digits.isdigit() and len(digits) > 18 and int(digits) > MAX_ID:
                raise UserError(f"{name}: number out of range", code="invalid_query", status=422)
        if not spec.public:
            state = auth_state(request)
            ident = state.identity
            if ident is None:
                raise Unauthenticated(state.error or "sign in first", code=state.code or "unauthenticated")
            if spec.roles != AUTHENTICATED and not (ident.roles & spec.roles):
                raise Forbidden(
                    f"{spec.method} {spec.path} needs one of the roles: {', '.join(sorted(spec.roles))}"
                )
            if state.via == "cookie" and request.method not in ("GET", "HEAD", "OPTIONS"):
                if request.headers.get(CSRF_HEADER) != "aulacast":
                    raise Forbidden(f"cookie-authenticated writes need the header {CSRF_HEADER}: aulacast", code="csrf")
        result = await spec.handler(request)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, dumps=_dumps)

    handler.__name__ = spec.handler.__name__
    return handler


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if request_id:
        body["error"]["request_id"] = request_id
    return body


_FEED = re.compile(r"^/feeds/[^/]+\.ics$")
_SIGNED_PATH = re.compile(r"^(/archive/(?:play|download)/\d+/)[^/]+")


def loggable_path(path: str) -> str:
    """The path as logs keep it: secrets that travel in paths (feed tokens) are cut out."""
    if _FEED.match(path):
        return "/feeds/[redacted].ics"
    return _SIGNED_PATH.sub(r"\1[redacted]", path)


def make_middlewares(resolve: Callable[[web.Request], Awaitable[None]]) -> list[Any]:
    @web.middleware
    async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id", "")
        if not re.fullmatch(r"[A-Za-z0-9._-]{8,64}", rid):
            rid = uuid.uuid4().hex
        request[REQUEST_ID] = rid
        started = time.perf_counter()
        status = 500
        try:
            await resolve(request)
            response = await handler(request)
            status = response.status
        except UserError as exc:
            status = exc.status
            response = web.json_response(error_body(exc.code, str(exc), rid), status=exc.status)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
        except web.HTTPException as exc:
            status = exc.status
            if exc.status >= 400 and request.path.startswith(("/api", "/feeds")):
                response = web.json_response(
                    error_body(exc.reason.lower().replace(" ", "_"), exc.reason, rid), status=exc.status
                )
            else:
                raise
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid, "path": loggable_path(request.path)})
            response = web.json_response(
                error_body("internal", "internal error; the request id identifies it in the logs", rid), status=500
            )
        finally:
            log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": request.method,
                    "path": loggable_path(request.path),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "person": getattr(auth_state(request).identity, "username", None),
                },
            )
        response.headers["X-Request-Id"] = rid
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return [request_context]


def route_params(path: str) -> tuple[str, list[str]]:
    """The OpenAPI form of an aiohttp path (``{id:\\d+}`` → ``{id}``) and its parameter names.

    Regex parts may hold braces themselves (``{jti:[a-z]{1,64}}``), so braces are matched by depth.
    """
    out, names, depth, name, in_regex = [], [], 0, "", False
    for ch in path:
        if ch == "{":
            depth += 1
            if depth == 1:
                name, in_regex = "", False
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                names.append(name)
                out.append("{" + name + "}")
                continue
        if depth == 0:
            out.append(ch)
        elif depth == 1 and ch == ":" and not in_regex:
            in_regex = True
        elif not in_regex:
            name += ch
    return "".join(out), names


def _model_schema(model: type[BaseModel], schemas: dict[str, Any], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode, by_alias=True)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response_schema(spec: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    """The 200 body: its model when the route names one, else what the media type says."""
    if spec.response is not None:
        return _model_schema(spec.response, schemas, "serialization")
    if spec.produces == "application/json":
        return {"type": "object"}
    return {"type": "string"}


def openapi_document(api: Api, *, title: str, version: str, server: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                }
            },
        }
    }
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for spec in api.routes:
        path, names = route_params(spec.path)
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": desc}
            for name, desc in spec.query.items()
        ]
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": spec.handler.__name__,
            "tags": list(spec.tags),
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {spec.produces: {"schema": _response_schema(spec, schemas)}}},
                "400": {"description": "Bad request", **err},
            },
        }
        if spec.public:
            op["security"] = []
        else:
            op["responses"]["401"] = {"description": "No valid identity", **err}
            if spec.roles != AUTHENTICATED:
                op["responses"]["403"] = {"description": "Role not allowed", **err}
            op["x-roles"] = sorted(spec.roles - AUTHENTICATED) or ["any signed-in person"]
        if spec.body is not None:
            schema = spec.body.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in schema.pop("$defs", {}).items():
                schemas[name] = sub
            schemas[spec.body.__name__] = schema
            op["requestBody"] = {
                "required": True,
                "content": {spec.body_type: {"schema": {"$ref": f"#/components/schemas/{spec.body.__name__}"}}},
            }
        elif spec.body_type != "application/json":
            op["requestBody"] = {"required": True, "content": {spec.body_type: {"schema": {"type": "string"}}}}
        paths.setdefault(path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
