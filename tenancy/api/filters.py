"""Query-parameter filters shared by the API's list views."""

from collections.abc import Collection

from rest_framework.exceptions import ValidationError

# The largest id a row can have (a 64-bit signed key): a bigger one matches nothing.
MAX_ID = 2**63 - 1


def id_filter(queryset, params, name: str, field: str):
    """`?name=<id>`: only rows whose `field` is that id. Anything that is not a whole
    number is refused with a 400 (the schema says `integer`); a number no key can have
    (0, negative, or past the largest) matches nothing and never reaches the database."""
    if name not in params:
        return queryset
    value = params.get(name)
    if not value.removeprefix("-").isdigit():
        raise ValidationError({name: ["Must be an id (a whole number)."]})
    if not 0 < int(value) <= MAX_ID:
        return queryset.none()
    return queryset.filter(**{field: int(value)})


def choice_param(params, name: str, choices: Collection[str]) -> str | None:
    """`?name=<choice>`: the value if it is one of `choices`, None when absent; any other
    value is refused with a 400 naming the choices (the schema documents them as an enum)."""
    if name not in params:
        return None
    value = params.get(name)
    if value not in choices:
        raise ValidationError({name: [f"Must be one of: {', '.join(choices)}."]})
    return value
