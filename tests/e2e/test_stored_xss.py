"""Stored XSS sweep: hostile text in every free-text field of every tenant model (names,
addresses, device information strings, notes, MirrorUsagePoint descriptions, vendor and
product names), then every portal page opened in a real browser: no script may run.

A payload that ran would call ``__xss()`` (recorded by an init script) or open a dialog; one
that the CSP stopped is a violation, which fails the test too (see conftest.py).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from tenancy.choices import Role
from tests import factories
from tests.integration.servers import asgi_server, subprocess_env
from tests.portal.test_tenant_isolation import EXEMPT, all_routes, allowed_methods, object_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAYLOADS = [
    "<script>__xss()</script>",
    '"><img src=x onerror=__xss()>',
    "javascript:__xss()",
]
TRAP = "window.__xssRan = []; window.__xss = () => window.__xssRan.push(location.href);"


def test_hostile_text_everywhere_runs_no_script(browser, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Alpha Power", slug="alpha")
    rows = {}
    for payload in PAYLOADS:
        for model, make in factories.TENANT_FACTORIES.items():
            rows[model] = make(utility, payload)
    # Vendor-side free text: organisation and product names on the utility's vendor pages.
    organization = factories.vendor_organization(PAYLOADS[1])
    factories.product_model(organization, PAYLOADS[0])
    factories.vendor_application(utility, PAYLOADS[2], organization=organization)
    manager = factories.member(utility, Role.PROGRAM_MANAGER, email="pm@alpha.test")
    assert manager.pk

    urls = []
    for (name, kwargs), pattern in all_routes():
        if (
            name in EXEMPT
            or hasattr(pattern.callback, "cls")
            or "get" not in allowed_methods(pattern)
        ):
            continue
        if not kwargs:
            urls.append(reverse(name))
            continue
        url, _model = object_url(name, kwargs, pattern, rows)
        if url is not None:
            urls.append(url)
    assert len(urls) > 30, urls

    dialogs = []
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        context = browser.new_context()
        context.add_init_script(TRAP)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@alpha.test")
        page.fill("#id_password", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        ran, opened = [], 0
        for url in urls:
            try:
                response = page.goto(f"{base}{url}")
            except PlaywrightError as exc:  # a download (CSV, report) is not a page
                assert "Download is starting" in str(exc), (url, exc)
                continue
            if response is None or response.status >= 400:
                continue
            opened += 1
            # Follow every javascript: link a payload may have become.
            hostile_links = page.locator("a[href^='javascript:' i]").count()
            assert hostile_links == 0, url
            ran += page.evaluate("() => window.__xssRan || []")
        context.close()
    assert opened > 30
    assert ran == [] and dialogs == []
