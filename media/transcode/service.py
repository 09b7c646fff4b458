"""A DVB service's identity: what a receiver lists (SDT name, provider) and the ids that find it.

    service = Service("Aulacast 1", "Aulacast", service_id=103, original_network_id=0xFF10, transport_stream_id=1)
    profile = load_profile("hd-720p25").for_service(service)    # packaging and playout carry it in SDT/EIT

The identity belongs to the channel (its channel file), not to the encoding
profile: two channels may share a profile, and a channel that changes profile
keeps its name and numbers on every receiver. ``DEFAULT_SERVICE`` is what a
clip packaged without a channel carries (``aulacast tv package`` without
``--channel``); playout always packages with the channel's own service.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.errors import MediaError

MAX_NAME_BYTES = 100
"""The service descriptor's names, UTF-8: receivers show about 20-30 characters; 100 bytes is our limit."""


class ServiceError(MediaError):
    """A service identity no DVB table can carry (id out of range, name too long or empty)."""


@dataclass(frozen=True)
class Service:
    """SDT service name and provider, and the DVB triplet (original network, transport stream, service)."""

    name: str
    provider: str
    service_id: int
    original_network_id: int
    transport_stream_id: int

    def __post_init__(self) -> None:
        for key, value in (("service_id", self.service_id), ("original_network_id", self.original_network_id),
                           ("transport_stream_id", self.transport_stream_id)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
                raise ServiceError(f"service {key} must be an integer 1..65535, not {value!r}")
        for key, text in (("name", self.name), ("provider", self.provider)):
            if not isinstance(text, str) or not text.strip():
                raise ServiceError(f"service {key} must be a non-empty text")
            if len(text.encode("utf-8")) > MAX_NAME_BYTES:
                raise ServiceError(f"service {key} {text!r} is longer than {MAX_NAME_BYTES} bytes (UTF-8)")
            if any(ord(c) < 0x20 for c in text):
                raise ServiceError(f"service {key} {text!r} holds control characters")

    @property
    def key(self) -> str:
        """A stable text naming everything a packaged clip carries of the service (for cache keys)."""
        return (f"{self.original_network_id}.{self.transport_stream_id}.{self.service_id}|"
                f"{self.provider}|{self.name}")


DEFAULT_SERVICE = Service("Aulacast", "Aulacast", service_id=1, original_network_id=0xFF01, transport_stream_id=1)
"""What a clip packaged without a channel carries; 0xFF01 is in the temporary private range (TS 101 162)."""
