from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

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


@register.simple_tag
def connection_badge(connection: Any) -> str:
    """How a bin is reporting: online, offline, never heard from, or disabled."""
    labels = {
        "online": _("Online"),
        "offline": _("Offline"),
        "never": _("Never reported"),
        "disabled": _("Disabled"),
    }
    if connection not in labels:
        return format_html('<span class="muted">{}</span>', "—")
    return format_html('<span class="conn {}">{}</span>', connection, labels[connection])
