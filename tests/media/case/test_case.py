"""Case packages: portable videos, materials, schedule, a static page that Chromium plays from file://, a manifest."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import threading
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from media.case.export import CaseError, CaseVideo, export_case, render_index, verify_case
from media.transcode.ffmpeg import FFmpegCancelled, Progress
from media.transcode.probe import NotMediaFile, probe
from tests.helpers.media import make_clip

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//aulacast//test//EN\r\nEND:VCALENDAR\r\n"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("case-src")
    syllabus = d / "Силлабус 2026.pdf"
    syllabus.write_bytes(b"%PDF-1.4 not really a pdf\n" * 40)
    (d / "sub").mkdir()
    other = d / "sub" / "Силлабус 2026.pdf"  # same name, other file: must not overwrite the first
    other.write_bytes(b"second file")
    return {
        "l1": make_clip(d / "l1.mp4", seconds=2, size="320x240"),
        "l2": make_clip(d / "l2.mkv", seconds=1.5, size="320x240", audio=None),
        "syllabus": syllabus,
        "other": other,
    }


def top_level_boxes(path: Path) -> list[str]:
    names = []
    with path.open("rb") as f:
        while header := f.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            names.append(kind.decode("latin-1"))
            f.seek(size - 8, 1)
    return names


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.videos: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "video" and a.get("src"):
            self.videos.append(a["src"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")


def test_directory_package(tmp_path: Path, sources: dict[str, Path]) -> None:
    out = tmp_path / "algebra"
    report = export_case(
        "Линейная алгебра <осень>",
        videos=[CaseVideo(sources["l1"], "Лекция 1: векторы & матрицы"), CaseVideo(sources["l2"], "Lecture 2")],
        materials=[sources["syllabus"], sources["other"]],
        ics=ICS,
        output=out,
    )
    assert report.output == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["algebra"], "temp files left beside the output"
    assert verify_case(out) == []

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["title"] == "Линейная алгебра <осень>"
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk
    for rel, item in listed.items():
        data = (out / rel).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest() and item["bytes"] == len(data)

    assert (out / "schedule.ics").read_bytes() == ICS
    materials = sorted((out / "materials").iterdir())
    assert [p.name for p in materials] == ["Силлабус 2026-2.pdf", "Силлабус 2026.pdf"]
    assert (out / "materials" / "Силлабус 2026.pdf").read_bytes() == sources["syllabus"].read_bytes()
    assert (out / "materials" / "Силлабус 2026-2.pdf").read_bytes() == sources["other"].read_bytes()

    for rel in ("videos/lecture-01.mp4", "videos/lecture-02.mp4"):
        info = probe(out / rel)
        assert info.video is not None and info.video.codec == "h264" and info.video.profile == "Main"
        boxes = top_level_boxes(out / rel)
        assert boxes.index("moov") < boxes.index("mdat"), "index must come first (faststart)"
    assert probe(out / "videos/lecture-01.mp4").audio.codec == "aac"  # type: ignore[union-attr]

    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Лекция 1: векторы &amp; матрицы" in page and "&lt;осень&gt;" in page
    assert "<script" not in page
    links = Links()
    links.feed(page)
    assert links.videos == ["videos/lecture-01.mp4", "videos/lecture-02.mp4"]
    for href in links.videos + links.links:
        assert not href.startswith(("/", "http")), href
        assert (out / unquote(href)).is_file(), href


def test_zip_package_unpacks_to_one_folder_and_verifies(tmp_path: Path, sources: dict[str, Path]) -> None:
    out = tmp_path / "course.zip"
    export_case("Course", videos=[CaseVideo(sources["l1"], "One")], materials=[sources["syllabus"]], output=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course.zip"]
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert all(n.startswith("course/") for n in names)
        assert archive.getinfo("course/videos/lecture-01.mp4").compress_type == zipfile.ZIP_STORED
        archive.extractall(tmp_path / "unpacked")
    assert verify_case(tmp_path / "unpacked" / "course") == []


def test_large_source_is_fitted_into_720p(tmp_path: Path) -> None:
    big = make_clip(tmp_path / "big.mp4", seconds=0.5, size="1920x1080", audio=None)
    export_case("Big", videos=[CaseVideo(big, "Big")], output=tmp_path / "out")
    assert probe(tmp_path / "out" / "videos" / "lecture-01.mp4").size == (1280, 720)


@pytest.mark.slow
def test_chromium_plays_the_page_from_disk(tmp_path: Path, sources: dict[str, Path]) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium not installed")
    from playwright.async_api import async_playwright

    out = tmp_path / "disc"
    export_case("Disc", videos=[CaseVideo(sources["l1"], "One")], output=out)

    async def play() -> dict:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )
            try:
                page = await browser.new_page()
                await page.goto((out / "index.html").as_uri())  # file://, no server anywhere
                return await page.evaluate(
                    """async () => {
                        const v = document.querySelector('video');
                        v.muted = true;
                        await v.play();
                        // Wait until playback has really advanced (a loaded host may take seconds
                        // to decode the first frames); give up after 20 s.
                        for (let i = 0; i < 200 && !(v.currentTime > 0 &&
                             v.getVideoPlaybackQuality().totalVideoFrames > 0); i++) {
                            await new Promise(r => setTimeout(r, 100));
                        }
                        return {duration: v.duration, time: v.currentTime, width: v.videoWidth,
                                frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.code};
                    }"""
                )
            finally:
                await browser.close()

    state = asyncio.run(play())
    assert state["error"] is None
    assert state["duration"] == pytest.approx(2.0, abs=0.2) and state["width"] == 320
    assert state["time"] > 0 and state["frames"] > 0


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path: Path, sources: dict[str, Path]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n" * 20)
    out = tmp_path / "out"
    with pytest.raises(NotMediaFile, match="notes.txt is not a media file"):
        export_case("C", videos=[CaseVideo(sources["l1"], "ok"), CaseVideo(notes, "bad")], output=out)
    with pytest.raises(CaseError, match="material .*missing.pdf does not exist"):
        export_case("C", videos=[], materials=[tmp_path / "missing.pdf"], output=out)
    with pytest.raises(CaseError, match="not an iCalendar file"):
        export_case("C", videos=[CaseVideo(sources["l1"], "ok")], ics=b"hello", output=out)
    with pytest.raises(CaseError, match="nothing to export"):
        export_case("C", videos=[], output=out)
    with pytest.raises(CaseError, match="needs a title"):
        export_case("  ", videos=[CaseVideo(sources["l1"], "ok")], output=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_never_replaces_a_directory_that_is_not_a_package(tmp_path: Path, sources: dict[str, Path]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.odt").write_text("precious")
    with pytest.raises(CaseError, match="not an earlier case package"):
        export_case("C", videos=[], materials=[sources["syllabus"]], output=home)
    assert (home / "thesis.odt").read_text() == "precious"
    # an earlier package is replaced whole
    pkg = tmp_path / "pkg"
    export_case("First", videos=[], materials=[sources["syllabus"]], output=pkg)
    export_case("Second", videos=[], materials=[sources["other"]], output=pkg)
    assert json.loads((pkg / "manifest.json").read_text())["title"] == "Second"
    assert [p.read_bytes() for p in (pkg / "materials").iterdir()] == [b"second file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "pkg"]


def test_interrupted_export_leaves_nothing(tmp_path: Path) -> None:
    long = make_clip(tmp_path / "long.mp4", seconds=8, size="160x120")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.out_time > 0.5:
            cancel.set()

    for target in (out_dir / "pkg", out_dir / "pkg.zip"):
        cancel.clear()
        with pytest.raises(FFmpegCancelled):
            export_case("Long", videos=[CaseVideo(long, "L")], output=target, progress=on_progress, cancel=cancel)
    assert list(out_dir.iterdir()) == []


def test_index_page_without_videos_lists_materials() -> None:
    from media.case.export import ManifestEntry

    page = render_index("T", [ManifestEntry("materials/a b.pdf", "material", 12, "0" * 64, "a b.pdf")])
    assert '<a href="materials/a%20b.pdf">a b.pdf</a> (12 bytes)' in page and "<video" not in page



def test_cli_export_and_error(tmp_path: Path, sources: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import main

    ics = tmp_path / "me.ics"
    ics.write_bytes(ICS)
    out = tmp_path / "pack.zip"
    rc = main(["case", "export", "--title", "Algebra", "--video", f"{sources['l1']}::Lecture 1: vectors",
               "--video", str(sources["l2"]), "--material", str(sources["syllabus"]), "--ics", str(ics), "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "2 video(s), 1 material(s), schedule" in captured.out
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("pack/manifest.json"))
    titles = [f["title"] for f in manifest["files"] if f["kind"] == "video"]
    assert titles == ["Lecture 1: vectors", "l2"]

    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n" * 20)
    rc = main(["case", "export", "--title", "A", "--video", str(notes), "-o", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"aulacast: error: {notes} is not a media file") and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
