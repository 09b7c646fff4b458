"""Issue 13 §1.7: the published OpenAPI document describes what the server really answers.

Real responses of the main routes (login, me, schedule, session, join, chat) are validated against
the 200 schemas of ``/api/openapi.json`` with an independent JSON Schema validator (``jsonschema``,
draft 2020-12 as OpenAPI 3.1 uses); the document itself passes ``openapi-spec-validator``.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from tests.helpers.rooms import PASSWORD, World


def _schema_of(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}


async def _check(world: World, doc: dict[str, Any], method: str, path: str, real_path: str, username: str | None,
                 **kw: Any) -> dict[str, Any]:  # fmt: skip
    r = await world.request(method.upper(), real_path, username, **kw)
    body = await r.json()
    assert r.status == 200, body
    schema = _schema_of(doc, method, path)
    assert schema.get("$ref"), f"{method} {path} has no response model"
    jsonschema.Draft202012Validator(schema).validate(body)
    return body


async def test_main_responses_match_the_published_schemas(world: World) -> None:
    from orchestrator.auth import hash_password
    from orchestrator.store.models import Person

    def set_password(s: Any) -> None:
        s.get(Person, world.ids["stu"]).password_hash = hash_password(PASSWORD)

    await world.svc.db_call(set_password)
    r = await world.http.get(f"{world.url}/api/openapi.json")
    doc = await r.json()
    validate(doc)  # a valid OpenAPI 3.1 document

    sid = world.consult
    await _check(world, doc, "post", "/api/auth/login", "/api/auth/login", None,
                 json={"username": "stu", "password": PASSWORD, "kind": "api"})  # fmt: skip
    await _check(world, doc, "get", "/api/me", "/api/me", "stu")
    mine = await _check(world, doc, "get", "/api/me/schedule", "/api/me/schedule", "stu")
    assert any(s["id"] == sid for s in mine["sessions"])
    await _check(world, doc, "get", "/api/sessions/{session_id}", f"/api/sessions/{sid}", "stu")
    await _check(world, doc, "get", "/api/sessions", "/api/sessions", "reg")
    join = await _check(world, doc, "post", "/api/sessions/{session_id}/join", f"/api/sessions/{sid}/join", "stu")
    assert join["grant"]["role"] == "participant"
    await _check(world, doc, "post", "/api/sessions/{session_id}/messages", f"/api/sessions/{sid}/messages", "tom",
                 json={"body": "see you at ten"})  # fmt: skip
    history = await _check(world, doc, "get", "/api/sessions/{session_id}/chat", f"/api/sessions/{sid}/chat", "tom")
    assert history["messages"][-1]["body"] == "see you at ten"

    # a wrong shape is caught: the check is not vacuous
    bad = dict(join, grant={"role": "participant"})
    try:
        jsonschema.Draft202012Validator(_schema_of(doc, "post", "/api/sessions/{session_id}/join")).validate(bad)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a join answer without grant flags passed the schema")


async def test_every_json_route_says_at_least_that_it_answers_an_object(world: World) -> None:
    r = await world.http.get(f"{world.url}/api/openapi.json")
    doc = await r.json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for media, content in op["responses"]["200"]["content"].items():
                assert content["schema"] != {}, f"{method} {path} ({media}) has an empty response schema"
