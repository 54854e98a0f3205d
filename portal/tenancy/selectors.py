"""Reads about who belongs where. Lookups take the utility and re-check it (fail closed)."""

from django.http import Http404

from portal.tenancy.models import Membership, TenantModel, Utility


def memberships_for_user(*, user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).select_related("utility"))


def scope_to_utility(queryset, utility):
    """Narrow any queryset of tenant-owned rows to one utility; no utility means no rows."""
    model = queryset.model
    if not issubclass(model, TenantModel) and model is not Utility:
        raise TypeError(f"{model.__name__} is not tenant-owned; it cannot be scoped")
    if utility is None:
        return queryset.none()
    if model is Utility:
        return queryset.filter(pk=utility.pk)
    return queryset.filter(utility=utility)


def get_for_utility(queryset, *, utility, **lookup):
    """One tenant-owned object, or 404: another utility's object answers like a missing one."""
    try:
        obj = scope_to_utility(queryset, utility).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.") from exc
    # Belt and braces: a lookup that joined its way elsewhere must still land in this utility.
    owner_id = obj.pk if isinstance(obj, Utility) else obj.utility_id
    if owner_id != utility.pk:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.")
    return obj
