"""Errors a user can cause, each carrying a message written for that user.

The CLI prints ``str(exc)`` as one line and exits with ``exit_code``; the HTTP
layer turns them into a JSON body ``{"error": {"code": ..., "message": ...}}``
with ``status``. Other packages raise their own errors; the command modules
convert them to these at the edge.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the caller asked for cannot be done, said plainly."""

    code = "bad_request"
    status = 400
    exit_code = 2

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotFound(UserError):
    code = "not_found"
    status = 404


class Unauthenticated(UserError):
    code = "unauthenticated"
    status = 401


class Forbidden(UserError):
    code = "forbidden"
    status = 403


class Conflict(UserError):
    code = "conflict"
    status = 409


class ConfigError(UserError):
    code = "config"
    exit_code = 3


class ServiceUnavailable(UserError):
    """A shared service (Redis, the database) is briefly unreachable: retry, nothing was changed."""

    code = "unavailable"
    status = 503
