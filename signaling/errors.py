"""Errors the signaling package raises or expects from what the composition root injects."""

from __future__ import annotations


class Unavailable(Exception):
    """A shared service (the room store, a rate limit) is briefly unreachable; the client may retry."""
