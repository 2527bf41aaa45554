"""What the check tests share."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from greenisle.manifests.receipt import manifest_receive
from greenisle.supervision.models import Finding


def raised(module: ModuleType) -> list[Finding]:
    """The findings of the module's rule, oldest first."""
    return list(Finding.objects.filter(rule=module.RULE.code).order_by("created_at", "pk"))


def receive(world: Any, manifest: Any, given: dict[str, Any]) -> Any:
    """The warehouse receiver confirms ``manifest``: ``given`` maps a container code to a received
    weight (accepted as is) or to the line's receipt (``{"received_weight_kg", "decision", …}``)."""
    lines = {
        str(line.pk): given.get(line.container_code, str(line.weight_kg)) for line in manifest.lines.all()
    }
    return manifest_receive(actor=world.receiver, manifest_id=manifest.pk, lines=lines)
