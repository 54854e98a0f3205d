"""Portal pages for the 2030.5 server: the utility's clients and EndDevices; revoking a client."""

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect
from django.views.generic import ListView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from portal.lists import BooleanFilter, ChoiceFilter, ForeignKeyFilter, ListPageMixin, search_q
from portal.tenancy.mixins import UtilityScopedMixin
from portal.tenancy.selectors import scope_to_utility
from programs.models import Program
from protocol.models import Client, ClientKind, EndDevice
from protocol.services import client_revoke


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
        match = Q(name__icontains=term) | search_q(["^lfdi"], term.upper())
        if term.isdigit() and len(term) <= 18:
            match |= Q(sfdi=int(term))
        return queryset.filter(match)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["end_devices"] = (
            scope_to_utility(EndDevice.objects.all(), self.request.utility)
            .select_related("registered_by", "device")
            .order_by("-last_poll_at", "pk")[:500]
        )
        return context


class ClientRevokeView(UtilityScopedMixin, SingleObjectMixin, View):
    """POST only: the next request with this certificate is refused."""

    model = Client

    def post(self, request, *args, **kwargs):
        client = self.get_object()
        if not client.revoked:
            client_revoke(client=client)
            messages.success(request, f"Revoked {client.name}; its certificate is refused now.")
        return redirect("protocol:client-list")
