"""What playout is doing now, in a small JSON file it rewrites as items change (``tv playout --state``).

    state = PlayoutState.starting(day, pid=os.getpid(), day_file="day.json", target="udp://...")
    write_state(path, state.at_item(3))        # atomic: a reader never sees half a file
    status = playout_status(path)              # for the engineer's page and ``aulacast tv status``

The as-run log says what *has* aired; this file says what is on air and what comes next.
Playout is "running" only when the file says it is sending and its process is alive on
this host: a playout killed without a chance to say so is reported as stopped, not on air.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fileio import write_text_atomic
from schedules.tv.day import Day, Item

STATES = ("waiting", "sending", "finished", "interrupted")


def item_summary(day: Day, index: int) -> dict[str, Any] | None:
    """One item of the day as the status shows it (titles in every language the day has)."""
    if not 0 <= index < len(day.items):
        return None
    item: Item = day.items[index]
    return {"index": index, "kind": item.kind, "title": dict(item.title), "episode_title": dict(item.episode_title),
            "start": day.at(item).isoformat(timespec="seconds"),
            "end": day.local(item.end_ms).isoformat(timespec="seconds")}  # fmt: skip


@dataclass(frozen=True)
class PlayoutState:
    state: str
    pid: int
    host: str
    channel: str
    date: str
    day_file: str
    target: str
    started_at: str
    updated_at: str
    index: int
    items: int
    current: dict[str, Any] | None
    next: dict[str, Any] | None

    @classmethod
    def starting(cls, day: Day, *, pid: int, day_file: str, target: str) -> PlayoutState:
        now = _now()
        return cls("waiting", pid, socket.gethostname(), day.channel.id, day.date.isoformat(), day_file, target,
                   now, now, 0, len(day.items), None, item_summary(day, 0))  # fmt: skip

    def at_item(self, day: Day, index: int) -> PlayoutState:
        return replace(self, state="sending", index=index, updated_at=_now(), current=item_summary(day, index),
                       next=item_summary(day, index + 1))  # fmt: skip

    def ended(self, state: str) -> PlayoutState:
        return replace(self, state=state, updated_at=_now(), current=None, next=None)


def write_state(path: Path, state: PlayoutState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(asdict(state), ensure_ascii=False, indent=1) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def playout_status(path: Path | None) -> dict[str, Any]:
    """``{"running": bool, "state", "message", "current", "next", ...}`` read from the state file.

    Never raises for a missing or unreadable file: the page exists to say what is (not) on air.
    """
    if path is None:
        return {"running": False, "state": "not_configured", "current": None, "next": None,
                "message": "playout is not running here: no playout state file is configured (tv.playout_state)"}  # fmt: skip
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = PlayoutState(**data)
    except FileNotFoundError:
        return {"running": False, "state": "never", "current": None, "next": None,
                "message": "playout is not running: no playout has run with this state file yet"}  # fmt: skip
    except (OSError, ValueError, TypeError) as exc:
        return {"running": False, "state": "unreadable", "current": None, "next": None,
                "message": f"playout state file {path.name} cannot be read ({type(exc).__name__})"}  # fmt: skip
    out: dict[str, Any] = {k: v for k, v in asdict(state).items() if k not in ("pid", "host", "day_file")}
    here = state.host == socket.gethostname()
    if state.state in ("waiting", "sending"):
        if here and not _alive(state.pid):
            out.update(running=False, state="stopped", current=None, next=None,
                       message=f"playout is not running: it stopped without finishing (at item {state.index + 1} "
                               f"of {state.items}, last report {state.updated_at})")  # fmt: skip
        elif state.state == "waiting":
            out.update(running=True, message="playout is waiting for the day's start")
        else:
            out.update(running=True, message=f"on air: item {state.index + 1} of {state.items}"
                                              + ("" if here else f" (playout runs on {state.host})"))  # fmt: skip
    else:
        out.update(running=False, current=None, next=None,
                   message=f"playout is not running: the last run {state.state} at {state.updated_at}")
    return out
