"""``{% permits %}``: whether the current user may open (or post to) a URL, as its view says.

{% load permits %}
{% permits "programs:program-update" program.pk as may_edit %}
{% permits "portal:alert-action" alert.pk "resolve" method="POST" as may_resolve %}
"""

from django import template

from tenancy.permissions import url_permits

register = template.Library()


@register.simple_tag(takes_context=True)
def permits(context, url_name: str, *args, method: str = "GET") -> bool:
    request = context.get("request")
    if request is None:
        return False
    return url_permits(request, url_name, *args, method=method)
