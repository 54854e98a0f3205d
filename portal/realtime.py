"""The one module that pushes to Channels groups. Groups are ``utility.<id>.<topic>``.

Every ``group_send`` in Reservoir goes through here, so the naming scheme and the message
envelope live in one place. Consumers receive ``{"type": "push", "topic": ..., "data": ...}``.
"""

import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

_TOPIC = re.compile(r"^[a-z][a-z0-9_]*(\.[0-9]+)?$")


def group_name(*, utility_id: int, topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ValueError(f"Invalid realtime topic {topic!r}")
    # Channels group names allow only ASCII letters, digits, hyphens, periods and underscores.
    return f"utility.{int(utility_id)}.{topic}"


def _message(topic: str, data: dict) -> dict:
    return {"type": "push", "topic": topic, "data": data}


async def apush(*, utility_id: int, topic: str, data: dict) -> None:
    layer = get_channel_layer()
    await layer.group_send(group_name(utility_id=utility_id, topic=topic), _message(topic, data))


def push(*, utility_id: int, topic: str, data: dict) -> None:
    """Send ``data`` to every browser subscribed to this utility's topic (sync callers)."""
    async_to_sync(apush)(utility_id=utility_id, topic=topic, data=data)
