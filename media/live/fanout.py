"""Which published tracks each subscriber receives: the room's fan-out policy, as a pure function.

Usage::

    wanted = select_tracks(RoomKind.DEFENSE, viewer, publications, active_speaker="p7")
    # -> set of track ids (publisher_id:source) the SFU forwards to ``viewer``

The policy reads capability flags, never role names: signaling maps roles to
grants in one table, and the grant carries ``sees_all_cameras`` and
``featured`` alongside the publish/subscribe permissions.

* consultation: everyone receives everything but their own tracks.
* defense: every microphone is heard (questions come from anywhere) and every
  screen share is seen; a camera is seen when its publisher is ``featured``
  (the presenter) or is the room's active speaker (the committee member who is
  talking); a subscriber with ``sees_all_cameras`` (committee, secretary)
  receives every camera. The audience gets three or four video streams, not N.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class RoomKind(enum.StrEnum):
    CONSULTATION = "consultation"
    DEFENSE = "defense"


class TrackSource(enum.StrEnum):
    CAMERA = "camera"
    MICROPHONE = "microphone"
    SCREEN = "screen"
    SCREEN_AUDIO = "screen_audio"


@dataclass(frozen=True)
class Viewer:
    """What the policy needs to know about a subscriber."""

    peer_id: str
    can_subscribe: bool = True
    sees_all_cameras: bool = True


@dataclass(frozen=True)
class Publication:
    """One published track as the policy sees it."""

    track_id: str
    publisher_id: str
    source: TrackSource
    featured: bool = False


def select_tracks(
    kind: RoomKind,
    viewer: Viewer,
    publications: Iterable[Publication],
    active_speaker: str | None = None,
) -> set[str]:
    """Return the ids of the tracks ``viewer`` should receive."""
    if not viewer.can_subscribe:
        return set()
    chosen: set[str] = set()
    for pub in publications:
        if pub.publisher_id == viewer.peer_id:
            continue
        if kind is RoomKind.CONSULTATION or _defense_forwards(viewer, pub, active_speaker):
            chosen.add(pub.track_id)
    return chosen


def _defense_forwards(viewer: Viewer, pub: Publication, active_speaker: str | None) -> bool:
    if pub.source is not TrackSource.CAMERA:
        return True
    return viewer.sees_all_cameras or pub.featured or pub.publisher_id == active_speaker
