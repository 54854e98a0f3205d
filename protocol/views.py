"""Portal pages for the 2030.5 server: the utility's clients and EndDevices; revoking a client."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.generic import ListView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from portal.tenancy.mixins import UtilityScopedMixin
from portal.tenancy.selectors import scope_to_utility
from protocol.models import Client, EndDevice
from protocol.services import client_revoke


class ClientListView(UtilityScopedMixin, ListView):
    model = Client
    template_name = "protocol/client_list.html"

    def get_queryset(self):
        return super().get_queryset().select_related("program").order_by("name")

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
