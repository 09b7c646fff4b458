"""A text file read whole, or refused with a message naming it."""

from __future__ import annotations

from pathlib import Path

from fileio.errors import FileFormatError


def read_text(path: str | Path, *, error: type[FileFormatError] = FileFormatError) -> str:
    """The file's UTF-8 text; ``error`` says "no such file", "not UTF-8 text (byte N)" or why not readable."""
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("no such file", file=name) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", file=name) from None
    except IsADirectoryError:
        raise error("is a directory, not a file", file=name) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", file=name) from None
