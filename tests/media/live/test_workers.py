"""A media worker refuses to start when aiortc's internals moved, and its supervisor does not restart it.

Each case runs in a subprocess that first removes one internal ``check_internals`` guards (aioice's
consent failure count, a public module global), as an upgrade of aioice could.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from media.live.fanout import RoomKind
from media.live.types import MediaConfig, RoomMediaError
from media.live.workers import EXIT_REFUSED, WorkerPool
from tests.helpers.support import REPO, until

MOVED = "import aioice.ice; del aioice.ice.CONSENT_FAILURES"
NAMED = "aioice.ice.CONSENT_FAILURES is gone"


def _python(code: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", f"{MOVED}\n{code}"], input=stdin, capture_output=True, text=True,
                          cwd=REPO, timeout=120)  # fmt: skip


def test_the_worker_process_refuses_to_start_naming_what_moved() -> None:
    done = _python("from media.live import workers; workers.main(['--config', '{}'])", stdin='{"id": 1}\n')
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert "media worker refuses to start" in done.stderr and NAMED in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""  # a clear message, no reply served


def test_an_in_process_media_server_refuses_too() -> None:
    done = _python(
        "from media.live.aiortc_hooks import AiortcHookError\n"
        "from media.live.server import LocalMediaServer\n"
        "try:\n    LocalMediaServer()\nexcept AiortcHookError as exc:\n    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "refusing to start" in done.stdout and NAMED in done.stdout


async def test_the_pool_does_not_restart_a_refusing_worker_and_says_media_is_unavailable() -> None:
    launcher = ("-c", f"{MOVED}\nimport sys\nfrom media.live import workers\nworkers.main(sys.argv[1:])")
    pool = WorkerPool(MediaConfig(), workers=1, launcher=launcher)
    await pool.start()
    try:
        first = pool.pid(0)
        await until(lambda: pool.refused(0), "the worker exits with EXIT_REFUSED")
        with pytest.raises(RoomMediaError, match="media is unavailable") as refused:
            await pool.open_room("r", RoomKind.CONSULTATION)
        assert refused.value.code == "media_unavailable"
        assert pool.pid(0) == first  # no restart loop
    finally:
        await pool.close()
