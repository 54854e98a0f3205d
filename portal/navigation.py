"""The main navigation: every page a person may go to, and only those.

Each entry names a URL; whether it is shown is asked of the view behind that URL
(``tenancy.permissions``), the same check that view makes when the link is followed, so a
role's navigation can hold no link that answers 403 or 404 for it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.http import HttpRequest
from django.urls import ResolverMatch, reverse

from tenancy.permissions import url_permits

Current = Callable[[ResolverMatch], bool]


def _name(*names: str) -> Current:
    return lambda match: match.url_name in names


def _app(app: str, *, names: tuple[str, ...] = (), word: str = "") -> Current:
    return lambda match: (
        match.app_name == app
        and (not names or match.url_name in names)
        and (not word or word in (match.url_name or ""))
    )


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    current: Current
    # For the few pages that are not views of ours (Django admin): its own check.
    check: Callable[[HttpRequest], bool] | None = None

    def shown_to(self, request: HttpRequest) -> bool:
        if self.check is not None:
            return request.user.is_authenticated and self.check(request)
        return url_permits(request, self.url_name)


MAIN_NAV: tuple[NavItem, ...] = (
    NavItem("Home", "portal:home", _name("home")),
    NavItem("Control room", "portal:control-room", _name("control-room")),
    NavItem("Programs", "programs:program-list", _app("programs", word="program")),
    NavItem("Events", "programs:event-calendar", _app("programs", word="event")),
    NavItem(
        "Enrollments",
        "enrollment:queue",
        _app("enrollment", names=("queue", "detail", "funnel", "whitelist-import")),
    ),
    NavItem("Customers", "enrollment:customer-list", _name("customer-list")),
    NavItem("Devices", "devices:device-list", _name("device-list")),
    NavItem("Connectors", "connectors:site-list", _name("site-list")),
    NavItem("2030.5 clients", "protocol:client-list", _app("protocol")),
    NavItem(
        "Vendors",
        "vendors:application-list",
        _app("vendors", names=("application-list", "application-detail", "run-detail")),
    ),
    NavItem("Settlement", "settlement:home", _app("settlement")),
    NavItem("Alerts", "portal:alert-list", _name("alert-list")),
    NavItem("Utility", "portal:utility-settings", _name("utility-settings")),
    # A customer's own pages.
    NavItem("My battery", "enrollment:my", _app("enrollment", names=("my",))),
    # A vendor or aggregator user's organisation.
    NavItem(
        "My organisation",
        "vendors:vendor-home",
        lambda m: m.app_name == "vendors" and (m.url_name or "").startswith("vendor-"),
    ),
    # Platform operators.
    NavItem("Vendor organisations", "vendors:platform-vendors", _name("platform-vendors")),
    NavItem("Status", "portal:status", _name("status")),
    NavItem("Admin", "admin:index", lambda m: False, check=admin.site.has_permission),
    NavItem("API", "api-docs", _name("api-docs")),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    current: bool


def main_nav(request: HttpRequest) -> list[NavLink]:
    """The links ``request``'s user may follow, the current page's marked."""
    match = request.resolver_match
    return [
        NavLink(item.label, reverse(item.url_name), match is not None and item.current(match))
        for item in MAIN_NAV
        if item.shown_to(request)
    ]
