"""Query-parameter filters shared by the API's list views."""

# The largest id a row can have (a 64-bit signed key): a bigger one matches nothing.
MAX_ID = 2**63 - 1


def id_filter(queryset, params, name: str, field: str):
    """`?name=<id>`: only rows whose `field` is that id; anything that cannot be an id
    (not a number, or past any key) matches nothing and never reaches the database."""
    value = params.get(name)
    if value is None or value == "":
        return queryset
    if not value.isdigit() or int(value) > MAX_ID:
        return queryset.none()
    return queryset.filter(**{field: int(value)})
