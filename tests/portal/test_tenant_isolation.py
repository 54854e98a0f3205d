"""Every URL pattern and API route, walked from the resolver, as a user of another utility.

Routes added later are covered automatically: a route whose object this sweep cannot
identify fails the test until it is classified here.
"""

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenancy.choices import Role
from tenancy.models import TenantModel, Utility
from tests import factories
from tests.conftest import api_client_for

MARKER = "BRAVOSECRET"

# Routes that hold no tenant data, each with the reason. Everything else is swept.
EXEMPT = {
    "login": "public login page",
    "logout": "ends the session; no data",
    "password_change": "the user's own account",
    "password_change_done": "the user's own account",
    "password_reset": "public; answers the same for any email",
    "password_reset_done": "public static page",
    "password_reset_confirm": "public; token-protected",
    "password_reset_complete": "public static page",
    "api-schema": "the API description, no rows",
    "api-docs": "the API description, no rows",
    "portal:brand-css": "public: the utility's colours, shown on its public enrollment pages",
    "portal:brand-logo": "public: the utility's logo, shown on its public enrollment pages",
    "portal:switch-utility": "POST only; its own test proves a foreign utility is refused",
    "enrollment:opt-out-link": "public; a signed, single-use token names one notice",
    "enrollment:enroll": "public enrollment start page, by utility and program slug",
    "enrollment:enroll-step": "public enrollment steps; a draft is found only by its own cookie",
    # Vendor organisations are platform-wide, not tenant rows; isolation between
    # organisations is swept in tests/portal/test_vendor_portal.py.
    "vendors:platform-vendor-decide": "platform staff only (403 for everyone else)",
    "vendors:vendor-invite": "public; a one-time token names the invited user",
    "vendors:vendor-team-role": "a vendor organisation's membership, not tenant data",
    "vendors:vendor-team-remove": "a vendor organisation's membership, not tenant data",
    "vendors:vendor-contact-edit": "a vendor organisation's contact, not tenant data",
    "vendors:vendor-contact-delete": "a vendor organisation's contact, not tenant data",
}


def _walk(resolver, prefix_ns=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            if ns == "admin":
                continue  # platform operators' admin: staff only, tested separately
            yield from _walk(entry, f"{prefix_ns}{ns}:" if ns else prefix_ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix_ns}{entry.name}", entry


def all_routes():
    seen = {}
    for name, pattern in _walk(get_resolver()):
        kwargs = set(pattern.pattern.regex.groupindex) - {"format"}
        seen.setdefault((name, frozenset(kwargs)), pattern)
    return sorted(seen.items(), key=lambda item: item[0][0])


def model_of(pattern):
    callback = pattern.callback
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return None
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return queryset.model
    return getattr(view, "model", None)


@pytest.fixture
def bravo(db):
    """Utility B with one row of every tenant-owned model, all carrying the marker."""
    utility = factories.utility(f"{MARKER} Electric", slug="bravosecret")
    rows = {Utility: utility}
    for model, make in factories.TENANT_FACTORIES.items():
        rows[model] = make(utility, MARKER)
    return rows


def test_every_tenant_model_has_a_factory():
    tenant_models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    missing = [m.__name__ for m in tenant_models if m not in factories.TENANT_FACTORIES]
    assert not missing, f"add factories for {missing} to tests/factories.py"


# Route kwargs that name no object, with a value that makes the route resolve.
NON_OBJECT_KWARGS = {"part": "group", "action": "acknowledge", "device_id": "1"}


def allowed_methods(pattern) -> list[str]:
    callback = pattern.callback
    if hasattr(callback, "actions"):  # DRF viewset route: method -> action
        return sorted(callback.actions)
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


def object_url(name, kwargs, pattern, bravo):
    """The URL of utility B's object for this route, or None when the route is not understood."""
    model = model_of(pattern)
    if model not in bravo:
        return None, None
    obj = bravo[model]
    values = {
        k: obj.pk if k == "pk" else NON_OBJECT_KWARGS.get(k, getattr(obj, k, None)) for k in kwargs
    }
    if None in values.values():
        return None, None
    return reverse(name, kwargs=values), model


def test_every_route_hides_the_other_utility(client, bravo):
    alpha = factories.utility("Alpha Power", slug="alpha")
    manager = factories.member(alpha, Role.PROGRAM_MANAGER)
    factories.brand(alpha)
    client.force_login(manager)
    api = api_client_for(manager)

    swept, unclassified = [], []
    for (name, kwargs), pattern in all_routes():
        if name in EXEMPT:
            continue
        is_api = hasattr(pattern.callback, "cls")  # DRF views
        http = api if is_api else client
        if not kwargs:
            url = reverse(name)
            response = http.get(url)
            assert response.status_code < 500, (name, response.status_code)
            body = response.content.decode(errors="replace").upper()
            assert MARKER not in body, f"{name} ({url}) shows utility B's data"
            swept.append(name)
            continue
        url, model = object_url(name, kwargs, pattern, bravo)
        if url is None:
            unclassified.append(name)
            continue
        before = model.objects.filter(pk=bravo[model].pk).values().first()
        for method in allowed_methods(pattern):
            response = getattr(http, method)(url)
            assert response.status_code == 404, (name, method, url, response.status_code)
        after = model.objects.filter(pk=bravo[model].pk).values().first()
        assert before == after, f"{name} changed utility B's row"
        swept.append(name)

    assert not unclassified, f"routes the isolation sweep cannot classify: {unclassified}"
    # The sweep must really have walked the portal pages and the API.
    assert {"portal:home", "portal:brand-update", "brand-detail", "utility-detail"} <= set(swept)


def test_admin_is_for_platform_operators_only(client, utility_a, manager_a):
    client.force_login(manager_a)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
