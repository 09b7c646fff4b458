"""`aulacast tv check`: exit 0 clean, 1 with TR 101 290 P1/P2 errors, 2 for unreadable or non-TS input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import main


def test_clean_stream_exits_0_with_a_readable_report(
    cbr_ts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tv", "check", str(cbr_ts)]) == 0
    out = capsys.readouterr().out
    assert "OK: no TR 101 290 priority 1/2 errors" in out
    assert "bitrate per second: mean 2.000" in out and "SDT actual" in out and "'Aula TV'" in out


def test_faulty_stream_exits_1_and_names_the_errors(
    cbr_ts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = cbr_ts.read_bytes()
    packets = [data[i : i + 188] for i in range(0, len(data), 188)]
    faulty = tmp_path / "faulty.ts"
    faulty.write_bytes(b"".join(p for i, p in enumerate(packets) if not (p[1] & 0x1F == 0 and p[2] == 0)))
    assert main(["tv", "check", str(faulty)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "[P1] PAT_error" in out


def test_json_report(cbr_ts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tv", "check", str(cbr_ts), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["errors"] == []
    assert doc["bitrate"]["mean_bps"] == pytest.approx(2_000_000, abs=2_000)
    assert {t["name"] for t in doc["tables"]} >= {"PAT", "PMT", "SDT actual", "NIT actual"}


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n" * 50, bytes(4000)])
def test_non_ts_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    f = tmp_path / "input.ts"
    f.write_bytes(content)
    assert main(["tv", "check", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aulacast: error: ") and "input.ts" in err[0]


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tv", "check", str(tmp_path / "absent.ts")]) == 2
    assert "absent.ts: no such file" in capsys.readouterr().err


def test_real_process_exit_status(cbr_ts: Path, tmp_path: Path) -> None:
    data = bytearray(cbr_ts.read_bytes())
    data[188 * 40] = 0x00  # one damaged sync byte
    bad = tmp_path / "bad.ts"
    bad.write_bytes(bytes(data))
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "tv", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and "Sync_byte_error" in run.stdout
