"""`{% traffic_panel %}`, `{% traffic_panel api_id=api.pk %}`,
`{% traffic_panel application_id=application.pk %}`: console/traffic.py."""

from django import template

from console import traffic

register = template.Library()


@register.inclusion_tag("console/includes/traffic.html", takes_context=True)
def traffic_panel(context, api_id=None, application_id=None) -> dict:
    request = context.get("request")
    return {"request": request, **traffic.panel(request, api_id, application_id)}
