"""The event vocabulary in templates: ``{{ key|funnel_label }}``, ``{{ event|control_modes }}``."""

from django import template

from programs.forms import controls_in_words, controls_summary
from programs.selectors import FUNNEL_LABELS

register = template.Library()


@register.filter
def funnel_label(key: str) -> str:
    return FUNNEL_LABELS.get(key, key)


@register.filter
def control_modes(obj) -> list[tuple[str, str]]:
    """An event's or a default's modes and settings in words: [(label, "3 kW")]."""
    return controls_in_words(obj)


@register.filter
def control_summary(obj) -> str:
    """One line of an event's modes for lists: "Connection disconnect, Ramp time 5 s"."""
    return controls_summary(obj)
