"""What a page offers is what its target allows (issue 19, "Roles").

Links, buttons and the navigation ask ``tenancy.permissions`` which asks the view behind the
URL, the same ``permits`` its ``dispatch`` enforces. These tests hold the two together:
every route is swept for every kind of user, and each role's navigation is walked.
"""

import re

import pytest
from django.urls import reverse

from portal.navigation import MAIN_NAV, main_nav
from programs.choices import EventStatus
from tenancy.choices import Role
from tenancy.models import Utility
from tenancy.permissions import path_permits, view_permits
from tests import factories
from tests.portal.test_tenant_isolation import NON_OBJECT_KWARGS, all_routes, model_of

STAFF_ROLES = [Role.PROGRAM_MANAGER, Role.OPERATOR, Role.ANALYST]
PEOPLE = [*STAFF_ROLES, "customer", "vendor", "nobody", "platform"]


def person(utility, kind):
    if kind in STAFF_ROLES:
        return factories.member(utility, kind)
    if kind == "customer":
        return factories.customer(utility).user
    if kind == "vendor":
        return factories.vendor_member(factories.vendor_organization(), role="admin")
    if kind == "platform":
        return factories.user(is_staff=True)
    return factories.user()


@pytest.fixture
def rows(db):
    utility = factories.utility("Alpha Power", slug="alpha")
    made = {Utility: utility}
    for model, make in factories.TENANT_FACTORIES.items():
        made[model] = make(utility, "")
    return made


def own_url(name, kwargs, pattern, rows):
    model = model_of(pattern)
    if not kwargs:
        return reverse(name)
    if model not in rows:
        return None
    obj = rows[model]
    values = {
        k: obj.pk if k == "pk" else NON_OBJECT_KWARGS.get(k, getattr(obj, k, None)) for k in kwargs
    }
    if None in values.values():
        return None
    return reverse(name, kwargs=values)


# Pages anyone signed in may open, though they are linked for some only.
OPEN_TO_ALL = {
    "enrollment:my": "says 'no customer account' to a non-customer; linked for customers only",
}


def guarded_routes(rows):
    """(url, view) for every non-API route whose view says who may open it."""
    for (name, kwargs), pattern in all_routes():
        if name in OPEN_TO_ALL:
            continue
        if hasattr(pattern.callback, "cls") or view_permits(pattern.callback) is None:
            continue
        url = own_url(name, kwargs, pattern, rows)
        if url is not None:
            yield name, url, pattern.callback


@pytest.mark.parametrize("kind", PEOPLE)
def test_every_page_answers_as_its_permits_says(kind, rows, client):
    client.force_login(person(rows[Utility], kind))
    swept = 0
    for name, url, callback in guarded_routes(rows):
        view = getattr(callback, "view_class", None)
        response = client.get(url) if view is None or hasattr(view, "get") else None
        if response is not None and response.status_code != 405:  # 405: a POST-only function
            allowed = path_permits(response.wsgi_request, url)
            # Refused means 403 (or 404 where a wrong role looks like a missing row, or a
            # redirect to the user's own home); a permitted role may still get 404 for a row
            # outside its scope.
            refused = response.status_code in (302, 403) or (
                response.status_code == 404 and not allowed
            )
            assert refused != allowed, (kind, name, response.status_code, allowed)
            swept += 1
        if view is None or hasattr(view, "post"):
            request = client.head("/").wsgi_request  # a request as the middleware resolves it
            if not path_permits(request, url, method="POST"):
                status = client.post(url).status_code
                assert status in (403, 404), (kind, name, "POST", status)
    assert swept > 30


@pytest.mark.parametrize("kind", PEOPLE)
def test_every_navigation_link_opens(kind, rows, client):
    client.force_login(person(rows[Utility], kind))
    body = client.get("/", follow=True).content.decode()
    # Staff and vendors get the main navigation; a customer lands on their branded pages.
    start = body.index('<nav class="mainnav"' if kind != "customer" else '<nav class="customernav"')
    nav = body[start : body.index("</nav>", start)]
    hrefs = re.findall(r'href="([^"]+)"', nav)
    assert hrefs, kind
    for href in hrefs:
        response = client.get(href)
        assert response.status_code == 200, (kind, href, response.status_code)


def test_each_role_sees_its_own_navigation(rows, client):
    expect = {
        Role.ANALYST: {"Home", "Programs", "Events", "Alerts", "Settlement"},
        "customer": {"My battery"},
        "vendor": {"My organisation", "API"},
        "platform": {"Home", "Vendor organisations", "Status", "Admin", "API"},
    }
    for kind, must in expect.items():
        client.force_login(person(rows[Utility], kind))
        request = client.get("/").wsgi_request
        labels = {link.label for link in main_nav(request)}
        assert must <= labels, (kind, labels)
    client.force_login(person(rows[Utility], "customer"))
    labels = {link.label for link in main_nav(client.get("/").wsgi_request)}
    # No vendor, staff or API link, and no generic Home: / takes a customer to My battery.
    assert labels == {"My battery"}, "a customer sees only their own pages"
    client.force_login(person(rows[Utility], Role.ANALYST))
    labels = {link.label for link in main_nav(client.get("/").wsgi_request)}
    assert not labels & {"My battery", "My organisation", "Status", "Admin"}
    assert len(MAIN_NAV) == len({item.label for item in MAIN_NAV})


def test_customer_is_refused_the_api_docs(rows, client):
    client.force_login(person(rows[Utility], "customer"))
    assert client.get(reverse("api-docs")).status_code in (401, 403)
    client.force_login(person(rows[Utility], Role.ANALYST))
    assert client.get(reverse("api-docs")).status_code == 200


def test_analyst_is_offered_no_writes(rows, client):
    utility = rows[Utility]
    program = factories.program(utility)
    group = factories.dispatch_group(utility, prog=program)
    alert = factories.alert(utility)
    event = factories.event(utility, group=group, status=EventStatus.SCHEDULED)
    pages = {
        reverse("programs:program-detail", args=[program.pk]): ["Edit rules", "New event"],
        reverse("programs:program-list"): ["New program"],
        reverse("programs:event-calendar"): ["New event"],
        reverse("programs:event-list"): ["New event"],
        reverse("programs:event-detail", args=[event.pk]): ["Cancel event"],
        reverse("portal:alert-list"): ["Acknowledge", "Resolve"],
        reverse("portal:control-room"): ["Acknowledge", "Resolve"],
        reverse("portal:utility-settings"): ["Save branding", "Add area", "Add brand"],
    }
    analyst = person(utility, Role.ANALYST)
    manager = person(utility, Role.PROGRAM_MANAGER)
    client.force_login(manager)
    for url, words in pages.items():
        body = client.get(url).content.decode()
        for word in words:
            assert f">{word}</" in body, ("the manager is offered it", url, word)
    client.force_login(analyst)
    for url, words in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for word in words:
            assert f">{word}</" not in body, ("the analyst is offered", url, word)
    # ... and the targets refuse the analyst, so nothing offered would have worked anyway.
    assert client.get(reverse("programs:program-update", args=[program.pk])).status_code == 403
    assert client.get(reverse("programs:event-create")).status_code == 403
    assert (
        client.post(reverse("portal:alert-action", args=[alert.pk, "resolve"])).status_code == 403
    )


def test_control_room_script_is_told_which_alert_actions_to_draw(rows, client):
    client.force_login(person(rows[Utility], Role.ANALYST))
    body = client.get(reverse("portal:control-room")).content.decode()
    assert 'data-alert-actions=""' in body
    client.force_login(person(rows[Utility], Role.OPERATOR))
    body = client.get(reverse("portal:control-room")).content.decode()
    assert 'data-alert-actions="acknowledge resolve "' in body
