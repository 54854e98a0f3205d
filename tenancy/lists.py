"""List pages: one declarative way to search, filter, order and page a tenant's rows.

A view lists ``search_fields`` and ``filters`` and gets a validated GET form, the shared
partials ``portal/_list_filters.html`` and ``portal/_pager.html``, and an empty state that
tells "nothing yet" from "nothing matches". Scoping stays with the view's own
``get_queryset`` (``UtilityScopedMixin`` or a tenant selector): this mixin only narrows it.

Search terms in ``search_fields`` follow the admin's prefixes: ``name`` matches anywhere
(icontains), ``^serial`` matches a prefix, ``=lfdi`` matches exactly. A prefix search is
written as a range on the raw column as well, so an index on it is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django import forms
from django.db.models import Q, QuerySet

if TYPE_CHECKING:
    from django.views.generic.base import View
    from django.views.generic.list import MultipleObjectMixin

    class _ListViewBase(MultipleObjectMixin[Any], View):
        """What ``ListPageMixin`` stands on: a ``ListView``."""
else:
    _ListViewBase = object

SEARCH_MAX_LENGTH = 100


@dataclass
class ListFilter:
    """One select on a list page; ``field`` is the ORM path it filters, ``method`` a view hook."""

    name: str
    label: str
    field: str = ""
    method: str = ""
    any_label: str = "Any"
    default: str = ""  # used when the parameter is absent (not when it is empty)

    def choices(self, view) -> list[tuple[str, str]]:
        raise NotImplementedError

    def to_python(self, value: str) -> Any:
        return value

    def apply(self, view, queryset: QuerySet, value: Any) -> QuerySet:
        if self.method:
            return getattr(view, self.method)(queryset, value)
        return queryset.filter(**{self.field or self.name: value})


@dataclass
class ChoiceFilter(ListFilter):
    """A fixed set of values (e.g. ``TextChoices``), or the view's ``options_method`` result."""

    options: list[tuple[str, str]] = field(default_factory=list)
    options_method: str = ""

    def choices(self, view):
        if self.options_method:
            cache = view.__dict__.setdefault("_list_options", {})
            if self.name not in cache:
                cache[self.name] = list(getattr(view, self.options_method)())
            options = cache[self.name]
        else:
            options = self.options
        return [(str(value), str(label)) for value, label in options]


@dataclass
class BooleanFilter(ListFilter):
    """Yes or no; ``yes_label`` and ``no_label`` say what each means on this page."""

    yes_label: str = "Yes"
    no_label: str = "No"

    def choices(self, view):
        return [("yes", self.yes_label), ("no", self.no_label)]

    def to_python(self, value):
        return value == "yes"


@dataclass
class ForeignKeyFilter(ListFilter):
    """One of the active utility's rows of ``model`` (ids of other utilities are refused)."""

    model: Any = None
    label_field: str = "name"

    def choices(self, view):
        cache = view.__dict__.setdefault("_list_fk_choices", {})
        if self.name not in cache:
            rows = self.model.objects.all().for_utility(view.request.utility)
            cache[self.name] = [
                (str(pk), str(label))
                for pk, label in rows.order_by(self.label_field).values_list("pk", self.label_field)
            ]
        return cache[self.name]

    def to_python(self, value):
        return int(value)


def _after_prefix(term: str) -> str | None:
    """The least string above every string that starts with ``term`` (None: no such one)."""
    for i in range(len(term) - 1, -1, -1):
        code = ord(term[i]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored
            code = 0xE000
        if code <= 0x10FFFF:
            return term[:i] + chr(code)
    return None


def prefix_q(path: str, term: str) -> Q:
    """``startswith`` plus the equivalent range on the column, which a B-tree index can serve."""
    match = Q(**{f"{path}__gte": term, f"{path}__startswith": term})
    if (upper := _after_prefix(term)) is not None:
        match &= Q(**{f"{path}__lt": upper})
    return match


def search_q(search_fields: Iterable[str], term: str) -> Q:
    """OR of every search field matching ``term`` (see the module docstring for prefixes)."""
    match = Q()
    for spec in search_fields:
        if spec.startswith("^"):
            match |= prefix_q(spec[1:], term)
        elif spec.startswith("="):
            match |= Q(**{spec[1:]: term})
        else:
            match |= Q(**{f"{spec}__icontains": term})
    return match


class ListPageMixin(_ListViewBase):
    """For ``ListView`` pages: declarative search, validated filters, ordering and paging.

    List it first among the bases, before the scoping mixin: ``get_base_queryset`` is the
    scoping mixin's ``get_queryset`` (or a tenant selector) and this only narrows it. A
    view's own ``get_queryset`` may add ``select_related`` on top.
    """

    search_fields: tuple[str, ...] = ()
    search_placeholder = "Search"
    filters: tuple[ListFilter, ...] = ()
    ordering: tuple[str, ...] | None = None
    paginate_by = 50
    list_noun = "rows"  # plural, lower case: "devices", "programs"
    empty_hint = ""  # what to do when there are none at all, e.g. "Add the first site."

    def get_list_form(self) -> forms.Form:
        if not hasattr(self, "_list_form"):
            fields: dict[str, forms.Field] = {
                "q": forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH)
            }
            for f in self.filters:
                fields[f.name] = forms.ChoiceField(
                    required=False, label=f.label, choices=[("", f.any_label), *f.choices(self)]
                )
            form_class = type("ListFilterForm", (forms.Form,), fields)
            data = self.request.GET.copy()
            for f in self.filters:
                if f.default and f.name not in data:
                    data[f.name] = f.default
            self._list_form = form_class(data)
            self._list_form.is_valid()
        return self._list_form

    def get_list_params(self) -> dict[str, Any]:
        """The valid, non-empty search and filter values; invalid ones are left out."""
        form = self.get_list_form()
        cleaned = getattr(form, "cleaned_data", {})
        params = {}
        if (term := (cleaned.get("q") or "").strip()) and "q" not in form.errors:
            params["q"] = term
        for f in self.filters:
            value = cleaned.get(f.name)
            if value is not None and value != "" and f.name not in form.errors:
                params[f.name] = f.to_python(value)
        return params

    def list_errors(self) -> list[str]:
        form = self.get_list_form()
        errors = []
        for name in form.errors:
            if name == "q":
                errors.append(f"Search ignored: {' '.join(map(str, form.errors['q']))}")
                continue
            label = str(form.fields[name].label) if name in form.fields else name
            value = self.request.GET.get(name, "")
            errors.append(f"“{value[:40]}” is not a valid {label.lower()}; that filter is ignored.")
        return errors

    def search_queryset(self, queryset: QuerySet, term: str) -> QuerySet:
        return queryset.filter(search_q(self.search_fields, term))

    def get_base_queryset(self) -> QuerySet:
        """The rows before search and filters: the view's scoped queryset."""
        return super().get_queryset()

    def get_queryset(self):
        queryset = self.get_base_queryset()
        params = self.get_list_params()
        if "q" in params:
            queryset = self.search_queryset(queryset, params["q"])
        for f in self.filters:
            if f.name in params:
                queryset = f.apply(self, queryset, params[f.name])
        if self.ordering:
            queryset = queryset.order_by(*self.ordering)
        return queryset

    def paginate_queryset(self, queryset, page_size):
        """Like ``ListView``'s, but a bad or too-high page number shows the nearest page."""
        paginator = self.get_paginator(
            queryset,
            page_size,
            orphans=self.get_paginate_orphans(),
            allow_empty_first_page=self.get_allow_empty(),
        )
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = self.get_list_form()
        params = self.get_list_params()
        query = self.request.GET.copy()
        query.pop("page", None)
        keep_empty = {f.name for f in self.filters if f.default}
        for name in list(query):
            if name in form.errors or not (query.get(name) or name in keep_empty):
                query.pop(name)
        selected = {name: form.data.get(name, "") for name in params}
        context.update(
            list_search=bool(self.search_fields)
            or type(self).search_queryset is not ListPageMixin.search_queryset,
            list_search_placeholder=self.search_placeholder,
            list_q=params.get("q", ""),
            list_filters=[
                {
                    "name": f.name,
                    "label": f.label,
                    "options": [("", f.any_label), *f.choices(self)],
                    "selected": selected.get(f.name, ""),
                }
                for f in self.filters
            ],
            list_errors=self.list_errors(),
            list_filtered=any(name in self.request.GET for name in params),
            list_noun=self.list_noun,
            list_empty_hint=self.empty_hint,
            list_url=self.request.path,
            querystring=query.urlencode(),
        )
        return context
