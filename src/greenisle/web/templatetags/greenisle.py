from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def fill_bar(fill: Any, threshold: Any = 80) -> str:
    """A fill gauge: amber from 60 %, red at or above the bin's threshold."""
    # A bin that has not reported yet has no state: the template passes "" (an invalid variable), not None.
    if fill is None or fill == "":
        return format_html('<span class="muted">{}</span>', "—")
    value = float(fill)
    css = "full" if value >= float(threshold) else ("warn" if value >= 60 else "")
    return format_html(
        '<div class="bar {}" title="{}%"><span style="width:{}%"></span></div> {}%',
        css,
        f"{value:.0f}",
        f"{min(value, 100):.0f}",
        f"{value:.0f}",
    )


@register.filter
def status_badge(obj: Any) -> str:
    return format_html('<span class="status {}">{}</span>', obj.status, obj.get_status_display())
