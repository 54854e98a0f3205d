"""Fleet pages: the device list and detail (connector sites are in devices.connectors)."""

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.views.generic import DetailView, ListView

from devices.choices import Channel, Health
from devices.models import ConnectorCommand, ConnectorSite, Device
from devices.selectors import (
    device_der_report,
    device_health,
    device_health_filter,
    device_other_quantities,
    device_search,
    device_search_ids,
    device_state_codes,
    device_telemetry_series,
    device_vendor_names,
)
from tenancy.lists import ChoiceFilter, ListPageMixin
from tenancy.mixins import UtilityMemberMixin, UtilityScopedMixin

# The device page's chart windows; "season" is the running season when the device takes
# part in a program that has one, else the last 120 days.
CHART_WINDOWS = {
    "day": timedelta(hours=24),
    "week": timedelta(days=7),
    "season": timedelta(days=120),
}
LIST_COLUMNS = [
    "id",
    "serial",
    "vendor_name",
    "model_name",
    "state",
    "zip_code",
    "lfdi",
    "soc_pct",
    "power_w",
    "last_heard_at",
]


class DeviceListView(ListPageMixin, UtilityMemberMixin, ListView):
    """The fleet, searched by serial, LFDI or ZIP prefix and filtered; one query per page."""

    template_name = "devices/device_list.html"
    context_object_name = "devices"
    search_placeholder = "Serial, LFDI or ZIP prefix"
    filters = (
        ChoiceFilter("health", "Health", method="filter_health", options=Health.choices),
        ChoiceFilter("vendor_name", "Vendor", options_method="vendor_options"),
        ChoiceFilter("state", "State", options_method="state_options"),
    )
    ordering = ("vendor_name", "serial", "id")
    list_noun = "devices"
    empty_hint = (
        "they arrive when a vendor's 2030.5 client registers them or a connector site polls one."
    )

    def get_base_queryset(self):
        self.now = timezone.now()
        return device_search(utility=self.request.utility, now=self.now).only(*LIST_COLUMNS)

    def search_queryset(self, queryset, term):
        return queryset.filter(pk__in=device_search_ids(utility=self.request.utility, term=term))

    def filter_health(self, queryset, health):
        return device_health_filter(queryset, health=health, now=self.now)

    def vendor_options(self):
        return [(v, v) for v in device_vendor_names(utility=self.request.utility)]

    def state_options(self):
        return [(s, s) for s in device_state_codes(utility=self.request.utility)]


def _epoch(at) -> int:
    return int(at.timestamp())


class DeviceDetailView(UtilityScopedMixin, DetailView):
    """One device: state, 24 h power and SoC charts with its events, its connector site."""

    model = Device
    template_name = "devices/device_detail.html"
    context_object_name = "device"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        device = self.object
        until = timezone.now()
        window = self.request.GET.get("window", "day")
        if window not in CHART_WINDOWS:
            window = "day"
        since = until - CHART_WINDOWS[window]
        if window == "season":
            since = self._season_start(device, until) or since
        series = {
            name: [
                [_epoch(p.at), p.value]
                for p in device_telemetry_series(
                    device=device,
                    channel=channel,
                    since=since,
                    until=until,
                    hourly=window != "day",
                )
            ]
            for name, channel in (("w", Channel.W), ("soc", Channel.SOC_PCT))
        }
        # Through the device's reverse relation: devices sits below programs and does not
        # import it.
        dispatches = (
            device.dispatches.for_utility(self.request.utility)
            .filter(event__start__lt=until)
            .select_related("event")
            .order_by("-event__start")[:20]
        )
        events = [
            {
                "start": _epoch(d.event.start),
                "end": _epoch(d.event.end),
                "setpoint_w": d.setpoint_w,
                "status": d.event.status,
                "label": str(d.event),
            }
            for d in dispatches
            if d.event.end > since
        ]
        context["chart"] = {"since": _epoch(since), "until": _epoch(until), **series}
        context["window"] = window
        context["windows"] = [("day", "Day"), ("week", "Week"), ("season", "Season")]
        context["chart"]["events"] = events
        context["dispatches"] = dispatches
        context["health"] = Health(device_health(device=device))
        context["other_quantities"] = device_other_quantities(device=device)
        context["der"] = device_der_report(device=device)
        site = ConnectorSite.objects.filter(device=device).first()
        context["site"] = site
        if site is not None:
            context["commands"] = ConnectorCommand.objects.filter(site=site)[:10]
        return context

    @staticmethod
    def _season_start(device, until):
        """The start of the running season of a program the device takes part in (through
        reverse relations: devices sits below programs)."""
        today = timezone.localdate(until)
        for participation in device.participations.filter(left_at__isnull=True):
            season = participation.program.seasons.filter(
                start_date__lte=today, end_date__gte=today
            ).first()
            if season is not None:
                tz = timezone.get_current_timezone()
                return datetime.combine(season.start_date, time.min, tzinfo=tz)
        return None
