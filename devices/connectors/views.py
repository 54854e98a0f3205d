"""Connector site pages: the utility's directly polled Modbus sites, their settings and a test."""

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.views.generic import CreateView, ListView, UpdateView, View
from django.views.generic.detail import SingleObjectMixin

from devices.choices import SiteStatus
from devices.connectors.forms import ConnectorSiteForm
from devices.connectors.services import connector_site_test
from devices.models import ConnectorCommand, ConnectorSite
from tenancy.choices import WRITE_ROLES
from tenancy.lists import BooleanFilter, ChoiceFilter, ListPageMixin
from tenancy.mixins import UtilityScopedMixin


class ConnectorSiteListView(ListPageMixin, UtilityScopedMixin, ListView):
    """The utility's directly polled Modbus sites and how they last answered."""

    model = ConnectorSite
    template_name = "devices/site_list.html"
    context_object_name = "sites"
    search_fields = ("name", "host", "^device__serial")
    search_placeholder = "Name, host or device serial"
    filters = (
        ChoiceFilter("status", "Status", options=SiteStatus.choices),
        BooleanFilter("enabled", "Polling", yes_label="Enabled", no_label="Disabled"),
    )
    ordering = ("name", "pk")
    list_noun = "connector sites"

    def get_queryset(self):
        return super().get_queryset().select_related("device")


class _SiteFormMixin:
    allowed_roles = WRITE_ROLES  # a form page: only those who may submit it open it
    model = ConnectorSite
    form_class = ConnectorSiteForm
    template_name = "devices/site_form.html"
    success_url = reverse_lazy("connectors:site-list")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def form_valid(self, form):
        messages.success(self.request, f"Saved {form.instance.name}.")
        return super().form_valid(form)


class ConnectorSiteCreateView(UtilityScopedMixin, _SiteFormMixin, CreateView):
    pass


class ConnectorSiteUpdateView(UtilityScopedMixin, _SiteFormMixin, UpdateView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["test_url"] = reverse("connectors:site-test", args=[self.object.pk])
        context["commands"] = ConnectorCommand.objects.filter(site=self.object)[:10]
        return context


class ConnectorSiteTestView(UtilityScopedMixin, SingleObjectMixin, View):
    """htmx POST: connect, run SunSpec discovery and show the models found."""

    model = ConnectorSite

    def post(self, request, pk):
        site = self.get_object()
        command = connector_site_test(site=site)
        return render(request, "devices/_site_test.html", {"site": site, "command": command})
