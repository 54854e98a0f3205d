"""Responses to DERControls (POST /rsp), LogEvents and Subscriptions."""

from django.db import transaction

from protocol import selectors, services
from protocol.fsets.base import BadInput, Refused, SepView, instant
from protocol.http import not_found
from protocol.managers.derp import end_device_control_by_mrid
from protocol.managers.edev import END_DEVICE_LIST_HREF, edev_href
from protocol.managers.pubsub import subscription_href, subscription_list, subscription_resource
from protocol.managers.response import log_event_href, log_event_list, response_href
from protocol.models import LogEvent, Subscription
from protocol.xml.resources.log import LogEvent as SepLogEvent
from protocol.xml.resources.pubsub import Subscription as SepSubscription
from protocol.xml.resources.response import DERControlResponse, Response


class ResponseListView(SepView):
    def post(self, request):
        body = self.body(request, (DERControlResponse, Response))
        if body.status is None:
            raise BadInput("status is required")
        if body.status not in services.RESPONSE_CODES:
            raise BadInput(f"status {body.status} is not a 2030.5 response code")
        end_device = (
            selectors.end_devices_for_client(client=self.client)
            .filter(lfdi=body.end_device_lfdi)
            .first()
        )
        if end_device is None:
            return not_found("endDeviceLFDI is not an EndDevice of this client")
        # Only a control this EndDevice was shown (the plan gave it a Dispatch row) can be
        # answered, so every stored Response is counted in its event's funnel.
        control = end_device_control_by_mrid(end_device, body.subject or "", self.now)
        if control is None:
            return not_found("no DERControl of this EndDevice has this subject mRID")
        event = control[1].event
        created = (
            instant(body.created_date_time, "createdDateTime")
            if body.created_date_time is not None
            else None
        )
        response = services.response_record(
            end_device=end_device, event=event, status=body.status, created_at=created
        )
        return self.created(response_href(response.pk))


class LogEventListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        items = LogEvent.objects.for_utility(self.utility).filter(end_device=end_device)
        paged = self.page(request, items.order_by("-created_at", "-pk"))
        return self.sep(log_event_list(end_device, paged, poll_rate=self.poll_rate))

    def post(self, request, eid):
        end_device = self.end_device(eid)
        body = self.body(request, SepLogEvent)
        log_event = services.log_event_record(
            end_device=end_device,
            created_at=instant(body.created_date_time, "createdDateTime"),
            details=body.details or "",
            function_set=body.function_set,
            log_event_code=body.log_event_code,
            log_event_id=body.log_event_id,
            log_event_pen=body.log_event_pen,
            profile_id=body.profile_id,
        )
        return self.created(log_event_href(end_device, log_event))


class SubscriptionListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        paged = self.page(request, selectors.subscriptions_for(end_device=end_device))
        return self.sep(subscription_list(end_device, paged, poll_rate=self.poll_rate))

    def post(self, request, eid):
        end_device = self.end_device(eid)
        body = self.body(request, SepSubscription)
        # This EndDevice's own resources, and the EndDeviceList its client sees.
        own = edev_href(end_device)
        target = body.subscribed_resource
        if target not in (own, END_DEVICE_LIST_HREF) and not target.startswith(f"{own}/"):
            raise BadInput("subscribedResource must be /edev or a resource of this EndDevice")
        if body.encoding != 0:
            raise BadInput("only encoding 0 (application/sep+xml) is supported")
        if not body.notification_uri.startswith(("http://", "https://")):
            raise BadInput("notificationURI must be an http(s) URL")
        with transaction.atomic():
            sub = services.subscription_create(
                end_device=end_device,
                subscribed_resource=target,
                notification_uri=body.notification_uri,
                encoding=body.encoding,
                level=body.level,
                limit=body.limit,
            )
        return self.created(subscription_href(end_device, sub))


class SubscriptionView(SepView):
    def subscription(self, eid, sid) -> Subscription:
        end_device = self.end_device(eid)
        sub = selectors.subscriptions_for(end_device=end_device).filter(pk=sid).first()
        if sub is None:
            raise Refused(not_found("no such Subscription"))
        return sub

    def get(self, request, eid, sid):
        return self.sep(subscription_resource(self.subscription(eid, sid)))

    def delete(self, request, eid, sid):
        services.subscription_delete(subscription=self.subscription(eid, sid))
        return self.no_content()
