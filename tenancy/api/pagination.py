from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset paging whose numbers always fit the database's integers.

    An unbounded ``?limit=`` or ``?offset=`` overflows SQLite's 64-bit LIMIT (a 500 the
    OpenAPI fuzz test found); pages stop at 1,000 rows and offsets at a billion. A value
    that is not a whole number is refused with a 400, as the schema's `integer` says
    (it used to be silently replaced by the default page).
    """

    max_limit = 1000
    max_offset = 1_000_000_000

    def paginate_queryset(self, queryset, request, view=None):
        for name in (self.limit_query_param, self.offset_query_param):
            if name in request.query_params and not request.query_params[name].isdigit():
                raise ValidationError({name: ["Must be a whole number (0 or more)."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 0
        return parameters

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)
