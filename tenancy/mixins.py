"""View mixins: the portal's single place where pages are narrowed to the active utility."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import BaseModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from tenancy.choices import ALL_ROLES, WRITE_ROLES
from tenancy.models import TenantQuerySet
from tenancy.permissions import SAFE_METHODS
from tenancy.selectors import get_for_utility

if TYPE_CHECKING:
    from django.views.generic.base import TemplateResponseMixin, View

    from tenancy.resolution import MemberRequest

    class _MemberViewBase(LoginRequiredMixin, TemplateResponseMixin, View):
        """What the mixins stand on: a class-based view (its ``request`` is declared by both)."""

    class _ObjectViewBase(_MemberViewBase):
        """What ``UtilityScopedMixin`` needs from the generic list, detail and edit views."""

        slug_field: str
        slug_url_kwarg: str
        pk_url_kwarg: str

        def get_queryset(self) -> TenantQuerySet: ...
        def form_valid(self, form: BaseModelForm[Any]) -> HttpResponse: ...
else:
    _MemberViewBase = LoginRequiredMixin
    _ObjectViewBase = object


class UtilityMemberMixin(_MemberViewBase):
    """A logged-in staff member of the active utility, holding one of ``allowed_roles``.

    Unsafe methods additionally need a write role unless ``write_roles`` says otherwise.
    """

    request: MemberRequest  # once dispatch() has let it through
    allowed_roles: Collection[str] = ALL_ROLES
    write_roles: Collection[str] = WRITE_ROLES

    @classmethod
    def refusal(cls, request: HttpRequest, method: str) -> str:
        """Why ``request``'s user may not ``method`` this view ('' when they may)."""
        membership = getattr(request, "membership", None)
        if membership is None or membership.role not in cls.allowed_roles:
            return "Your account has no role here at this utility."
        if method not in SAFE_METHODS and membership.role not in cls.write_roles:
            return "Your role can view this page but not change it."
        return ""

    @classmethod
    def permits(cls, request: HttpRequest, method: str = "GET") -> bool:
        """What links and buttons ask (``tenancy.permissions``); ``dispatch`` enforces it."""
        return request.user.is_authenticated and not cls.refusal(request, method)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        refusal = self.refusal(request, request.method or "GET")
        if refusal:
            raise PermissionDenied(refusal)
        return super().dispatch(request, *args, **kwargs)


class UtilityScopedMixin(UtilityMemberMixin, _ObjectViewBase):
    """For list, detail and edit views of tenant-owned models: rows of the active utility only."""

    def get_queryset(self) -> TenantQuerySet:
        return super().get_queryset().for_utility(self.request.utility)

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Any:
        queryset = self.get_queryset() if queryset is None else queryset
        lookup = (
            {self.slug_field: self.kwargs[self.slug_url_kwarg]}
            if (self.slug_url_kwarg in self.kwargs)
            else {"pk": self.kwargs[self.pk_url_kwarg]}
        )
        return get_for_utility(queryset, utility=self.request.utility, **lookup)

    def form_valid(self, form: BaseModelForm[Any]) -> HttpResponse:
        if hasattr(form.instance, "utility_id") and form.instance.utility_id is None:
            form.instance.utility = self.request.utility
        return super().form_valid(form)


class UtilityDownloadMixin(UtilityScopedMixin):
    """A file download of the active utility: a wrong utility or a wrong role gets the same
    404 as a missing file, so enumerating IDs learns nothing."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except PermissionDenied:
            raise Http404("No such file.") from None
