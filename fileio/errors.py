"""The one error of a file that is wrong at one place."""

from __future__ import annotations


class FileFormatError(ValueError):
    """A file is wrong at one place: ``str()`` is ``FILE:LINE: KEY: message``.

    ``file``, ``line`` (1-based, or None when unknown) and ``key`` (a path such as
    ``periods[1].end``, or None for the whole file) let a CLI or HTTP layer point at
    the exact spot. Packages subclass it so their callers catch their own error
    (``CalendarError``, ``ProfileError``...); the constructor stays this one.
    """

    def __init__(self, message: str, *, file: str = "<input>", line: int | None = None, key: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
