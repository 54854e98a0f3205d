"""Reads for vendors."""

from vendors.models import VendorMembership


def vendor_membership(user) -> VendorMembership | None:
    """The user's vendor membership (the first, if several), or None."""
    if not user.is_authenticated:
        return None
    return (
        VendorMembership.objects.select_related("organization")
        .filter(user=user)
        .order_by("pk")
        .first()
    )
