"""The turn's written work (PDF, §31) beside the video: the committee, the tutor, staff and the student
read it inline; another committee, the public audience and the signed-out are refused in words."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfgen import canvas

from orchestrator.archive.catalogue import Archive
from tests.helpers.defenses import serve_defense


def _pdf(path: Path) -> Path:
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "Course work of ST1")
    c.showPage()
    c.save()
    return path


async def test_the_committee_reads_the_written_work_and_the_audience_does_not(tmp_path: Path) -> None:
    async with serve_defense(tmp_path) as dc:
        sid = await dc.sitting_id()
        sitting = await dc.ok("GET", f"/api/sittings/{sid}", "chr")
        turns = {t["student"]["username"]: t["id"] for t in sitting["queue"]}
        # st1 hands in for the defense slot of theirs (what the tus hand-in archives, without the upload)
        with dc.db.session() as s:
            from sqlalchemy import select

            from orchestrator.store.models import SessionRecord

            slot = s.scalar(select(SessionRecord.id).where(SessionRecord.key.like("%/defense/st1/%")))
        Archive(dc.settings, dc.db).add_student_work(slot, dc.ids["st1"], _pdf(tmp_path / "w.pdf"), kind="written_work",
                                                     source_key="test:st1", filename="w.pdf", pages=1)  # fmt: skip
        url = f"/api/sittings/{sid}/turns/{turns['st1']}/written-work"
        for who in ("chr", "mem1", "mem2", "tut", "reg", "st1"):
            r = await dc.call("GET", url, who)
            assert r.status == 200, (who, await r.text())
            assert r.content_type == "application/pdf" and r.headers["Content-Disposition"].startswith("inline")
            assert (await r.read()).startswith(b"%PDF")
        for who in ("out", "oth"):  # the public audience; a member of another committee
            r = await dc.call("GET", url, who)
            assert r.status == 403, (who, await r.text())
            assert "Traceback" not in (await r.json())["error"]["message"]
        r = await dc.call("GET", url, "st2")  # another student of the queue: the archive's policy refuses
        assert r.status == 403 and "written work" in (await r.json())["error"]["message"]
        assert (await dc.call("GET", url, None)).status == 401
        r = await dc.call("GET", f"/api/sittings/{sid}/turns/{turns['st2']}/written-work", "chr")
        assert r.status == 404 and (await r.json())["error"]["code"] == "no_written_work"
        r = await dc.call("GET", f"/api/sittings/{sid}/turns/999999/written-work", "chr")
        assert r.status == 404
