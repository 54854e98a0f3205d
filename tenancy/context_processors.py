from tenancy.choices import WRITE_ROLES, Role


def tenancy(request):
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    return {
        "active_utility": getattr(request, "utility", None),
        "active_membership": membership,
        "user_memberships": getattr(request, "memberships", []),
        "role": role,
        "can_write": role in WRITE_ROLES,
        "is_manager": role == Role.PROGRAM_MANAGER,
        "is_operator": role == Role.OPERATOR or getattr(request.user, "is_staff", False),
    }
