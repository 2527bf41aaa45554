"""Write a demo plan: bulk inserts, one audit event per created object, then the bins' first readings.

The registry is written with ``bulk_create`` (one INSERT per few hundred rows) because a thousand
producers created one by one would take minutes. Bypassing the services does not bypass the audit
chain: every created organisation, site, licence, vehicle, bin, service contract and membership
gets its own ``*.created`` event through :func:`greenisle.audit.services.event_record`, in the same
transaction as the rows (the caller's: :func:`greenisle.demo.loading.demo_load`).

Bins get their readings through the real ingest path (``reading_validate`` + ``reading_ingest``),
so their states, the pickup requests that crossing the threshold opens and those requests' audit
events are exactly what a live bin would produce.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import models
from django.utils import timezone

from greenisle.accounts.models import Membership, User
from greenisle.audit.services import event_record
from greenisle.catalog.models import HazardCategory, WasteCode
from greenisle.demo.plan import Plan
from greenisle.devices.models import Bin
from greenisle.dispatch.models import Depot, Driver, Vehicle, WasteClassGroup
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site
from greenisle.telemetry.services import reading_ingest, reading_validate

Progress = Callable[[float, str], None]
PLANNING_SHARE = 0.07


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Writer:
    """Writes a plan: bulk inserts, then one audit event per created object, then readings."""

    BATCH = 500

    def __init__(self, plan: Plan, progress: Progress, *, seed: int) -> None:
        self.plan = plan
        self.progress = progress
        self.rng = random.Random(seed + 2)
        # Planning (mostly three deliberately slow password hashes) took the first part of the bar.
        self.done = PLANNING_SHARE

    def step(
        self, share: float, label: str, items: Sequence[Any], fn: Callable[[Sequence[Any]], None]
    ) -> None:
        """Run ``fn`` over ``items`` in batches, moving the bar through ``share`` of its length."""
        total = max(len(items), 1)
        seen = 0
        self.progress(self.done, label)
        for chunk in _chunks(items, self.BATCH if len(items) > self.BATCH else max(len(items), 1)):
            fn(chunk)
            seen += len(chunk)
            self.progress(self.done + share * seen / total, label)
        self.done += share

    def bulk(self, model: type[models.Model], rows: Sequence[models.Model]) -> None:
        model.objects.bulk_create(rows, batch_size=self.BATCH)  # type: ignore[attr-defined]

    def write(self, codes: dict[str, WasteCode]) -> dict[str, int]:
        plan = self.plan
        # Shares of the bar follow measured time (1,200 producers on SQLite: bulk inserts 0.3 s,
        # 5,000 audit events 2 s, 3,600 readings through ingest 8 s).
        self.step(0.01, "单位 organisations", plan.organizations, lambda rows: self.bulk(Organization, rows))
        self.step(0.01, "场所 sites", plan.sites, lambda rows: self.bulk(Site, rows))
        self.step(0.005, "许可证 licences", plan.licences, self.licences(codes))
        self.step(0.002, "仓库 depots", plan.depots, lambda rows: self.bulk(Depot, rows))
        self.step(0.002, "相容组 compatible groups", plan.class_groups, self.class_groups)
        self.step(0.005, "车辆 vehicles", plan.vehicles, lambda rows: self.bulk(Vehicle, rows))
        self.step(0.002, "车辆分组 vehicle groups", plan.vehicle_groups, self.vehicle_groups)
        self.step(0.01, "服务合同 contracts", plan.contracts, lambda rows: self.bulk(ServiceContract, rows))
        self.step(0.01, "云仓 smart bins", plan.bins, self.bins(codes))
        users: dict[str, User] = {}
        self.step(
            0.005,
            "用户 users",
            plan.users,
            lambda rows: users.update(
                (u.username, u) for u in User.objects.bulk_create(rows, batch_size=self.BATCH)
            ),
        )
        memberships: list[Membership] = []
        self.step(
            0.005,
            "成员 memberships",
            plan.memberships,
            lambda rows: memberships.extend(
                Membership.objects.bulk_create(
                    [
                        Membership(user=users[username], organization=org, role=role)
                        for username, org, role in rows
                    ],
                    batch_size=self.BATCH,
                )
            ),
        )
        self.step(
            0.002,
            "司机 drivers",
            plan.drivers,
            lambda rows: self.bulk(
                Driver, [_with_user(driver, users[username]) for username, driver in rows]
            ),
        )
        self.step(0.172, "审计链 audit chain", self.audit_items(memberships), self.audit)
        readings = self.reading_plan()
        self.step(0.69, "读数 readings (ingest)", readings, self.ingest)
        return {
            "organizations": len(plan.organizations),
            "producers": sum(1 for o in plan.organizations if o.kind == OrganizationKind.PRODUCER),
            "collectors": sum(1 for o in plan.organizations if o.kind == OrganizationKind.COLLECTOR),
            "facilities": sum(1 for o in plan.organizations if o.kind == OrganizationKind.FACILITY),
            "regulators": sum(1 for o in plan.organizations if o.kind == OrganizationKind.REGULATOR),
            "sites": len(plan.sites),
            "licences": len(plan.licences),
            "vehicles": len(plan.vehicles),
            "service_contracts": len(plan.contracts),
            "bins": len(plan.bins),
            "users": len(plan.users),
            "memberships": len(memberships),
            "readings": len(readings),
        }

    def class_groups(self, rows: Sequence[tuple[WasteClassGroup, Sequence[str]]]) -> None:
        categories = {c.code: c.pk for c in HazardCategory.objects.filter(edition__is_current=True)}
        created = WasteClassGroup.objects.bulk_create([group for group, _ in rows])
        through = WasteClassGroup.categories.through
        through.objects.bulk_create(
            [
                through(wasteclassgroup_id=group.pk, hazardcategory_id=categories[code])
                for group, (_, codes) in zip(created, rows, strict=True)
                for code in codes
                if code in categories
            ]
        )

    def vehicle_groups(self, rows: Sequence[tuple[Vehicle, WasteClassGroup]]) -> None:
        through = Vehicle.class_groups.through
        through.objects.bulk_create(
            [through(vehicle_id=vehicle.pk, wasteclassgroup_id=group.pk) for vehicle, group in rows]
        )

    def licences(
        self, codes: dict[str, WasteCode]
    ) -> Callable[[Sequence[tuple[Licence, Sequence[str]]]], None]:
        def write(rows: Sequence[tuple[Licence, Sequence[str]]]) -> None:
            created = Licence.objects.bulk_create([licence for licence, _ in rows])
            through = Licence.waste_codes.through
            through.objects.bulk_create(
                [
                    through(licence_id=lic.pk, wastecode_id=codes[c].pk)
                    for lic, (_, cs) in zip(created, rows, strict=True)
                    for c in cs
                ]
            )

        return write

    def bins(self, codes: dict[str, WasteCode]) -> Callable[[Sequence[tuple[Bin, Sequence[str]]]], None]:
        def write(rows: Sequence[tuple[Bin, Sequence[str]]]) -> None:
            Bin.objects.bulk_create([device for device, _ in rows])
            through = Bin.waste_codes.through
            through.objects.bulk_create(
                [through(bin_id=device.pk, wastecode_id=codes[c].pk) for device, cs in rows for c in cs]
            )

        return write

    # -- audit ---------------------------------------------------------------------------------

    def audit_items(self, memberships: list[Membership]) -> list[dict[str, Any]]:
        """One event per created object, in creation order; the subject is the organisation it belongs to."""
        plan = self.plan
        items = [
            _event("organizations.organization.created", o, o, kind=o.kind, name=o.name, uscc=o.uscc)
            for o in plan.organizations
        ]
        items += [
            _event(
                "organizations.site.created",
                s,
                s.organization,
                name=s.name,
                latitude=str(s.latitude),
                longitude=str(s.longitude),
            )
            for s in plan.sites
        ]
        items += [
            _event(
                "organizations.licence.created",
                lic,
                lic.organization,
                number=lic.number,
                type=lic.licence_type,
                valid_to=lic.valid_to.isoformat(),
                waste_codes=list(codes),
            )
            for lic, codes in plan.licences
        ]
        items += [_event("dispatch.vehicle.created", v, v.collector, plate=v.plate) for v in plan.vehicles]
        items += [
            _event(
                "organizations.service_contract.created",
                c,
                c.producer,
                collector=str(c.collector_id),
                delegated_signing=c.delegated_signing,
            )
            for c in plan.contracts
        ]
        items += [
            _event(
                "devices.bin.created",
                b,
                b.site.organization,
                serial=b.serial,
                collector=str(b.collector_id),
                waste_codes=list(codes),
                key_prefix=b.key_prefix,
                transport=b.transport,
                **({"mqtt_username": b.mqtt_username} if b.mqtt_username else {}),
                **({"hj212_mn": b.hj212_mn} if b.hj212_mn else {}),
            )
            for b, codes in plan.bins
        ]
        items += [
            _event("accounts.membership.created", m, m.organization, user=m.user.username, role=m.role)
            for m in memberships
        ]
        return items

    def audit(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            event_record(**item)

    # -- readings ------------------------------------------------------------------------------

    def reading_plan(self) -> list[tuple[Bin, dt.datetime, float, int]]:
        """Three readings per bin: two days ago, yesterday and within the last hour, filling up.

        Ordered by time across all bins, as a fleet would report them.
        """
        now = timezone.now()
        rows: list[tuple[Bin, dt.datetime, float, int]] = []
        for device, _ in self.plan.bins:
            fill = self.plan.fills[device.serial]
            minutes = self.rng.randint(2, 55)
            history = (
                (now - dt.timedelta(hours=50, minutes=minutes), 0.45),
                (now - dt.timedelta(hours=26, minutes=minutes), 0.75),
                (now - dt.timedelta(minutes=minutes), 1.0),
            )
            for sequence, (at, share) in enumerate(history, start=1):
                rows.append((device, at.replace(microsecond=0), max(5.0, round(fill * share, 1)), sequence))
        rows.sort(key=lambda row: row[1])
        return rows

    def ingest(self, rows: Sequence[tuple[Bin, dt.datetime, float, int]]) -> None:
        for device, observed_at, fill, sequence in rows:
            capacity = float(device.capacity_kg)
            reading = reading_validate(
                observed_at=observed_at.astimezone(dt.timezone(dt.timedelta(hours=8))),
                fill_pct=fill,
                net_weight_kg=round(capacity * fill / 100 * self.rng.uniform(0.85, 1.0), 1),
                temperature_c=round(self.rng.uniform(12, 28), 1),
                door_open=False,
                battery_pct=round(self.rng.uniform(55, 100), 1),
                sequence=sequence,
            )
            reading_ingest(device=device, reading=reading, transport=device.transport)


def _with_user(driver: Driver, user: User) -> Driver:
    driver.user = user
    driver.name = user.display_name or user.username
    return driver


def _event(action: str, obj: models.Model, subject: Organization, **payload: Any) -> dict[str, Any]:
    """Arguments for ``event_record``: the event lands in the subject's division, like live events do."""
    return {
        "action": action,
        "obj": obj,
        "subject_organization": subject,
        "division_code": subject.division_id,
        "payload": {**payload, "source": "load_demo"},
    }
