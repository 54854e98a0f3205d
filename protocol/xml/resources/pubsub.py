"""Subscription, Notification and Condition (publish and subscribe)."""

from __future__ import annotations

from protocol.xml.codec import (
    ANY_URI,
    INT48,
    STRING16,
    UINT8,
    UINT32,
    AnyResource,
    SepObject,
    element,
    items,
    root_element,
)
from protocol.xml.resources.common import Polled, Resource, SepList


class Condition(SepObject):
    """Condition on a subscription."""

    attribute_identifier: int = element("attributeIdentifier", UINT8, required=True)
    lower_threshold: int = element("lowerThreshold", INT48, required=True)
    upper_threshold: int = element("upperThreshold", INT48, required=True)


@root_element()
class Subscription(Resource):
    """Subscription: `encoding` 0 is sep+xml; `limit` caps list items per notification."""

    subscribed_resource: str = element("subscribedResource", ANY_URI, required=True)
    condition: Condition | None = element("Condition", Condition)
    encoding: int = element("encoding", UINT8, required=True)
    level: str = element("level", STRING16, required=True)
    limit: int = element("limit", UINT32, required=True)
    notification_uri: str = element("notificationURI", ANY_URI, required=True)


@root_element()
class SubscriptionList(Polled, SepList):
    """SubscriptionList."""

    subscriptions: list[Subscription] = items(Subscription)


@root_element()
class Notification(Resource):
    """Notification: carries the changed resource, typed by xsi:type."""

    subscribed_resource: str = element("subscribedResource", ANY_URI, required=True)
    new_resource_uri: str | None = element("newResourceURI", ANY_URI)
    resource: SepObject | None = element("Resource", AnyResource)
    status: int = element("status", UINT8, required=True)
    subscription_uri: str = element("subscriptionURI", ANY_URI, required=True)
