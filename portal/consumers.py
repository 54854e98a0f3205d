"""WebSocket consumers. The base consumer authenticates and joins the user's utility groups."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.realtime import group_name
from tenancy.selectors import memberships_for_user

# 4403 mirrors HTTP 403 in the WebSocket application close-code range.
CLOSE_FORBIDDEN = 4403


class UtilityTopicConsumer(AsyncJsonWebsocketConsumer):
    """Joins ``utility.<id>.<topic>`` for each of the user's utilities, or refuses the socket.

    The topic comes from the URL route. A ``utility`` route kwarg narrows to one utility;
    if the user is not a member there, the socket is closed, exactly as for a stranger.
    """

    groups_joined: list[str]

    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        kwargs = self.scope["url_route"]["kwargs"]
        topic = kwargs["topic"]
        utility_ids = await self._utility_ids(user)
        wanted = kwargs.get("utility_id")
        if wanted is not None:
            utility_ids = [uid for uid in utility_ids if uid == int(wanted)]
        if not utility_ids:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            names = [group_name(utility_id=uid, topic=topic) for uid in utility_ids]
        except ValueError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for name in names:
            await self.channel_layer.group_add(name, self.channel_name)
            self.groups_joined.append(name)
        await self.accept()
        await self.send_json({"type": "subscribed", "topic": topic, "utilities": utility_ids})

    async def disconnect(self, code):
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Clients only listen; anything they send is ignored rather than trusted.
        return

    async def push(self, event):
        await self.send_json({"type": "push", "topic": event["topic"], "data": event["data"]})

    @database_sync_to_async
    def _utility_ids(self, user) -> list[int]:
        return [m.utility_id for m in memberships_for_user(user=user)]
