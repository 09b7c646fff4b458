"""Errors a user of the media tools can cause, each with a message written for that user.

Command modules in ``orchestrator/commands`` turn any ``MediaError`` into a
``UserError(str(exc))`` at the edge; other ``media`` modules subclass it where a
caller needs to tell one failure from another.
"""

from __future__ import annotations


class MediaError(Exception):
    """A media input or request that cannot be handled, said plainly (file, offset, table)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
