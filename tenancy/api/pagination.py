from rest_framework.pagination import LimitOffsetPagination


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset paging whose numbers always fit the database's integers.

    An unbounded ``?limit=`` or ``?offset=`` overflows SQLite's 64-bit LIMIT (a 500 the
    OpenAPI fuzz test found); pages stop at 1,000 rows and offsets at a billion.
    """

    max_limit = 1000
    max_offset = 1_000_000_000

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)
