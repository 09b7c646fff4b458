"""Walk every declared route × every role: 401 without identity, 403 with a role the route does not name."""

from __future__ import annotations

from orchestrator.api import api as route_table
from orchestrator.http import AUTHENTICATED, route_params
from tests.helpers.support import ROLE_PEOPLE, ApiClient


def concrete(path: str) -> str:
    template, names = route_params(path)
    return template.format(**{n: "1" for n in names})


async def test_every_route_checks_identity_and_role(api: ApiClient) -> None:
    protected = [r for r in route_table.routes if not r.public]
    assert len(protected) >= 10
    checked = 0
    for spec in protected:
        path = concrete(spec.path)
        r = await api.call(spec.method, path)
        assert r.status == 401, f"{spec.method} {spec.path} without identity gave {r.status}"
        if spec.method != "HEAD":  # a HEAD answer has no body (tus asks offsets with HEAD)
            assert (await r.json())["error"]["code"]
        if spec.roles == AUTHENTICATED:
            continue
        for role in ROLE_PEOPLE:
            r = await api.call(spec.method, path, role)
            if role in spec.roles:
                assert r.status != 403, f"{spec.method} {spec.path} refused its own role {role}"
            else:
                assert r.status == 403, f"{spec.method} {spec.path} as {role} gave {r.status}"
                checked += 1
    assert checked > 0


async def test_openapi_describes_every_route(api: ApiClient) -> None:
    doc = await (await api.client.get("/api/openapi.json")).json()
    for spec in route_table.routes:
        path, _names = route_params(spec.path)
        assert spec.method.lower() in doc["paths"][path], spec.path
