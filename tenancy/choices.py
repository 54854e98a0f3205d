from django.db import models


class Role(models.TextChoices):
    """What a utility staff member may do in the portal."""

    PROGRAM_MANAGER = "program_manager", "Program manager"
    OPERATOR = "operator", "Operator"
    ANALYST = "analyst", "Read-only analyst"


# Roles that may change data; analysts only read.
WRITE_ROLES = frozenset({Role.PROGRAM_MANAGER, Role.OPERATOR})
ALL_ROLES = frozenset(Role)
# Roles that may download customers' names, addresses, accounts and amounts (exports and
# payment files). Operators run the grid and the fleet; they do not need them.
EXPORT_ROLES = frozenset({Role.PROGRAM_MANAGER, Role.ANALYST})
