"""Small factories for tests. ``TENANT_FACTORIES`` makes one row of every tenant-owned model.

The tenant-isolation sweep creates one of each for another utility; a tenant-owned model
without a factory here makes that test fail, so later models cannot slip past it.
"""

import itertools

from django.contrib.auth import get_user_model

from enrollment.models import Customer
from portal.models import Brand, Membership, TerritoryArea, Utility
from portal.tenancy.choices import Role

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def user(email: str | None = None, **fields):
    email = email or f"user{next(_seq)}@example.test"
    return get_user_model().objects.create_user(
        username=email, email=email, password=PASSWORD, **fields
    )


def utility(name: str | None = None, **fields) -> Utility:
    n = next(_seq)
    name = name or f"Utility {n}"
    return Utility.objects.create(name=name, slug=fields.pop("slug", f"utility-{n}"), **fields)


def member(utility: Utility, role: str = Role.PROGRAM_MANAGER, **user_fields):
    person = user(**user_fields)
    Membership.objects.create(utility=utility, user=person, role=role)
    return person


def brand(utility: Utility, marker: str = "") -> Brand:
    return Brand.objects.create(utility=utility, name=f"{marker}Brand {next(_seq)}", states="OR")


def territory_area(utility: Utility, marker: str = "") -> TerritoryArea:
    return TerritoryArea.objects.create(utility=utility, state="ZZ", zip_prefix=str(next(_seq))[:5])


def membership(utility: Utility, marker: str = "") -> Membership:
    person = user(email=f"{marker.lower().strip('-')}{next(_seq)}@example.test")
    return Membership.objects.create(utility=utility, user=person, role=Role.ANALYST)


def customer(utility: Utility, marker: str = "") -> Customer:
    return Customer.objects.create(utility=utility, user=user(), name=f"{marker}Customer")


# model -> factory(utility, marker). The marker is a string that must never show up in
# another utility's pages.
TENANT_FACTORIES = {
    Brand: brand,
    TerritoryArea: territory_area,
    Membership: membership,
    Customer: customer,
}
