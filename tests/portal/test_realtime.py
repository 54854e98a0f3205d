"""Channels: authenticated consumers join only their own utilities' groups."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from portal.asgi import application
from portal.consumers import UtilityTopicConsumer
from portal.realtime import apush, group_name
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user, utility_id, topic="fleet"):
    communicator = WebsocketCommunicator(
        UtilityTopicConsumer.as_asgi(), f"/ws/utility/{utility_id}/{topic}/"
    )
    communicator.scope["user"] = user
    communicator.scope["url_route"] = {"kwargs": {"utility_id": utility_id, "topic": topic}}
    return communicator


async def test_anonymous_socket_is_refused():
    communicator = _communicator(AnonymousUser(), 1)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


async def test_unauthenticated_socket_through_the_asgi_stack_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/utility/1/fleet/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_member_receives_own_utility_pushes_and_never_another_utilitys():
    alpha = await sync_to_async(factories.utility)("Alpha", slug="alpha")
    bravo = await sync_to_async(factories.utility)("Bravo", slug="bravo")
    alice = await sync_to_async(factories.member)(alpha, Role.ANALYST)

    mine = _communicator(alice, alpha.pk)
    connected, _ = await mine.connect()
    assert connected
    assert (await mine.receive_json_from())["type"] == "subscribed"

    await apush(utility_id=bravo.pk, topic="fleet", data={"w": 999})
    assert await mine.receive_nothing(timeout=0.2)

    await apush(utility_id=alpha.pk, topic="fleet", data={"w": 1200})
    message = await mine.receive_json_from(timeout=2)
    assert message == {"type": "push", "topic": "fleet", "data": {"w": 1200}}
    await mine.disconnect()


async def test_asking_for_another_utilitys_group_is_refused():
    alpha = await sync_to_async(factories.utility)("Alpha", slug="alpha")
    bravo = await sync_to_async(factories.utility)("Bravo", slug="bravo")
    alice = await sync_to_async(factories.member)(alpha, Role.PROGRAM_MANAGER)
    communicator = _communicator(alice, bravo.pk)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


def test_group_names_follow_the_house_scheme():
    assert group_name(utility_id=7, topic="fleet") == "utility.7.fleet"
    assert group_name(utility_id=7, topic="event.42") == "utility.7.event.42"
    with pytest.raises(ValueError):
        group_name(utility_id=7, topic="../other")


async def test_push_reaches_several_sockets_of_the_same_utility():
    alpha = await sync_to_async(factories.utility)("Alpha", slug="alpha")
    users = [await sync_to_async(factories.member)(alpha, Role.ANALYST) for _ in range(2)]
    sockets = [_communicator(u, alpha.pk) for u in users]
    for socket in sockets:
        assert (await socket.connect())[0]
        await socket.receive_json_from()
    await apush(utility_id=alpha.pk, topic="fleet", data={"n": 1})
    received = await asyncio.gather(*(s.receive_json_from(timeout=2) for s in sockets))
    assert all(r["data"] == {"n": 1} for r in received)
    for socket in sockets:
        await socket.disconnect()


@pytest.mark.skipif(
    not settings.REDIS_URL, reason="the Redis channel layer is configured only with REDIS_URL"
)
async def test_a_socket_idle_past_the_layers_blocking_read_still_receives():
    # The layer waits on BZPOPMIN for brpop_timeout seconds; a socket read timeout at or
    # under it made idle consumers die with redis TimeoutError (redis-py 8's 5 s default).
    layer = get_channel_layer()
    assert layer.hosts[0]["socket_timeout"] is None
    alpha = await sync_to_async(factories.utility)("Alpha", slug="alpha")
    user = await sync_to_async(factories.member)(alpha, Role.ANALYST)
    socket = _communicator(user, alpha.pk)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    assert await socket.receive_nothing(timeout=layer.brpop_timeout * 2 + 1)
    await apush(utility_id=alpha.pk, topic="fleet", data={"n": 2})
    assert (await socket.receive_json_from(timeout=5))["data"] == {"n": 2}
    await socket.disconnect()
