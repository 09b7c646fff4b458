"""Files and folders written whole or not at all: a temporary name beside the target, then a rename.

    write_text_atomic(path, text)               # small files: day files, XMLTV, iCalendar, YAML
    with replacing(output, keep_suffix=True) as temp:
        run_ffmpeg(..., temp)                   # big outputs written by another program
    replace_dir(built_folder, target_folder)    # a whole folder (HLS, a case package)

A reader of the target sees the old file or the new one, never a half-written
one; a failure (an exception, Ctrl-C) removes the temporary and leaves the old
target as it was. The temporary is beside the target, on the same file
system, so ``os.replace`` is one atomic rename.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_beside(path: Path, kind: str = "part", *, keep_suffix: bool = False) -> Path:
    """A fresh hidden name beside ``path``: ``.day.json.1a2b3c4d.part``.

    ``keep_suffix`` ends it with the target's suffix instead
    (``.lecture.part-1a2b3c4d.ts``), for programs such as ffmpeg that choose
    the format by the file name.
    """
    token = uuid.uuid4().hex[:8]
    if keep_suffix:
        return path.with_name(f".{path.stem}.{kind}-{token}{path.suffix}")
    return path.with_name(f".{path.name}.{token}.{kind}")


@contextmanager
def replacing(path: str | os.PathLike[str], kind: str = "part", *, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary path to write; it replaces ``path`` when the block ends normally and is removed otherwise."""
    target = Path(path)
    temp = temp_beside(target, kind, keep_suffix=keep_suffix)
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` (its folder made if needed), flushed to disk before the rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target) as temp:
        with temp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, as ``write_bytes_atomic``."""
    write_bytes_atomic(path, text.encode("utf-8"))


def replace_dir(built: Path, target: Path) -> None:
    """Put the folder ``built`` where ``target`` is: an old ``target`` is moved aside first, then removed.

    Both are renames on one file system, so ``target`` is at every moment the
    old folder, the new one, or (between the two renames) absent; never a mix.
    """
    old = None
    if target.exists():
        old = temp_beside(target, "old")
        os.replace(target, old)
    os.replace(built, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
