"""Short garbage-collector pauses on a node that holds thousands of sockets.

    task = asyncio.create_task(keep_gc_pauses_short())    # orchestrator.rooms starts it with the app

CPython's full (generation 2) collection walks every object the collector tracks. A node with
5,000 sockets holds a great many objects that live as long as their connection, and a full
collection then stopped its event loop for up to 1.1 s (bench/signaling_load.py, 5,000 clients,
gc callbacks timing each collection): every chat message in flight waited, which alone puts
the p99 far above 100 ms. Every ``freeze_every`` seconds this runs a young collection and moves
what is alive into the permanent generation (``gc.freeze``), so the automatic full collections
walk only what is newer; every ``full_every`` seconds it unfreezes, collects everything once
(one long pause) and freezes again, so that cyclic garbage caught in a freeze is reclaimed.
The setting ``signaling.gc_freeze = false`` (``AULACAST_SIGNALING__GC_FREEZE=0``) turns it off (the
benchmark's comparison).

Freezing alone is not enough: CPython starts a full collection when the objects promoted since
the last one exceed a quarter of the long-lived heap, and a frozen heap counts as empty, so full
collections came every few seconds and still took 0.25-0.4 s (python-engineio replaces a waiter
object per connection for every message and ping, so the newest generation is never small). So
while the policy runs, automatic full collections are off (``AUTO_FULL_OFF``): the scheduled one
every ``full_every`` seconds is the only full pass. Young collections keep CPython's default
sizes: larger ones (10,000 allocations) were measured pausing up to 0.37 s, the defaults at most
0.044 s (5,000 clients; chat p99 530 -> 249 ms).
"""

from __future__ import annotations

import asyncio
import gc

FREEZE_SECONDS = 30.0
FULL_SECONDS = 900.0
# (generation 0 allocations, generation 0 passes per generation 1 pass, generation 1 passes per
# full pass): CPython's first two; the third so large that only the scheduled full pass runs.
AUTO_FULL_OFF = (700, 10, 1_000_000_000)


async def keep_gc_pauses_short(freeze_every: float = FREEZE_SECONDS, full_every: float = FULL_SECONDS) -> None:
    """Freeze the long-lived heap periodically until cancelled; unfreezes on the way out."""
    since_full = 0.0
    thresholds = gc.get_threshold()
    gc.set_threshold(*AUTO_FULL_OFF)
    try:
        while True:
            await asyncio.sleep(freeze_every)
            since_full += freeze_every
            if since_full >= full_every:
                since_full = 0.0
                gc.unfreeze()
                gc.collect()
            else:
                gc.collect(1)  # young garbage is not frozen with the living
            gc.freeze()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
