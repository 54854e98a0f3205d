"""Reads about who belongs where. Lookups take the utility and re-check it (fail closed)."""

from django.http import Http404

from tenancy.models import Membership, Utility


def memberships_for_user(*, user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).select_related("utility"))


def get_for_utility(queryset, *, utility, **lookup):
    """One tenant-owned object, or 404: another utility's object answers like a missing one."""
    if not hasattr(queryset, "for_utility"):
        raise TypeError(f"{queryset.model.__name__} is not tenant-owned; it cannot be scoped")
    try:
        obj = queryset.for_utility(utility).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.") from exc
    # Belt and braces: a lookup that joined its way elsewhere must still land in this utility.
    owner_id = obj.pk if isinstance(obj, Utility) else obj.utility_id
    if owner_id != utility.pk:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.")
    return obj
