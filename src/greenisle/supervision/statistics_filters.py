"""The statistics' filters and what every table shares: the checked filters (period, division inside
the bureau's, collector, category; 400 or 403 naming the field), the querysets they select (manifests,
receipt totals), the months of the period, the districts shown, and the choices the form offers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from greenisle.catalog.models import HazardCategory, WasteCode
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.devices.models import Bin
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine, ReceiptTotal
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import division_prefix
from greenisle.organizations.models import Division, Organization, ServiceContract
from greenisle.organizations.visibility import scope_for
from greenisle.supervision import statistics_core as core

RECEIVED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
# --- filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The checked filters: a period (local dates, both included), and optionally one division inside
    the regulator's, one collector and one HW category."""

    date_from: dt.date
    date_to: dt.date
    scope_prefix: str
    scope_code: str
    division: str | None = None
    division_name: str = ""
    collector_id: uuid.UUID | None = None
    collector_name: str = ""
    category: str | None = None
    category_name: str = ""

    @property
    def prefix(self) -> str:
        """The division-code prefix everything is counted in."""
        return division_prefix(self.division) if self.division else self.scope_prefix

    @property
    def start(self) -> dt.datetime:
        tz = timezone.get_default_timezone()
        return dt.datetime.combine(self.date_from, dt.time.min, tzinfo=tz)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: local midnight after ``date_to``."""
        tz = timezone.get_default_timezone()
        return dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

    @property
    def years(self) -> list[int]:
        return list(range(self.date_from.year, self.date_to.year + 1))

    def as_query(self) -> dict[str, str]:
        """The filters as the form and the JSON endpoints take them."""
        query = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.division:
            query["division"] = self.division
        if self.collector_id:
            query["collector"] = str(self.collector_id)
        if self.category:
            query["category"] = self.category
        return query


def statistics_filters(
    user: Any,
    *,
    date_from: object = None,
    date_to: object = None,
    division: object = None,
    collector: object = None,
    category: object = None,
) -> Filters:
    """Check the filters against the person's jurisdiction. Statistics are the bureau's: anyone else
    gets PermissionDenied (403); a division outside the bureau's is PermissionDenied naming
    ``division``; malformed or unknown values are ServiceError (400) naming the field."""
    scope = scope_for(user)
    if scope is None or scope.kind != OrganizationKind.REGULATOR:
        raise PermissionDenied("统计分析仅供生态环境部门查看 / statistics are for the environment bureau")
    raw = core.parse_filters(
        today=timezone.localdate(),
        date_from=date_from,
        date_to=date_to,
        division=division,
        collector=collector,
        category=category,
    )
    found: dict[str, Any] = {}
    if raw.division:
        row = Division.objects.filter(code=raw.division).first()
        if row is None:
            raise ServiceError("没有这个行政区划 / no such division", field="division")
        if not division_prefix(row.code).startswith(scope.division_prefix):
            raise PermissionDenied(
                f"{row.name}（{row.code}）不在本局辖区内 / division {row.code} is outside your jurisdiction",
                field="division",
            )
        found.update(division=row.code, division_name=row.name)
    if raw.collector:
        org = Organization.objects.filter(pk=raw.collector, kind=OrganizationKind.COLLECTOR).first()
        if org is None:
            raise ServiceError("没有这个收集单位 / no such collector", field="collector")
        found.update(collector_id=org.pk, collector_name=org.name)
    if raw.category:
        cat = (
            HazardCategory.objects.filter(code=raw.category)
            .order_by("-edition__is_current", "-edition__in_force_from")
            .first()
        )
        if cat is None:
            raise ServiceError("名录中没有这个类别 / no such category in the catalogue", field="category")
        found.update(category=cat.code, category_name=cat.name)
    return Filters(
        date_from=raw.date_from,
        date_to=raw.date_to,
        scope_prefix=scope.division_prefix,
        scope_code=scope.division_code,
        **found,
    )


# --- shared pieces ----------------------------------------------------------------------------------


def local_tz() -> Any:
    return timezone.get_default_timezone()


def codes_in(f: Filters) -> list[int]:
    return list(WasteCode.objects.filter(category__code=f.category).values_list("id", flat=True))


def month_keys(f: Filters) -> list[str]:
    return [core.month_key(m) for m in core.months_between(f.date_from, f.date_to)]


def month_index_of(f: Filters) -> dict[int, int]:
    """yyyymm (the receipt totals' ``month``) → index in ``month_keys(f)``."""
    return {
        m.year * 100 + m.month: index for index, m in enumerate(core.months_between(f.date_from, f.date_to))
    }


def month_of(field: str, f: Filters) -> Case:
    """The index in ``month_keys(f)`` of the local month of a timestamp already inside the period, as
    comparisons with the months' local starts: the same answer as truncating in Asia/Shanghai time
    without converting the time zone on every row, and an integer key the database groups in a hash
    table (a text key made PostgreSQL sort the rows on disk)."""
    months = core.months_between(f.date_from, f.date_to)
    tz = local_tz()
    whens = [
        When(
            **{f"{field}__lt": dt.datetime.combine(following, dt.time.min, tzinfo=tz)},
            then=Value(index),
        )
        for index, following in enumerate(months[1:])
    ]
    return Case(*whens, default=Value(len(months) - 1), output_field=IntegerField())


def manifests_seen(user: Any, f: Filters) -> QuerySet[Manifest]:
    """Manifests the bureau sees (its division prefix), narrowed by division and collector. The
    collector is the receiver of a collection manifest and the sender of an onward one."""
    qs = Manifest.objects.visible_to(user).filter(producer_site__division__code__startswith=f.prefix)
    if f.collector_id:
        qs = qs.filter(
            Q(kind=ManifestKind.COLLECTION, receiver_id=f.collector_id)
            | Q(kind=ManifestKind.ONWARD, producer_id=f.collector_id)
        )
    return qs


def receipt_totals(user: Any, f: Filters) -> QuerySet[ReceiptTotal]:
    """What the manifests received in the period count per category (a rejected container goes back
    to its producer, 办法 Art. 18: it was neither collected nor transferred, and does not make its
    producer "served"), in the category when one is chosen: rows of one table, no join.

    The division prefix is the bureau's visibility rule for manifests (ManifestQuerySet.division_path),
    narrowed by the division filter, which ``statistics_filters`` has checked to lie inside it; ``user``
    is kept in the signature so every selector reads the same way."""
    qs = ReceiptTotal.objects.filter(
        received_on__gte=f.date_from, received_on__lte=f.date_to, division__code__startswith=f.prefix
    )
    if f.collector_id:
        qs = qs.filter(collector_id=f.collector_id)
    if f.category:
        qs = qs.filter(category=f.category)
    return qs


def has_category(f: Filters) -> Exists:
    """The manifest carries a line of the chosen category."""
    return Exists(ManifestLine.objects.filter(manifest_id=OuterRef("pk"), waste_code_id__in=codes_in(f)))


@dataclass(frozen=True)
class Place:
    code: str
    name: str


def districts_of(f: Filters, seen: set[str] | None = None) -> list[Place]:
    """The county-level divisions the figures are shown for: those inside the prefix, plus any other
    division the data name (an organisation registered at city level)."""
    qs = Division.objects.filter(code__startswith=f.prefix)
    rows = dict(qs.values_list("code", "name"))
    county = {c for c in rows if not c.endswith("00") or c == f.prefix}
    wanted = county | {c for c in (seen or set()) if c in rows}
    return [Place(code, rows[code]) for code in sorted(wanted)]


def category_names(codes: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    rows = (
        HazardCategory.objects.filter(code__in=codes)
        .order_by("code", "-edition__is_current", "-edition__in_force_from")
        .values_list("code", "name")
    )
    for code, name in rows:
        names.setdefault(code, name)
    return names


# --- choices for the filter form --------------------------------------------------------------------


@dataclass(frozen=True)
class FilterChoices:
    divisions: list[Place]
    collectors: list[Place]
    categories: list[Place]


def filter_choices(user: Any, f: Filters) -> FilterChoices:
    """What the form offers: the divisions inside the bureau's, the collectors with a client or a bin
    there, and the catalogue's categories."""
    divisions = [
        Place(c, n)
        for c, n in Division.objects.filter(code__startswith=f.scope_prefix).values_list("code", "name")
    ]
    collectors = (
        Organization.objects.filter(kind=OrganizationKind.COLLECTOR)
        .filter(
            Q(
                Exists(
                    ServiceContract.objects.filter(
                        collector_id=OuterRef("pk"), producer__division__code__startswith=f.scope_prefix
                    )
                )
            )
            | Q(
                Exists(
                    Bin.objects.filter(
                        collector_id=OuterRef("pk"), site__division__code__startswith=f.scope_prefix
                    )
                )
            )
            | Q(division__code__startswith=f.scope_prefix)
        )
        .order_by("name")
        .values_list("pk", "name")
    )
    categories = (
        HazardCategory.objects.filter(edition__is_current=True).order_by("code").values_list("code", "name")
    )
    return FilterChoices(
        divisions=divisions,
        collectors=[Place(str(pk), name) for pk, name in collectors],
        categories=[Place(c, n) for c, n in categories],
    )
