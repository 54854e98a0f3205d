from django import template

from portal.navigation import main_nav as links_for

register = template.Library()


@register.inclusion_tag("portal/_main_nav.html", takes_context=True)
def main_nav(context):
    request = context.get("request")
    return {"links": links_for(request) if request is not None else []}
