"""Operators run the platform from Django admin: every model of ours is there and usable."""

import pytest
from django.apps import apps
from django.contrib import admin

from tests import factories

pytestmark = pytest.mark.django_db

OUR_APPS = {"portal", "programs", "enrollment", "protocol", "devices", "settlement"}


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_every_model_is_registered_with_list_display_filters_and_search():
    problems = []
    for model in our_models():
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            problems.append(f"{model.__name__}: not registered")
            continue
        if tuple(model_admin.list_display) == ("__str__",):
            problems.append(f"{model.__name__}: no list_display")
        if not model_admin.search_fields:
            problems.append(f"{model.__name__}: no search_fields")
        if not model_admin.list_filter and len(model._meta.fields) > 4:
            problems.append(f"{model.__name__}: no list_filter")
    assert not problems, problems


def test_every_changelist_and_add_page_renders_for_a_platform_operator(client):
    utility = factories.utility()
    for make in factories.TENANT_FACTORIES.values():
        make(utility)
    operator = factories.user(is_staff=True, is_superuser=True)
    client.force_login(operator)
    for model in our_models():
        info = (model._meta.app_label, model._meta.model_name)
        changelist = client.get(f"/admin/{info[0]}/{info[1]}/?q=x")
        assert changelist.status_code == 200, (info, changelist.status_code)
        assert client.get(f"/admin/{info[0]}/{info[1]}/").status_code == 200, info
        if admin.site._registry[model].has_add_permission(_request(operator)):
            assert client.get(f"/admin/{info[0]}/{info[1]}/add/").status_code == 200, info


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request
