"""EndDevice function set: EndDeviceList (+ in-band registration), EndDevice, Registration,
DeviceInformation and FunctionSetAssignments."""

import hashlib

from protocol import selectors, services
from protocol.fsets.base import BadInput, Refused, SepView
from protocol.http import not_found
from protocol.models import EndDevice
from protocol.xml import parse, serialize
from protocol.xml.resources.common import Link, ListLink, time_type
from protocol.xml.resources.edev import (
    DeviceInformation,
    EndDeviceList,
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
    Registration,
)
from protocol.xml.resources.edev import EndDevice as SepEndDevice


def derived_mrid(*parts: str) -> str:
    """A stable mRID for a resource the domain has no row for (FSA, DefaultDERControl)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32].upper()


def edev_href(end_device: EndDevice | int) -> str:
    return f"/edev/{getattr(end_device, 'pk', end_device)}"


def end_device_resource(end_device: EndDevice) -> SepEndDevice:
    href = edev_href(end_device)
    return SepEndDevice(
        href=href,
        subscribable=1,
        der_list_link=ListLink(href=f"{href}/der", all=1),
        device_information_link=Link(href=f"{href}/di"),
        lfdi=end_device.lfdi,
        log_event_list_link=ListLink(href=f"{href}/lel"),
        sfdi=end_device.sfdi,
        changed_time=time_type(end_device.changed_time),
        enabled=end_device.enabled,
        function_set_assignments_list_link=ListLink(href=f"{href}/fsa", all=1),
        post_rate=end_device.post_rate_s,
        registration_link=Link(href=f"{href}/rg"),
        subscription_list_link=ListLink(href=f"{href}/sub"),
    )


class EndDeviceListView(SepView):
    def get(self, request):
        items = selectors.end_devices_for_client(client=self.client).order_by("pk")
        paged = self.page(request, items)
        return self.sep(
            EndDeviceList(
                href="/edev",
                subscribable=0,
                all=paged.all,
                results=paged.results,
                poll_rate=self.poll_rate,
                end_devices=[end_device_resource(e) for e in paged.items],
            )
        )

    def post(self, request):
        body = self.body(request, SepEndDevice)
        if body.lfdi is None:
            raise BadInput("lFDI is required to register an EndDevice")
        end_device = services.end_device_register(
            client=self.client, lfdi=body.lfdi, sfdi=body.sfdi, post_rate_s=body.post_rate
        )
        return self.created(edev_href(end_device))


class EndDeviceView(SepView):
    def get(self, request, eid):
        return self.sep(end_device_resource(self.end_device(eid)))


class RegistrationView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        return self.sep(
            Registration(
                href=f"{edev_href(end_device)}/rg",
                poll_rate=self.poll_rate,
                date_time_registered=time_type(end_device.created_at),
                pin=end_device.pin,
            )
        )


def reported(end_device: EndDevice, key: str, cls, href: str, profile: str):
    """The resource as last PUT, with our href, or 404 before the client reported it."""
    stored = end_device.reported.get(key)
    if not stored:
        raise Refused(not_found(f"{cls.__name__} not reported yet"))
    resource = parse(stored.encode(), cls, profile=profile)
    resource.href = href
    return resource


def report_store(end_device: EndDevice, key: str, resource, href: str) -> None:
    """Keep what the client PUT and tell the resource's subscribers."""
    resource.href = None
    end_device.reported[key] = serialize(resource).decode()
    EndDevice.objects.filter(pk=end_device.pk).update(reported=end_device.reported)
    services.subscriptions_notify(utility_id=end_device.utility_id, resources=[href])


class DeviceInformationView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        href = f"{edev_href(end_device)}/di"
        return self.sep(reported(end_device, "di", DeviceInformation, href, self.profile))

    def put(self, request, eid):
        end_device = self.end_device(eid)
        body = self.body(request, DeviceInformation)
        if body.lfdi != end_device.lfdi:
            raise BadInput("lFDI does not match the EndDevice")
        services.end_device_information_store(
            end_device=end_device,
            serial=body.mf_ser_num,
            model_name=body.mf_model,
            # mfInfo is optional: without it, keep a vendor name the utility already knows.
            vendor_name=body.mf_info
            or (end_device.device.vendor_name if end_device.device else "")
            or f"mfID {body.mf_id}",
        )
        report_store(end_device, "di", body, f"{edev_href(end_device)}/di")
        return self.no_content()


def fsa_resource(end_device: EndDevice, groups: int) -> FunctionSetAssignments:
    href = edev_href(end_device)
    return FunctionSetAssignments(
        href=f"{href}/fsa/0",
        subscribable=0,
        der_program_list_link=ListLink(href=f"{href}/derp", all=groups),
        time_link=Link(href="/tm"),
        mrid=derived_mrid("fsa", end_device.lfdi),
        description="DER programs",
    )


class FunctionSetAssignmentsListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        paged = self.page(request, [fsa_resource(end_device, len(groups))])
        return self.sep(
            FunctionSetAssignmentsList(
                href=f"{edev_href(end_device)}/fsa",
                subscribable=1,
                all=paged.all,
                results=paged.results,
                poll_rate=self.poll_rate,
                function_set_assignments=paged.items,
            )
        )


class FunctionSetAssignmentsView(SepView):
    def get(self, request, eid, fid):
        end_device = self.end_device(eid)
        if fid != 0:
            return not_found("no such FunctionSetAssignments")
        groups = selectors.end_device_groups(end_device=end_device)
        return self.sep(fsa_resource(end_device, len(groups)))
