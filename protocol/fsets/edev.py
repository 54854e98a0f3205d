"""EndDevice function set: EndDeviceList (+ in-band registration), EndDevice, Registration,
DeviceInformation and FunctionSetAssignments."""

from protocol import selectors, services
from protocol.fsets.base import BadInput, Refused, SepView
from protocol.http import not_found
from protocol.managers.derp import derp_list, program_entries
from protocol.managers.edev import (
    connection_point_href,
    connection_point_resource,
    device_information_href,
    edev_href,
    end_device_list,
    end_device_resource,
    fsa_derp_list_href,
    fsa_list,
    fsa_programs,
    fsa_resource,
    fsa_resources,
    registration_resource,
    reported_content,
)
from protocol.xml.resources.edev import ConnectionPoint, DeviceInformation
from protocol.xml.resources.edev import EndDevice as SepEndDevice


class EndDeviceListView(SepView):
    def get(self, request):
        items = selectors.end_devices_for_client(client=self.client).order_by("pk")
        paged = self.page(request, items)
        poll_rate = self.poll_rate_of("edev_list")
        return self.sep(end_device_list(paged, poll_rate=poll_rate, profile=self.profile))

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
        return self.sep(end_device_resource(self.end_device(eid), profile=self.profile))


class ConnectionPointView(SepView):
    """csipaus:ConnectionPoint: the client tells the server its site's NMI (CSIP-AUS only:
    a plain CSIP client has no such resource, and gets 404 like any unknown href)."""

    def _end_device(self, eid):
        end_device = self.end_device(eid)
        if self.profile != "csipaus":
            raise Refused(not_found("ConnectionPoint is a CSIP-AUS resource"))
        return end_device

    def get(self, request, eid):
        resource = connection_point_resource(self._end_device(eid))
        if resource is None:
            return not_found("ConnectionPoint not reported yet")
        return self.sep(resource)

    def put(self, request, eid):
        end_device = self._end_device(eid)
        body = self.body(request, ConnectionPoint)
        href = connection_point_href(end_device)
        reported_before = connection_point_resource(end_device) is not None
        services.end_device_connection_point_store(
            end_device=end_device,
            connection_point_id=body.connection_point_id,
            resource_href=href,
        )
        # The first report creates the resource: 201 and its Location (RFC 9110 9.3.4). An
        # update is 204, and names the resource too, as the CSIP-AUS reference server does.
        if not reported_before:
            return self.created(href)
        response = self.no_content()
        response["Location"] = href
        return response


class RegistrationView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        return self.sep(registration_resource(end_device, poll_rate=self.poll_rate))


class DeviceInformationView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        href = device_information_href(end_device)
        return self.sep(self.reported(end_device, "di", DeviceInformation, href))

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
        services.end_device_report_store(
            end_device=end_device,
            key="di",
            content=reported_content(body),
            resource_href=device_information_href(end_device),
        )
        return self.no_content()


class FunctionSetAssignmentsListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        paged = self.page(request, fsa_resources(end_device, groups, profile=self.profile))
        return self.sep(
            fsa_list(end_device, paged, poll_rate=self.poll_rate_of("fsa_list", end_device))
        )


class FunctionSetAssignmentsView(SepView):
    def program_groups(self, eid, fid):
        """The EndDevice and program `fid` with its groups this device is in, or 404."""
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        for program, program_groups in fsa_programs(groups):
            if program.pk == fid:
                return end_device, program, program_groups
        raise Refused(not_found("no such FunctionSetAssignments"))

    def get(self, request, eid, fid):
        end_device, program, groups = self.program_groups(eid, fid)
        return self.sep(fsa_resource(end_device, program, groups, profile=self.profile))


class FunctionSetAssignmentsDERProgramListView(FunctionSetAssignmentsView):
    def get(self, request, eid, fid):
        end_device, program, groups = self.program_groups(eid, fid)
        entries = program_entries(end_device, groups, profile=self.profile, program_id=program.pk)
        paged = self.page(request, entries)
        href = fsa_derp_list_href(end_device, program)
        poll_rate = self.poll_rate_of("derp_list", end_device)
        return self.sep(derp_list(end_device, paged, poll_rate=poll_rate, href=href))
