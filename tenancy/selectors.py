"""Reads about who belongs where. Lookups take the utility and re-check it (fail closed)."""

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from tenancy.models import Membership, Utility

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

_M = TypeVar("_M", bound=Model)


def memberships_for_user(*, user: "User | AnonymousUser") -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user).select_related("utility"))


def get_for_utility(queryset: QuerySet[_M], *, utility: Utility, **lookup: Any) -> _M:
    """One tenant-owned object, or 404: another utility's object answers like a missing one."""
    if not hasattr(queryset, "for_utility"):
        raise TypeError(f"{queryset.model.__name__} is not tenant-owned; it cannot be scoped")
    try:
        obj = queryset.for_utility(utility).get(**lookup)
    except ObjectDoesNotExist as exc:  # the model's DoesNotExist
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.") from exc
    # Belt and braces: a lookup that joined its way elsewhere must still land in this utility.
    owner_id = obj.pk if isinstance(obj, Utility) else obj.utility_id
    if owner_id != utility.pk:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches.")
    return obj
