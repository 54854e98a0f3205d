"""The event status vocabulary in templates: ``{{ key|funnel_label }}``."""

from django import template

from programs.selectors import FUNNEL_LABELS

register = template.Library()


@register.filter
def funnel_label(key: str) -> str:
    return FUNNEL_LABELS.get(key, key)
