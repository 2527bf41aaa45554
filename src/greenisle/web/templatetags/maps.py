"""The base-map tile server for Leaflet maps: ``data-tiles="{% map_tile_url %}"`` on a map element.

Empty unless ``GREENISLE["MAP_TILE_URL"]`` is set: maps then draw on a blank background (the command
centre with its bundled district boundaries) and the browser asks no one on the internet for tiles."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def map_tile_url() -> str:
    return str(settings.GREENISLE.get("MAP_TILE_URL") or "")
