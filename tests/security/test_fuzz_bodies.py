"""Property-based fuzz of every JSON body and upload route (hypothesis), while a room keeps signalling.

The real server runs in a thread of its own (its own event loop) with a host in a live room
sending ``hand`` events every 50 ms; hypothesis drives HTTP requests at it from the test thread.
Properties: no answer is a 5xx, and no request or signalling ack is pathologically slow. Speed is
*recorded*, not asserted tightly: answers over 2 s are listed in the test's output, and only an
answer over ``FAIL_SECONDS`` (a stalled loop, not a loaded host) fails the test.

Examples per route: ``AULACAST_FUZZ_EXAMPLES`` (default 15 in CI; raise it for a long run).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.api import api as route_table
from orchestrator.http import route_params

EXAMPLES = int(os.environ.get("AULACAST_FUZZ_EXAMPLES", "15"))
SLOW_SECONDS = 2.0
FAIL_SECONDS = 30.0
pytestmark = pytest.mark.timeout(900)


@dataclass
class Target:
    url: str
    tokens: dict[str, str]
    ids: dict[str, int]
    consult: int
    acks: list[float] = field(default_factory=list)  # seconds per signalling round trip
    slow: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    """The server and a signalling host, on a loop in another thread."""
    ready: Future[Target] = Future()
    done = threading.Event()

    def run() -> None:
        async def main() -> None:
            from media.live import aiortc_hooks
            from tests.helpers.rooms import start_world

            with aiortc_hooks.restrict_host_addresses(["127.0.0.1"]):
                world, runner = await start_world(tmp_path, media=False)
                try:
                    tom = await world.socket("tom", world.consult)
                    await tom.wait_for("welcome")
                    t = Target(world.url, dict(world._bearer), world.ids, world.consult)
                    ready.set_result(t)
                    raised = False
                    while not t.stop.is_set():
                        raised = not raised
                        began = time.monotonic()
                        await tom.call("hand", {"raised": raised}, limit=60)
                        t.acks.append(time.monotonic() - began)
                        await asyncio.sleep(0.05)
                finally:
                    await world.close()
                    await world.http.close()
                    await runner.cleanup()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            if not ready.done():
                ready.set_exception(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, name="fuzz-server", daemon=True)
    thread.start()
    t = ready.result(timeout=120)
    try:
        yield t
    finally:
        t.stop.set()
        done.wait(60)


def send(t: Target, method: str, path: str, who: str | None, body: bytes | None, ctype: str | None,
         headers: dict[str, str] | None = None) -> int:  # fmt: skip
    req = urllib.request.Request(t.url + path, data=body, method=method)
    if who:
        req.add_header("Authorization", f"Bearer {t.tokens[who]}")
    if ctype:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    took = time.monotonic() - began
    if took > SLOW_SECONDS:
        t.slow.append(f"{method} {path}: {took:.1f} s")
    assert took < FAIL_SECONDS, f"{method} {path} took {took:.1f} s"
    return status


LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(LEAF, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                    max_leaves=16)  # fmt: skip


def body_strategy(model: Any) -> st.SearchStrategy[bytes]:
    """Objects with the model's own field names holding any JSON, any JSON at all, or raw bytes."""
    names = list(model.model_fields)
    shaped = st.fixed_dictionaries({}, optional={n: JSON for n in names})
    return st.one_of(
        shaped.map(lambda d: json.dumps(d).encode()),
        JSON.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=300),
        st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    )


def concrete(t: Target, path: str) -> str:
    template, names = route_params(path)
    values = {"session_id": t.consult, "person_id": t.ids["sue"], "group_id": 1, "asset_id": 1, "sitting_id": 1,
              "turn_id": 1, "message_id": 1, "token_id": 1, "job_id": "1", "upload_id": "ab" * 8}  # fmt: skip
    return template.format(**{n: values.get(n, 1) for n in names})


def who_for(spec: Any) -> str:
    if "admin" in spec.roles or spec.roles in ({"*any*"}, {"*public*"}):
        return "ada"
    return "tom"


def fuzz_json(target: Target, spec: Any, path: str, who: str | None) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=body_strategy(spec.body))
    def probe(body: bytes) -> None:
        status = send(target, spec.method, path, who, body, "application/json")
        assert status < 500, f"{spec.method} {spec.path} answered {status} to {body[:200]!r}"

    probe()


def fuzz_upload(target: Target, method: str, path: str, ctype: str, strategy: st.SearchStrategy[bytes]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=strategy, dry=st.booleans())
    def probe(body: bytes, dry: bool) -> None:
        status = send(target, method, path + ("?dry_run=1" if dry else ""), "reg", body, ctype)
        assert status < 500, f"{method} {path} answered {status} to {body[:200]!r}"

    probe()


def test_fuzz_every_json_body_route(target: Target) -> None:
    routes = [r for r in route_table.routes if r.body is not None]
    assert len(routes) >= 8
    failures: list[str] = []
    for spec in routes:
        path, who = concrete(target, spec.path), who_for(spec)
        try:
            fuzz_json(target, spec, path, None if spec.path == "/api/auth/login" else who)
        except AssertionError as exc:
            failures.append(str(exc))
    report(target)
    assert not failures, "\n".join(failures)


CSV_CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
UPLOADS = {
    ("POST", "/api/roster", "text/csv"): st.one_of(
        st.lists(st.lists(CSV_CELL, min_size=1, max_size=9), max_size=6).map(
            lambda rows: "\n".join(",".join(r) for r in [["username", "display_name", "roles", "group"], *rows]).encode()),
        st.binary(max_size=500),
    ),
    ("POST", "/api/calendar", "application/yaml"): st.one_of(st.text(max_size=400).map(str.encode), st.binary(max_size=400)),
    ("POST", "/api/curriculum", "application/yaml"): st.one_of(
        st.text(max_size=400).map(str.encode),
        st.dictionaries(st.sampled_from(["disciplines", "offerings", "x"]), JSON, max_size=3).map(
            lambda d: json.dumps(d).encode()),  # JSON is YAML
    ),
}


def test_fuzz_every_upload_route(target: Target) -> None:
    failures: list[str] = []
    for (method, path, ctype), strategy in UPLOADS.items():
        try:
            fuzz_upload(target, method, path, ctype, strategy)
        except AssertionError as exc:
            failures.append(str(exc))

    # tus: creation headers and appends at random offsets
    header_value = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(length=header_value | st.integers(min_value=-5, max_value=2**70).map(str), meta=header_value,
           offset=st.integers(min_value=-5, max_value=2**70).map(str), data=st.binary(max_size=200))
    def tus(length: str, meta: str, offset: str, data: bytes) -> None:
        base = {"Tus-Resumable": "1.0.0"}
        status = send(target, "POST", "/api/uploads", "sue", None, None,
                      {**base, "Upload-Length": length, "Upload-Metadata": meta})  # fmt: skip
        assert status < 500, f"tus creation answered {status} to {length!r} {meta!r}"
        status = send(target, "PATCH", "/api/uploads/" + "ab" * 8, "sue", data, "application/offset+octet-stream",
                      {**base, "Upload-Offset": offset})  # fmt: skip
        assert status < 500, f"tus append answered {status} to offset {offset!r}"

    try:
        tus()
    except AssertionError as exc:
        failures.append(str(exc))
    report(target)
    assert not failures, "\n".join(failures)


def report(t: Target) -> None:
    acks = sorted(t.acks)
    if acks:
        p = lambda q: acks[min(len(acks) - 1, int(q * len(acks)))]  # noqa: E731
        print(f"\nsignalling acks while fuzzing: n={len(acks)} median={p(0.5) * 1000:.0f} ms "
              f"p99={p(0.99) * 1000:.0f} ms max={acks[-1] * 1000:.0f} ms")  # fmt: skip
    slow_acks = [a for a in acks if a > SLOW_SECONDS]
    print(f"requests over {SLOW_SECONDS:g} s: {len(t.slow)}", *t.slow[:20], sep="\n  ")
    print(f"signalling acks over {SLOW_SECONDS:g} s: {len(slow_acks)}")
    assert not acks or acks[-1] < FAIL_SECONDS, f"a signalling ack took {acks[-1]:.1f} s: the loop stalled"
