"""One contract, two room stores: the in-process one and the Redis one answer every question alike.

LiveKit tests its local and Redis stores the same way; what only Redis has (alive marks, the
sweep of dead nodes) is tested in test_multinode.py and test_node_crash.py with real processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from signaling.errors import Unavailable
from signaling.room import LocalRoomStore, Member, RedisRoomStore, RoomMeta, RoomStore


@pytest.fixture(params=["local", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RoomStore]:
    if request.param == "local":
        yield LocalRoomStore()
        return
    client = aioredis.from_url(request.getfixturevalue("private_redis"))
    try:
        yield RedisRoomStore(client)
    finally:
        await client.aclose()


async def test_room_meta_is_created_once_and_changed_in_place(store: RoomStore) -> None:
    assert await store.get_meta(1) is None
    meta = await store.ensure_room(1, RoomMeta(kind="defense", auto_admit=False))
    assert (meta.kind, meta.auto_admit, meta.ended) == ("defense", False, False)
    again = await store.ensure_room(1, RoomMeta(kind="consultation", auto_admit=True))
    assert (again.kind, again.auto_admit) == ("defense", False)  # idempotent: the first defaults stay
    changed = await store.set_meta(1, presenter=7, auto_admit=True)
    assert (changed.presenter, changed.auto_admit) == (7, True)
    stored = await store.get_meta(1)
    assert stored is not None and stored.presenter == 7
    # what a caller gets is a copy: changing it changes nothing stored
    stored.presenter = 9
    assert (await store.get_meta(1)).presenter == 7  # type: ignore[union-attr]


async def test_members_round_trip_and_are_per_room(store: RoomStore) -> None:
    await store.ensure_room(1, RoomMeta())
    m = Member(7, "Dana", "student", admitted=True)
    await store.put_member(1, m)
    got = await store.get_member(1, 7)
    assert got == m
    assert await store.get_member(2, 7) is None
    m.hand_raised = True
    assert (await store.get_member(1, 7)).hand_raised is False  # type: ignore[union-attr]
    await store.put_member(1, m)
    assert set(await store.members(1)) == {7}
    assert (await store.members(1))[7].hand_raised is True


async def test_sockets_count_per_person_and_make_them_online(store: RoomStore) -> None:
    await store.ensure_room(1, RoomMeta())
    await store.add_socket(1, "sa", 7, "node-a")
    await store.add_socket(1, "sb", 7, "node-a")
    await store.add_socket(1, "sc", 8, "node-a")
    await store.mark_alive("node-a", 10)
    assert await store.online(1) == {7, 8}
    assert await store.remove_socket(1, "sa", 7) == 1  # one socket of person 7 left
    assert await store.remove_socket(1, "sb", 7) == 0
    assert await store.online(1) == {8}
    assert await store.remove_socket(1, "unknown", 8) == 1


async def test_media_lease_has_one_owner_until_released(store: RoomStore) -> None:
    assert await store.media_owner(1) is None
    assert await store.claim_media(1, "node-a") == "node-a"
    assert await store.claim_media(1, "node-b") == "node-a"
    await store.renew_media({1}, "node-a")
    await store.release_media(1, "node-b")  # not the owner: nothing happens
    assert await store.media_owner(1) == "node-a"
    await store.release_media(1, "node-a")
    assert await store.media_owner(1) is None
    assert await store.claim_media(1, "node-b") == "node-b"


async def test_drop_forgets_the_room(store: RoomStore) -> None:
    await store.ensure_room(1, RoomMeta(kind="lecture"))
    await store.put_member(1, Member(7, "Dana", "student"))
    await store.drop(1)
    assert await store.get_meta(1) is None
    assert await store.get_member(1, 7) is None


async def test_redis_store_says_unavailable_when_redis_is_gone() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)  # nothing listens on port 1
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await RedisRoomStore(client).get_meta(1)
    finally:
        await client.aclose()
