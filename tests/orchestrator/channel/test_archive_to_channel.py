"""From the archive to the channel: an archived lecture of a TV offering becomes an episode on the channel day.

The registrar's CLI loads the demo institution (a TV offering HIST100-EC22-TV); two of its
sessions are stored and the second one's lecture video is archived as the composition job
does (``Archive.ingest_recording``). ``tv series --from-archive`` packages it for the
channel (the test-only tiny profile with the channel file's service) as a ``package``
job of the job queue (in-process: no Redis here), ``tv schedule build
--series`` places it in the channel day and ``tv playout`` airs it: the stream's SDT and
PAT carry the channel's service, and the lecture's packets are the archived stream's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from media.broadcast.analyzer import analyze
from orchestrator.archive.catalogue import Archive
from orchestrator.archive.models import Asset
from orchestrator.config import load_settings
from orchestrator.jobs.models import Job
from orchestrator.store.db import Database
from orchestrator.store.models import Offering, SessionRecord
from orchestrator.webhooks.models import WebhookDelivery
from schedules.tv.day import load_day
from tests.helpers.media import make_clip
from tests.helpers.registrar import cli, ok, one_line_error
from tests.helpers.support import TINY_PROFILE

pytestmark = pytest.mark.slow

SERVICE = {"id": 9, "name": "Aulacast History", "provider": "University", "original_network_id": 0xFF20,
           "transport_stream_id": 3}


def channel_file(folder: Path) -> Path:
    make_clip(folder / "ident.mp4", seconds=2, size="320x200")
    doc = {
        "channel": {"id": "history.aulacast.kz", "name": "History", "tz": "Asia/Almaty", "slots": ["00:00:06"],
                    "service": SERVICE},
        "series": [{"id": "hist", "offering": "HIST100-EC22-TV", "slot": "00:00:06",
                    "title": {"kk": "Тарих", "ru": "История", "en": "History"}, "episodes": []}],
        "fillers": {"idents": [{"source": "ident.mp4", "duration": 2}], "clock": {"min": 1, "max": 30}},
    }
    path = folder / "channel.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_an_archived_tv_lecture_reaches_the_channel_day_with_the_channels_service(institution: Path) -> None:
    tmp = institution
    (tmp / "profiles").mkdir()
    (tmp / "profiles" / "tiny-180p25.toml").write_text(TINY_PROFILE)
    settings = load_settings(tmp / "aulacast.toml")
    db = Database.from_url(settings.effective_database_url)
    with db.session() as s:
        off = s.scalar(select(Offering).where(Offering.code == "HIST100-EC22-TV"))
        assert off is not None and off.technology == "tv"
        ids = []
        for n, day in enumerate((5, 12)):
            start = datetime(2026, 9, day, 5, 0, tzinfo=UTC)
            row = SessionRecord(key=f"test:hist:{n}", offering_id=off.id, kind="consultation", status="closed",
                                title=f"History: lecture {n + 1}", start_at=start, end_at=start + timedelta(hours=1),
                                tutor_id=off.tutor_id, group_id=off.group_id)
            s.add(row)
            s.flush()
            ids.append(row.id)
    video = make_clip(tmp / "lecture.mp4", seconds=5, size="320x240")
    archived = Archive(settings, db).ingest_recording(ids[1], video)
    assert archived.created and archived.kind == "lecture"

    channel = channel_file(tmp)
    with (tmp / "aulacast.toml").open("a") as f:  # asset.packaged goes to the webhook outbox
        f.write('[webhooks]\nurls = ["http://127.0.0.1:9/hooks"]\nsecret = "a-webhook-secret-of-32-characters!!"\n')
    series = tmp / "series.yaml"
    args = ["tv", "series", "-o", str(series), "--from-archive", "--channel", str(channel),
            "--profile", "tiny-180p25", "--profiles-dir", str(tmp / "profiles")]
    res = cli(tmp, *args)
    assert res.returncode == 0, res.stderr
    assert "packaged 1 lecture(s) for history.aulacast.kz (tiny-180p25), 0 already packaged" in res.stderr
    doc = yaml.safe_load(series.read_text(encoding="utf-8"))
    [episode] = doc["series"][0]["episodes"]
    assert doc["series"][0]["offering"] == "HIST100-EC22-TV"
    assert episode["number"] == 2 and episode["date"] == "2026-09-12" and episode["duration"] == pytest.approx(5, abs=0.1)
    packaged = Path(episode["media"])
    with db.session() as s:
        asset = s.get(Asset, archived.asset_id)
        tv = [f for f in asset.files if f.role == "tv"]
        assert len(tv) == 1 and packaged.name == tv[0].sha256 and tv[0].media_type == "video/mp2t"
    sdt = next(t for t in analyze(packaged).tables if t.name.startswith("SDT"))
    assert [(x["service_id"], x["name"]) for x in sdt.content["services"]] == [(9, "Aulacast History")]
    with db.session() as s:  # packaged by a job of the queue, announced once to the webhook outbox
        jobs = [(j.kind, j.status, j.args["asset_id"], j.args["service"]["service_id"]) for j in s.scalars(select(Job))]
        assert jobs == [("package", "done", archived.asset_id, 9)]
        hooks = [(d.topic, json.loads(d.body)["data"]["asset_id"]) for d in s.scalars(select(WebhookDelivery))]
        assert hooks == [("asset.packaged", archived.asset_id)]
    # again: nothing is packaged twice, the same stream is named
    res = cli(tmp, *args)
    assert res.returncode == 0 and "packaged 0 lecture(s) for history.aulacast.kz (tiny-180p25), 1 already" in res.stderr
    assert yaml.safe_load(series.read_text(encoding="utf-8"))["series"][0]["episodes"][0]["media"] == str(packaged)
    with db.session() as s:
        assert len(s.scalars(select(Job)).all()) == 1 and len(s.scalars(select(WebhookDelivery)).all()) == 1

    ok(cli(tmp, "tv", "schedule", "build", "--channel", str(channel), "--series", str(series),
           "--date", "2026-09-12", "--length", "20", "-o", str(tmp / "day.json")))
    day = load_day(tmp / "day.json")
    [lecture] = day.programmes()
    assert lecture.source == str(packaged) and lecture.episode == 2 and lecture.title["ru"] == "История"
    assert day.at(lecture).strftime("%H:%M:%S") == "00:00:06"
    ok(cli(tmp, "tv", "playout", str(tmp / "day.json"), "-o", str(tmp / "day.ts"), "--profile", "tiny-180p25",
           "--profiles-dir", str(tmp / "profiles"), "--cache", str(tmp / "cache")))
    report = analyze(tmp / "day.ts")
    assert report.ok, [f.as_dict() for f in report.errors]
    # the packaged stream went on air as it is: its bytes are in the playout cache, not a second encode of them
    assert packaged.read_bytes() in {p.read_bytes() for p in (tmp / "cache").glob("*.ts")}
    tables = {t.name.split(" 0x")[0]: t for t in report.tables}
    assert [(x["service_id"], x["name"], x["provider"]) for x in tables["SDT actual"].content["services"]] == [
        (9, "Aulacast History", "University")]
    assert tables["SDT actual"].content["original_network_id"] == 0xFF20
    assert tables["SDT actual"].content["transport_stream_id"] == 3
    eit = [t for t in report.tables if t.name.startswith("EIT")]
    assert eit and {(t.table_id_extension, t.content["original_network_id"], t.content["transport_stream_id"])
                    for t in eit} == {(9, 0xFF20, 3)}
    pat = tables["PAT"]
    assert pat.content["transport_stream_id"] == 3


def test_from_archive_needs_the_channel_and_the_profile(institution: Path) -> None:
    msg = one_line_error(cli(institution, "tv", "series", "-o", str(institution / "s.yaml"), "--from-archive"))
    assert "--from-archive needs --channel FILE" in msg
    msg = one_line_error(cli(institution, "tv", "series", "-o", str(institution / "s.yaml"), "--profile", "hd-720p25"))
    assert "go with --from-archive" in msg
