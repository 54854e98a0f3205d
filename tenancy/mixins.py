"""View mixins: the portal's single place where pages are narrowed to the active utility."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from tenancy.choices import ALL_ROLES, WRITE_ROLES
from tenancy.selectors import get_for_utility


class UtilityMemberMixin(LoginRequiredMixin):
    """A logged-in staff member of the active utility, holding one of ``allowed_roles``.

    Unsafe methods additionally need a write role unless ``write_roles`` says otherwise.
    """

    allowed_roles = ALL_ROLES
    write_roles = WRITE_ROLES

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = request.membership
        if membership is None or membership.role not in self.allowed_roles:
            raise PermissionDenied("Your account has no role here at this utility.")
        if request.method not in ("GET", "HEAD", "OPTIONS") and (
            membership.role not in self.write_roles
        ):
            raise PermissionDenied("Your role can view this page but not change it.")
        return super().dispatch(request, *args, **kwargs)


class UtilityScopedMixin(UtilityMemberMixin):
    """For list, detail and edit views of tenant-owned models: rows of the active utility only."""

    def get_queryset(self):
        return super().get_queryset().for_utility(self.request.utility)

    def get_object(self, queryset=None):
        queryset = self.get_queryset() if queryset is None else queryset
        lookup = (
            {self.slug_field: self.kwargs[self.slug_url_kwarg]}
            if (self.slug_url_kwarg in self.kwargs)
            else {"pk": self.kwargs[self.pk_url_kwarg]}
        )
        return get_for_utility(queryset, utility=self.request.utility, **lookup)

    def form_valid(self, form):
        if hasattr(form.instance, "utility_id") and form.instance.utility_id is None:
            form.instance.utility = self.request.utility
        return super().form_valid(form)
