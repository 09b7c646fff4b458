"""Case technology: an offline course package that plays from a disc or USB stick without a server.

    report = export_case(
        "Linear Algebra, autumn 2026",
        videos=[CaseVideo(Path("l01.mkv"), "Lecture 1: vectors")],
        materials=[Path("syllabus.pdf")],
        ics=calendar_bytes,
        output=Path("algebra.zip"),            # or a directory
    )

The package holds the lecture videos re-encoded to a profile every browser and
player opens (H.264 Main + AAC-LC in MP4 with the index up front, so playback
starts at once from slow media), the materials as given, the student's
schedule as ``schedule.ics``, a static ``index.html`` with plain ``<video>``
tags and relative links (it works from ``file://``: no script, no server), and
``manifest.json`` listing every file with its size and SHA-256 so a copy can
be checked. It is built in a temporary directory beside the output and moved
into place only when complete.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from fileio import replace_dir, replacing
from media.errors import MediaError
from media.transcode.ffmpeg import FFmpeg, FFmpegCancelled, Progress, ProgressCallback
from media.transcode.probe import probe

MANIFEST = "manifest.json"
INDEX = "index.html"
SCHEDULE = "schedule.ics"
VIDEO_DIR = "videos"
MATERIAL_DIR = "materials"
GENERATOR = "aulacast case export"

# Portable: H.264 Main@3.1 plays in every browser and on old set-top boxes; at most 1280x720.
MAX_WIDTH, MAX_HEIGHT = 1280, 720
PORTABLE_VIDEO = ["-c:v", "libx264", "-profile:v", "main", "-level:v", "3.1", "-pix_fmt", "yuv420p",
                  "-crf", "23", "-maxrate", "2500k", "-bufsize", "5000k"]
PORTABLE_AUDIO = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


class CaseError(MediaError):
    """A case package that cannot be built as asked."""


@dataclass(frozen=True)
class CaseVideo:
    """One lecture video and the title students see."""

    path: Path
    title: str


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative, with forward slashes
    kind: str  # "video", "material", "schedule", "index"
    bytes: int
    sha256: str
    title: str | None = None


@dataclass(frozen=True)
class CaseReport:
    """What was written: the package path (directory or .zip) and its manifest."""

    output: Path
    title: str
    entries: tuple[ManifestEntry, ...] = field(default_factory=tuple)

    @property
    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries)


def export_case(
    title: str,
    *,
    videos: Sequence[CaseVideo],
    materials: Sequence[Path] = (),
    ics: bytes | None = None,
    output: Path,
    ffmpeg: FFmpeg | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    preset: str = "veryfast",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CaseReport:
    """Build the package at ``output`` (``*.zip`` gives a zip file, anything else a directory).

    Every input is checked before anything is encoded; on any failure or
    interruption nothing is left at ``output`` or beside it.
    """
    output = Path(output)
    title = title.strip()
    if not title:
        raise CaseError("the package needs a title")
    if not videos and not materials:
        raise CaseError("nothing to export: give at least one video or material")
    as_zip = output.suffix.lower() == ".zip"
    if not output.parent.is_dir():
        raise CaseError(f"{output.parent} does not exist")
    _check_target(output, as_zip)
    for material in materials:
        if not Path(material).is_file():
            raise CaseError(f"material {material} does not exist or is not a file")
    infos = [probe(v.path) for v in videos]  # NotMediaFile names the file
    for video, info in zip(videos, infos, strict=True):
        if not info.has_video:
            raise CaseError(f"{video.path} has no picture; give lecture videos as --video, other files as --material")
    if ics is not None and not ics.lstrip().startswith(b"BEGIN:VCALENDAR"):
        raise CaseError("the schedule is not an iCalendar file (it does not start with BEGIN:VCALENDAR)")

    ff = (ffmpeg or FFmpeg.locate()) if videos else None
    token = uuid.uuid4().hex[:8]
    build = output.with_name(f".{output.stem}.case-{token}")
    build.mkdir()
    try:
        entries: list[ManifestEntry] = []
        if videos:
            (build / VIDEO_DIR).mkdir()
        for number, (video, info) in enumerate(zip(videos, infos, strict=True), start=1):
            rel = f"{VIDEO_DIR}/lecture-{number:02d}.mp4"
            stage = f"video {number}/{len(videos)}"
            assert ff is not None
            ff.run(
                ["-i", str(video.path), "-map", "0:v:0", "-map", "0:a:0?", "-vf", _portable_scale(),
                 *PORTABLE_VIDEO, "-preset", preset, *PORTABLE_AUDIO, "-map_metadata", "-1",
                 "-metadata", f"title={video.title}", "-movflags", "+faststart"],
                output=build / rel, subject=video.path, duration=info.duration, cancel=cancel,
                progress=(lambda p, s=stage: progress(replace(p, stage=s))) if progress else None,
            )
            entries.append(_entry(build, rel, "video", video.title))
        if materials:
            (build / MATERIAL_DIR).mkdir()
        used: set[str] = set()
        for material in materials:
            rel = f"{MATERIAL_DIR}/{_unique(Path(material).name, used)}"
            shutil.copyfile(material, build / rel)
            entries.append(_entry(build, rel, "material", Path(material).name))
            _check_cancel(cancel)
        if ics is not None:
            (build / SCHEDULE).write_bytes(ics)
            entries.append(_entry(build, SCHEDULE, "schedule", "Schedule"))
        (build / INDEX).write_text(render_index(title, entries), encoding="utf-8")
        entries.append(_entry(build, INDEX, "index", title))
        manifest = {
            "title": title,
            "generator": GENERATOR,
            "created": now().isoformat(timespec="seconds"),
            "files": [{k: v for k, v in vars(e).items() if v is not None} for e in entries],
        }
        (build / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if progress is not None:
            progress(Progress(0.0, None, stage="packing"))
        if as_zip:
            _zip_into_place(build, output)
        else:
            replace_dir(build, output)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return CaseReport(output, title, tuple(entries))


def render_index(title: str, entries: Sequence[ManifestEntry]) -> str:
    """The static page: one ``<video>`` per lecture, links to materials and the schedule, no script."""
    e = html.escape
    videos = [x for x in entries if x.kind == "video"]
    materials = [x for x in entries if x.kind == "material"]
    schedule = next((x for x in entries if x.kind == "schedule"), None)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.4}"
        "video{width:100%;max-width:960px;background:#000}section{margin-bottom:2rem}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
    ]
    if videos:
        parts.append("<h2>Lectures</h2>")
        for number, video in enumerate(videos, start=1):
            href = e(video.path, quote=True)
            parts += [
                f'<section id="lecture-{number:02d}">',
                f"<h3>{e(video.title or video.path)}</h3>",
                f'<video controls preload="metadata" src="{href}"></video>',
                f'<p><a href="{href}" download>Download</a> ({video.bytes / 1e6:.1f} MB)</p>',
                "</section>",
            ]
    if materials:
        parts.append("<h2>Materials</h2>")
        parts.append("<ul>")
        for material in materials:
            parts.append(f'<li><a href="{e(_href(material.path), quote=True)}">{e(material.title or material.path)}</a>'
                         f" ({_size(material.bytes)})</li>")
        parts.append("</ul>")
    if schedule is not None:
        parts.append("<h2>Schedule</h2>")
        parts.append(f'<p><a href="{e(schedule.path, quote=True)}">Your schedule</a> '
                     "(open it with your calendar application)</p>")
    parts.append(f'<p><small>Files and their SHA-256 sums are listed in <a href="{MANIFEST}">{MANIFEST}</a>.'
                 "</small></p>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def verify_case(root: Path) -> list[str]:
    """Problems found checking an unpacked package against its manifest (empty when it is intact)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{root / MANIFEST}: cannot read ({exc})"]
    problems = []
    for item in manifest.get("files", []):
        path = root / item["path"]
        if not path.is_file():
            problems.append(f"{item['path']}: missing")
        elif _sha256(path) != item["sha256"]:
            problems.append(f"{item['path']}: SHA-256 differs")
    return problems


def _portable_scale() -> str:
    # Fit in 1280x720 keeping the shape; never upscale; square pixels, even sizes for 4:2:0.
    return (f"scale='trunc(iw*sar/2)*2':ih,setsar=1,"
            f"scale='min({MAX_WIDTH},iw)':'min({MAX_HEIGHT},ih)':force_original_aspect_ratio=decrease:"
            f"force_divisible_by=2")


def _href(rel: str) -> str:
    from urllib.parse import quote

    return quote(rel)


def _size(n: int) -> str:
    if n >= 100_000:
        return f"{n / 1e6:.1f} MB"
    return f"{round(n / 1000)} kB" if n >= 1000 else f"{n} bytes"


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 2
    while candidate.lower() in used or candidate in (MANIFEST, INDEX):
        candidate = f"{stem}-{n}{suffix}"
        n += 1
    used.add(candidate.lower())
    return candidate


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(root: Path, rel: str, kind: str, title: str | None) -> ManifestEntry:
    path = root / rel
    return ManifestEntry(rel, kind, path.stat().st_size, _sha256(path), title)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise FFmpegCancelled("case export stopped on request, nothing written")


def _check_target(output: Path, as_zip: bool) -> None:
    """Refuse to replace anything but an earlier case package, so ``-o ~`` cannot wipe a home directory."""
    if not output.exists():
        return
    if as_zip:
        if output.is_dir():
            raise CaseError(f"{output} is a directory")
        return
    if not output.is_dir():
        raise CaseError(f"{output} exists and is not a directory")
    if any(output.iterdir()) and not _is_case_package(output):
        raise CaseError(f"{output} exists and is not an earlier case package; choose a new directory")


def _is_case_package(directory: Path) -> bool:
    try:
        return json.loads((directory / MANIFEST).read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _zip_into_place(build: Path, output: Path) -> None:
    """Zip ``build`` under one top folder named after the zip; videos stored, text deflated."""
    top = output.stem
    with replacing(output) as temp, zipfile.ZipFile(temp, "w") as archive:
        for path in sorted(p for p in build.rglob("*") if p.is_file()):
            rel = path.relative_to(build).as_posix()
            method = zipfile.ZIP_STORED if path.suffix.lower() in (".mp4", ".zip", ".jpg", ".png") \
                else zipfile.ZIP_DEFLATED
            archive.write(path, f"{top}/{rel}", compress_type=method)
