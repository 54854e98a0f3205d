"""Portal pages for the 2030.5 server: the utility's clients and EndDevices; revoking a client."""

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.views.generic import ListView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from programs.models import Program
from protocol.models import Client, ClientKind, EndDevice
from protocol.services import client_revoke
from tenancy.lists import BooleanFilter, ChoiceFilter, ForeignKeyFilter, ListPageMixin, search_q
from tenancy.mixins import UtilityScopedMixin

END_DEVICES_PREVIEW = 10


class ClientListView(ListPageMixin, UtilityScopedMixin, ListView):
    model = Client
    template_name = "protocol/client_list.html"
    search_placeholder = "Name, LFDI prefix or SFDI"
    filters = (
        ChoiceFilter("kind", "Kind", options=ClientKind.choices),
        BooleanFilter("revoked", "Status", yes_label="Revoked", no_label="Active"),
        ForeignKeyFilter("program", "Program", field="program_id", model=Program),
    )
    ordering = ("name", "pk")
    list_noun = "2030.5 clients"
    empty_hint = "a client appears when a vendor's certificate is issued for this utility."

    def get_queryset(self):
        return super().get_queryset().select_related("program")

    def search_queryset(self, queryset, term):
        return queryset.filter(Q(name__icontains=term) | _lfdi_or_sfdi(term))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        end_devices = EndDevice.objects.all().for_utility(self.request.utility)
        context["end_device_count"] = end_devices.count()
        context["end_devices"] = end_devices.select_related("registered_by", "device").order_by(
            "-pk"
        )[:END_DEVICES_PREVIEW]
        return context


class EndDeviceListView(ListPageMixin, UtilityScopedMixin, ListView):
    """Every EndDevice of the utility, newest registration first."""

    model = EndDevice
    template_name = "protocol/end_device_list.html"
    context_object_name = "end_devices"
    search_placeholder = "LFDI prefix or SFDI"
    filters = (
        ForeignKeyFilter(
            "client", "Registered by", field="registered_by_id", model=Client, any_label="Anyone"
        ),
        BooleanFilter(
            "linked",
            "Fleet device",
            method="filter_linked",
            yes_label="Linked",
            no_label="Not linked",
        ),
        BooleanFilter("enabled", "Enabled"),
    )
    ordering = ("-pk",)
    list_noun = "EndDevices"
    empty_hint = "a vendor's client registers them in band, or the utility out of band."

    def get_queryset(self):
        return super().get_queryset().select_related("registered_by", "device")

    def search_queryset(self, queryset, term):
        return queryset.filter(_lfdi_or_sfdi(term))

    def filter_linked(self, queryset, linked):
        return queryset.filter(device__isnull=not linked)


def _lfdi_or_sfdi(term: str) -> Q:
    match = search_q(["^lfdi"], term.upper())
    if term.isdigit() and len(term) <= 18:
        match |= Q(sfdi=int(term))
    return match


class ClientRevokeView(UtilityScopedMixin, SingleObjectMixin, View):
    """POST only: the next request with this certificate is refused."""

    model = Client

    def post(self, request, *args, **kwargs):
        client = self.get_object()
        if not client.revoked:
            client_revoke(client=client)
            messages.success(request, f"Revoked {client.name}; its certificate is refused now.")
        return redirect("protocol:client-list")
