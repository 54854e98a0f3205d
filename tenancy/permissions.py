"""Whether a request may open a page or send it a form: the question every link and button
asks, answered by the view behind the URL itself.

A view that guards itself declares ``permits(request, method)`` (a classmethod on a class
view, an attribute on a function view) and its ``dispatch`` refuses exactly what
``permits`` refuses. Templates ask through ``{% permits %}`` (``tenancy.templatetags``), the
navigation through :func:`url_permits`, so what a page offers and what its target enforces
cannot disagree: there is no second list of who may do what.

A view that declares nothing is never offered (fail closed): a link nobody can vouch for is
left out rather than shown and refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Permits = Callable[[HttpRequest, str], bool]


def view_permits(view: Callable[..., Any]) -> Permits | None:
    """The ``permits`` check a resolved view function carries (its class's, for a CBV)."""
    for owner in (getattr(view, "view_class", None), getattr(view, "cls", None), view):
        check = getattr(owner, "permits", None) if owner is not None else None
        if check is not None:
            return check
    return None


def url_permits(request: HttpRequest, url_name: str, *args: Any, method: str = "GET") -> bool:
    """Whether ``request``'s user may ``method`` the page named ``url_name`` (with ``args``)."""
    try:
        path = reverse(url_name, args=args)
    except NoReverseMatch:
        return False
    return path_permits(request, path, method=method)


def path_permits(request: HttpRequest, path: str, *, method: str = "GET") -> bool:
    """Whether ``request``'s user may ``method`` ``path``, as the view behind it says."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    check = view_permits(match.func)
    if check is None or not request.user.is_authenticated:
        return False
    return bool(check(request, method.upper()))
