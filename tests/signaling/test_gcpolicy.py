"""signaling.gcpolicy freezes the living heap, collects in full on schedule, and leaves nothing frozen."""

from __future__ import annotations

import asyncio
import gc

from signaling.gcpolicy import AUTO_FULL_OFF, keep_gc_pauses_short


async def test_freezes_then_unfreezes_on_cancel() -> None:
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    task = asyncio.create_task(keep_gc_pauses_short(freeze_every=0.01, full_every=0.05))
    for _ in range(200):
        if gc.get_freeze_count() > 0:
            break
        await asyncio.sleep(0.01)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == AUTO_FULL_OFF  # only the scheduled pass collects everything
    await asyncio.sleep(0.1)  # at least one full collection (unfreeze, collect, freeze) ran
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
