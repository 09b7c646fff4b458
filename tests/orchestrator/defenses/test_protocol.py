"""The signed protocol: JSON, HTML and PDF from a real sitting; verified offline; forged and altered ones caught."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from orchestrator.defenses.protocol import verify_bytes
from orchestrator.defenses.signing import Invalid, canonical, load_public, sign
from tests.helpers.archive import add_asset
from tests.helpers.defenses import DefenseClient, run_sitting, serve_defense
from tests.helpers.registrar import cli


@pytest.fixture
async def signed(tmp_path: Path) -> Any:
    async with serve_defense(tmp_path, public_url="https://portal.example.edu") as dc:
        sid, turns = await run_sitting(dc)
        room = (await dc.ok("GET", f"/api/sittings/{sid}", "chr"))["room"]
        add_asset(dc.db, kind="defense", title="Sitting recording", session_id=room)
        yield dc, sid, turns


async def _get(dc: DefenseClient, path: str, who: str | None) -> Any:
    return await dc.call("GET", path, who)


async def test_protocol_json_html_pdf_verify_with_the_published_key(signed: Any, tmp_path: Path) -> None:
    dc, sid, _turns = signed
    key = await dc.ok("GET", "/.well-known/aulacast/protocol-key")
    assert key["alg"] == "Ed25519" and len(base64.b64decode(key["public_key"])) == 32
    pub = load_public(json.dumps(key))

    env = await dc.ok("GET", f"/api/sittings/{sid}/protocol", "chr")
    doc = env["protocol"]
    assert doc["format"] == "aulacast-protocol/1" and env["signature"]["key_id"] == key["key_id"]
    st1, st2, st3 = doc["turns"]
    assert (st1["grade"]["letter"], st1["grade"]["points"]) == ("B+", 85)
    assert sorted(p["points"] for p in st1["points"]) == [78, 85, 92]
    assert st1["questions"][0]["text"] == "Why this design, st1?"
    assert st2["grade"]["letter"] == "D+" and st2["grade"]["changes"][0]["reason"] == "recount of the answers"
    assert st3["status"] == "absent" and st3["grade"] is None
    assert re.fullmatch(r"https://portal\.example\.edu/archive/\d+#t=[\d.]+", st1["recording"]["url"])
    assert "2 student(s) graded, 2 passed" in doc["decision"]
    # the signature is over the canonical JSON: anyone can rebuild the bytes
    pub.verify(base64.b64decode(env["signature"]["value"]), canonical({"protocol": doc}))

    for fmt, ctype in (("html", "text/html"), ("pdf", "application/pdf")):
        r = await _get(dc, f"/api/sittings/{sid}/protocol?format={fmt}", "tut")  # the tutor reads it too
        assert r.status == 200 and r.content_type == ctype
        data = await r.read()
        got = verify_bytes(data, f"p.{fmt}", [pub])
        assert got["sitting"]["id"] == sid
        path = tmp_path / f"protocol.{fmt}"
        path.write_bytes(data)
        (tmp_path / "key.json").write_text(json.dumps(key))
        res = cli(tmp_path, "protocol", "verify", str(path), "--key", str(tmp_path / "key.json"))
        assert res.returncode == 0 and res.stdout.startswith("VALID"), res.stdout + res.stderr
    pdf = PdfReader(tmp_path / "protocol.pdf")
    text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "1. ST1: B+, 85 points, grade point 3.33" in text
    assert any("/URI" in str(a.get_object()) for p in pdf.pages for a in (p.get("/Annots") or []))  # recording links


async def test_forged_and_altered_protocols_are_caught(signed: Any, tmp_path: Path) -> None:
    dc, sid, _turns = signed
    pub = load_public(json.dumps(await dc.ok("GET", "/.well-known/aulacast/protocol-key")))
    env = await dc.ok("GET", f"/api/sittings/{sid}/protocol", "chr")

    altered = json.loads(json.dumps(env))
    altered["protocol"]["turns"][1]["grade"]["letter"] = "A"
    with pytest.raises(Invalid, match="altered after signing"):
        verify_bytes(json.dumps(altered).encode(), "altered.json", [pub])

    forged = sign("protocol", altered["protocol"], Ed25519PrivateKey.generate())  # re-signed by someone else
    with pytest.raises(Invalid, match="not the institution's"):
        verify_bytes(json.dumps(forged).encode(), "forged.json", [pub])
    with pytest.raises(Invalid, match="not a signed protocol"):
        verify_bytes(json.dumps(env["protocol"]).encode(), "unsigned.json", [pub])

    # the PDF's visible text edited (the grade line), its attached JSON left as signed
    pdf = await (await _get(dc, f"/api/sittings/{sid}/protocol?format=pdf", "chr")).read()
    assert b"ST1: B+, 85 points" in pdf  # page streams are uncompressed, so an edit is one replace
    edited = pdf.replace(b"ST1: B+, 85 points", b"ST1: A , 95 points")
    with pytest.raises(Invalid, match="visible text differs"):
        verify_bytes(edited, "edited.pdf", [pub])
    # the HTML's grade line edited
    page = await (await _get(dc, f"/api/sittings/{sid}/protocol?format=html", "chr")).read()
    with pytest.raises(Invalid, match="visible text differs"):
        verify_bytes(page.replace(b"ST2: D+, 55 points", b"ST2: B+, 85 points"), "edited.html", [pub])
    with pytest.raises(Invalid, match="neither"):
        verify_bytes(b"\x00\x01garbage", "x.bin", [pub])

    # the CLI says INVALID with the reason and exits 1, no traceback
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    (tmp_path / "key.json").write_text(json.dumps(await dc.ok("GET", "/.well-known/aulacast/protocol-key")))
    res = cli(tmp_path, "protocol", "verify", str(tmp_path / "forged.json"), "--key", str(tmp_path / "key.json"))
    assert res.returncode == 1 and res.stdout.startswith("INVALID") and "Traceback" not in res.stderr


async def test_who_may_read_the_protocol(signed: Any) -> None:
    dc, sid, _turns = signed
    for who, status in (("chr", 200), ("mem2", 200), ("sec", 200), ("reg", 200), ("tut", 200),
                        ("st1", 403), ("oth", 403), ("out", 403), (None, 401)):
        r = await _get(dc, f"/api/sittings/{sid}/protocol", who)
        assert r.status == status, (who, await r.text())
    r = await _get(dc, f"/api/sittings/{sid}/protocol?format=docx", "chr")
    assert r.status == 422


async def test_recording_links_count_from_the_recordings_start_not_the_sittings(signed: Any) -> None:
    """The room was recorded from before the sitting opened: a turn's link is its place in the video."""
    from datetime import datetime, timedelta

    from media.recording.folder import Manifest, RecordingFolder

    dc, sid, turns = signed
    body = await dc.ok("GET", f"/api/sittings/{sid}", "chr")
    room = body["room"]
    started = {t["id"]: datetime.fromisoformat(t["started_at"]) for t in body["queue"] if t.get("started_at")}
    zero = started[turns["st1"]] - timedelta(seconds=600)  # the recording began ten minutes before turn 1
    recordings = dc.settings.effective_media_root / "recordings"
    RecordingFolder.create(recordings, str(room), "r1").write_manifest(Manifest.start(str(room), "r1", zero.timestamp()))
    doc = (await dc.ok("GET", f"/api/sittings/{sid}/protocol", "chr"))["protocol"]
    st1, st2 = doc["turns"][0], doc["turns"][1]
    assert st1["recording"]["offset_seconds"] == 600.0 and st1["recording"]["url"].endswith("#t=600")
    gap = (started[turns["st2"]] - started[turns["st1"]]).total_seconds()
    assert st2["recording"]["offset_seconds"] == round(600 + gap, 1)
