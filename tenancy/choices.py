from django.db import models


class Role(models.TextChoices):
    """What a utility staff member may do in the portal."""

    PROGRAM_MANAGER = "program_manager", "Program manager"
    OPERATOR = "operator", "Operator"
    ANALYST = "analyst", "Read-only analyst"


# Roles that may change data; analysts only read.
WRITE_ROLES = frozenset({Role.PROGRAM_MANAGER, Role.OPERATOR})
ALL_ROLES = frozenset(Role)
