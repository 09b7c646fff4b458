"""The browser run, once per module: three Chromium contexts in a network namespace of their own.

The driver (room_driver.py) runs under ``unshare --net --pid --fork --kill-child``: its namespace
has only ``lo`` and a veth pair carrying 127.0.0.2, so no ICE candidate can name a real interface,
and the PID namespace ends the server and Chromium with it. Set AULACAST_E2E_SCREENSHOTS=docs/img
to refresh the user pages' screenshots; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).with_name("room_driver.py")
DRIVER_TIMEOUT = 900  # seconds; includes composing the recorded consultation (minutes on a loaded host)


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing: the browser test needs its own network namespace (util-linux, iproute2)"
    return None


def run_driver(driver: Path, work: Path) -> dict[str, Any]:
    """Run one driver script in its own network and PID namespace; its JSON result, or a failure with the logs."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    shots = Path(os.environ.get("AULACAST_E2E_SCREENSHOTS") or work / "img").resolve()
    out = work / "result.json"
    cmd = ["unshare", "--net", "--pid", "--fork", "--kill-child", sys.executable, str(driver),
           "--workdir", str(work), "--out", str(out), "--img-dir", str(shots)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
    if not out.exists():
        pytest.fail(f"the browser driver wrote no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["screenshots"] = str(shots)
    if not result.get("ok"):
        pytest.fail(
            f"browser run failed: {result.get('error')}\nsteps: {result.get('steps')}\n"
            f"console: {json.dumps(result.get('console'), indent=1)[-4000:]}\n"
            f"server log: {result.get('server_log_tail', '')[-3000:]}\n{proc.stderr[-2000:]}"
        )
    return result


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What the three browsers saw (see room_driver.scenario); fails with the server log when the run broke."""
    yield run_driver(DRIVER, tmp_path_factory.mktemp("browser-room"))


@pytest.fixture(scope="session")
def portal_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What the portal checks saw in Chromium (see portal_driver.scenario); one run for every test module."""
    yield run_driver(DRIVER.with_name("portal_driver.py"), tmp_path_factory.mktemp("portal"))
