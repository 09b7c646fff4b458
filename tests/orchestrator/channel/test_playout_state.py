"""``tv playout --udp`` (state file and as-run log from the settings) keeps what is on air in its state file while it sends (real ffmpeg, real UDP),
and the status the engineer's page shows reads it: on air while sending, not running once done."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from orchestrator.channel.playout_state import playout_status
from orchestrator.cli import main
from schedules.tv.playlist import read_as_run
from tests.helpers.media import make_clip
from tests.helpers.support import TINY_PROFILE

pytestmark = pytest.mark.slow


def test_playout_reports_what_is_on_air_while_it_sends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny-180p25.toml").write_text(TINY_PROFILE)
    make_clip(tmp_path / "id.mp4", seconds=1)
    channel = {"channel": {"id": "t.kz", "name": "T", "slots": []},
               "fillers": {"idents": [{"source": "id.mp4", "duration": 1, "title": {"en": "Ident"}}],
                           "clock": {"min": 1, "max": 60}}}  # fmt: skip
    (tmp_path / "ch.yaml").write_text(yaml.safe_dump(channel))
    assert main(["tv", "schedule", "build", "--channel", str(tmp_path / "ch.yaml"), "--date", "2026-11-26",
                 "--length", "3", "-o", str(tmp_path / "day.json")]) == 0  # fmt: skip
    state_file = tmp_path / "tv" / "playout.json"
    # the settings' files, as the engineer's page reads them: playout writes there without --state / --as-run
    monkeypatch.setenv("AULACAST_TV__PLAYOUT_STATE", str(state_file))
    monkeypatch.setenv("AULACAST_TV__AS_RUN_LOG", str(tmp_path / "tv" / "asrun.jsonl"))
    seen: list[dict] = []
    done = threading.Event()

    def watch() -> None:  # what the page would have seen, polled as it would be
        while not done.is_set():
            out = playout_status(state_file)
            if out["state"] not in ("never",) and (not seen or seen[-1]["state"] != out["state"]
                                                   or seen[-1].get("index") != out.get("index")):
                seen.append(out)
            done.wait(0.05)

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert main(["tv", "playout", str(tmp_path / "day.json"), "-o", str(tmp_path / "day.ts"),
                     "--profile", "tiny-180p25", "--profiles-dir", str(tmp_path / "profiles"),
                     "--udp", f"udp://127.0.0.1:{rx.getsockname()[1]}", "--now"]) == 0  # fmt: skip
    finally:
        done.set()
        watcher.join(5)
        rx.close()
    on_air = [s for s in seen if s["running"] and s["state"] == "sending"]
    assert [s["current"]["kind"] for s in on_air] == ["ident", "clock"], seen
    assert on_air[0]["next"]["kind"] == "clock" and on_air[1]["next"] is None
    assert on_air[0]["current"]["title"] == {"en": "Ident"} and on_air[0]["target"].startswith("udp://")
    final = playout_status(state_file)
    assert final["running"] is False and final["state"] == "finished" and "not running" in final["message"]
    assert json.loads(state_file.read_text())["items"] == 2
    assert [(r.kind, r.status) for r in read_as_run(tmp_path / "tv" / "asrun.jsonl")] == [("ident", "played"), ("clock", "played")]
    # assembling alone (no sending) writes nothing to the configured as-run log: it lists what went to air
    assert main(["tv", "playout", str(tmp_path / "day.json"), "-o", str(tmp_path / "day2.ts"), "--profile", "tiny-180p25",
                 "--profiles-dir", str(tmp_path / "profiles")]) == 0  # fmt: skip
    assert len(read_as_run(tmp_path / "tv" / "asrun.jsonl")) == 2
