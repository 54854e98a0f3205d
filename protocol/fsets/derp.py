"""DER programs (one per dispatch group, and a site program per program that publishes
site envelopes) and their DERControls (the group's events, the site's envelopes).

How events become DERControls is decided in protocol.managers.derp.
"""

from functools import partial

from programs.choices import EventStatus
from protocol import selectors
from protocol.fsets.base import Refused, SepView
from protocol.http import not_found
from protocol.managers.derp import (
    ACTIVE_DER_CONTROL_LIST,
    DER_CONTROL_LIST,
    default_der_control,
    der_control_list,
    der_control_mrid,
    der_curve,
    der_curve_list,
    derp_list,
    derp_resource,
    end_device_der_control,
    end_device_site_program,
    program_entries,
    site_der_control,
    site_der_control_list,
    site_der_control_mrid,
    site_derp_resource,
    site_envelope_order,
)


class DERProgramListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        paged = self.page(request, program_entries(end_device, groups, profile=self.profile))
        return self.sep(
            derp_list(end_device, paged, poll_rate=self.poll_rate_of("derp_list", end_device))
        )


class _ProgramView(SepView):
    def program(self, eid, gid):
        end_device = self.end_device(eid)
        group = selectors.end_device_group(end_device=end_device, group_id=gid)
        if group is None:
            raise Refused(not_found("no such DERProgram"))
        return end_device, group

    def controls(self, end_device, group, *, active_only: bool = False):
        """The group's DERControls as this device sees them now (two queries). The answer
        changes by the clock at the next start or end of one of them: a cached copy lasts
        until then. The active list is the full list's active part, so the next start of a
        scheduled control bounds it too."""
        views = selectors.group_controls(
            end_device=end_device,
            group=group,
            now=self.now,
            mrid_of=partial(der_control_mrid, end_device),
        )
        self.changes_at(selectors.next_clock_change(views, self.now))
        if active_only:
            return [v for v in views if v.status == EventStatus.ACTIVE]
        return views


class DERProgramView(_ProgramView):
    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        return self.sep(derp_resource(end_device, group))


class DERControlListView(_ProgramView):
    active_only = False
    suffix = DER_CONTROL_LIST

    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        views = self.controls(end_device, group, active_only=self.active_only)
        paged = self.page(request, views)
        return self.sep(
            der_control_list(
                end_device,
                group,
                paged.items,
                total=paged.all,
                suffix=self.suffix,
                profile=self.profile,
            )
        )


class ActiveDERControlListView(DERControlListView):
    active_only = True
    suffix = ACTIVE_DER_CONTROL_LIST


class DERControlView(_ProgramView):
    def get(self, request, eid, gid, mrid):
        end_device, group = self.program(eid, gid)
        views = self.controls(end_device, group)
        mrid = mrid.upper()
        view = next((v for v in views if der_control_mrid(end_device, v.event) == mrid), None)
        if view is None:
            return not_found("no such DERControl")
        return self.sep(end_device_der_control(end_device, group, view, profile=self.profile))


class DefaultDERControlView(_ProgramView):
    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        return self.sep(default_der_control(end_device, group, profile=self.profile))


class DERCurveListView(_ProgramView):
    """The program's DERCurves (EndDevice, groups, count and page: four queries)."""

    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        paged = self.page(request, selectors.group_curves(group=group))
        return self.sep(der_curve_list(end_device, group, paged))


class DERCurveView(_ProgramView):
    def get(self, request, eid, gid, cid):
        end_device, group = self.program(eid, gid)
        curve = selectors.group_curve(group=group, curve_id=cid)
        if curve is None:
            return not_found("no such DERCurve")
        return self.sep(der_curve(end_device, group, curve))


class _SiteProgramView(SepView):
    """A program's site DERProgram for this EndDevice (its connection point's envelopes)."""

    def site_program(self, eid, pid):
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        site = end_device_site_program(end_device, groups, pid, profile=self.profile)
        if site is None:
            raise Refused(not_found("no such DERProgram"))
        return end_device, site

    def envelopes(self, end_device, site, *, active_only: bool = False):
        """The envelopes at the site now, in list order (one query). Like a group's list,
        it changes by the clock at the next start or end: a cached copy lasts until then."""
        envelopes = selectors.site_envelopes_served(
            program=site.program, connection_point_id=site.connection_point_id, now=self.now
        )
        instants = [i for e in envelopes for i in (e.start, e.end) if i > self.now]
        self.changes_at(min(instants, default=None))
        if active_only:
            envelopes = [e for e in envelopes if e.cancelled_at is None and e.start <= self.now]
        return site_envelope_order(end_device, envelopes)


class SiteDERProgramView(_SiteProgramView):
    def get(self, request, eid, pid):
        end_device, site = self.site_program(eid, pid)
        return self.sep(site_derp_resource(end_device, site))


class SiteDERControlListView(_SiteProgramView):
    active_only = False
    suffix = DER_CONTROL_LIST

    def get(self, request, eid, pid):
        end_device, site = self.site_program(eid, pid)
        paged = self.page(request, self.envelopes(end_device, site, active_only=self.active_only))
        return self.sep(
            site_der_control_list(
                end_device,
                site.program,
                paged.items,
                total=paged.all,
                suffix=self.suffix,
                now=self.now,
            )
        )


class SiteActiveDERControlListView(SiteDERControlListView):
    active_only = True
    suffix = ACTIVE_DER_CONTROL_LIST


class SiteDERControlView(_SiteProgramView):
    def get(self, request, eid, pid, mrid):
        end_device, site = self.site_program(eid, pid)
        mrid = mrid.upper()
        envelope = next(
            (
                e
                for e in self.envelopes(end_device, site)
                if site_der_control_mrid(end_device, e) == mrid
            ),
            None,
        )
        if envelope is None:
            return not_found("no such DERControl")
        return self.sep(site_der_control(end_device, site.program, envelope, self.now))
