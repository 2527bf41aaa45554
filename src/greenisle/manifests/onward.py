"""Onward transfers (办法 Art. 31): the collector ships what it collected from its warehouse to a
licensed facility. The collector is then the 移出人: it signs as producer, carries (or hands over to
a carrier) and the facility receives. Each onward line points at the small producer's line its
container came in on, and the onward manifest at the manifests that fed it, so every kilogram is
traceable from the bin to its treatment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import DISPATCH_ROLES, RECEIVE_ROLES, membership_of
from greenisle.audit.services import event_record
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.dispatch.models import Vehicle
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.manifests.services import _events, _receiver_site, manifest_number_next
from greenisle.manifests.validation import ManifestInvalid, manifest_check
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization


def stock_lines(collector: Any) -> Any:
    """The containers in the collector's storage: accepted on a received collection manifest and
    not on an onward manifest that is still valid."""
    shipped = ManifestLine.objects.filter(source_line__isnull=False).exclude(
        manifest__status=ManifestStatus.CANCELLED
    )
    return (
        ManifestLine.objects.filter(
            manifest__receiver=collector,
            manifest__kind=ManifestKind.COLLECTION,
            manifest__status__in=[ManifestStatus.RECEIVED, ManifestStatus.TREATED],
            accepted_weight_kg__gt=0,
        )
        .exclude(pk__in=shipped.values("source_line_id"))
        .select_related("manifest__producer", "waste_code")
        .order_by("manifest__received_at", "id")
    )


@transaction.atomic
def manifest_onward_create(
    *, actor: Any, receiver_id: Any, line_ids: Sequence[Any], vehicle_id: Any = None
) -> Manifest:
    """A draft onward manifest from the collector's warehouse to ``receiver_id`` with the given
    stored containers (ids of the lines they came in on). Checked against the facility's licence
    before anything is written."""
    membership = membership_of(actor)
    collector = membership.organization
    if collector.kind != OrganizationKind.COLLECTOR or membership.role not in (
        DISPATCH_ROLES | RECEIVE_ROLES
    ):
        raise PermissionDenied(
            "只有收集单位的调度或库管可发起转运 / only a collector's dispatcher or receiver ships on"
        )
    facility = Organization.objects.filter(pk=receiver_id, kind=OrganizationKind.FACILITY).first()
    if facility is None:
        raise NotFound("利用处置单位不存在 / no such facility", field="receiver_id")
    wanted = {str(i) for i in line_ids or []}
    if not wanted:
        raise ServiceError("请选择要转运的容器 / choose the containers to ship", field="line_ids")
    stock = list(
        stock_lines(collector)
        .select_for_update(of=("self",))
        .filter(pk__in=[int(i) for i in wanted if i.isdigit()])
    )
    missing = wanted - {str(line.pk) for line in stock}
    if missing:
        raise ServiceError(
            f"这些容器不在库或已转运：{sorted(missing)} / not in storage or already shipped: {sorted(missing)}",
            field="line_ids",
        )
    vehicle = None
    if vehicle_id:
        vehicle = Vehicle.objects.filter(pk=vehicle_id, collector=collector, active=True).first()
        if vehicle is None:
            raise NotFound("车辆不存在 / no such vehicle of yours", field="vehicle_id")
    warehouse = _receiver_site(collector)
    if warehouse is None:
        raise ServiceError("收集单位没有贮存场所 / the collector has no storage site", field="producer_site")
    manifest = Manifest.objects.create(
        number=manifest_number_next(division_code=warehouse.division_id, year=timezone.localtime().year),
        kind=ManifestKind.ONWARD,
        producer=collector,
        producer_site=warehouse,
        carrier=collector,
        receiver=facility,
        receiver_site=_receiver_site(facility),
        vehicle=vehicle,
    )
    for line in stock:
        ManifestLine.objects.create(
            manifest=manifest,
            waste_code=line.waste_code,
            container_code=line.container_code,
            container_id=line.container_id,
            weight_kg=line.accepted_weight_kg,
            source_line=line,
        )
    manifest.sources.set({line.manifest_id for line in stock})
    report = manifest_check(manifest)
    if report.errors:
        raise ManifestInvalid(report)  # rolls back the draft: nothing half-made is left
    event_record(
        action="manifests.manifest.created",
        obj=manifest,
        actor=actor,
        organization=collector,
        payload={
            "number": manifest.number,
            "kind": ManifestKind.ONWARD,
            "sources": sorted(m.number for m in manifest.sources.all()),
            "containers": [line.container_code for line in stock],
        },
        **_events(manifest),
    )
    return manifest
