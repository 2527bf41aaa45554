"""Checks of a manifest against the licences before it is signed: every error together in one report.

- The receiver holds a licence in force (收集, 综合, 利用 or 处置经营许可证) that covers each line's waste
  code (固废法 Art. 80: waste goes only to a licensed unit).
- The vehicle's dangerous-goods road transport permit is in force, and where the truck's permit lists
  waste codes, each line's code is among them.

- 办法 Art. 14: the waste code and the receiver are in the producer's filed management plan for the
  year. For a registration-class site (HJ 1259 §4.2: < 10 t a year, most small producers) or one
  without a filed plan this is a warning, otherwise an error; both severities are configuration
  (``PLAN_CHECK_REGISTRATION_SEVERITY``, ``PLAN_CHECK_SEVERITY``).

Errors block the signature; warnings are recorded with it and shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.organizations.choices import LicenceType
from greenisle.organizations.models import Licence

RECEIVING_LICENCES = (
    LicenceType.COLLECTION,
    LicenceType.COMPREHENSIVE,
    LicenceType.UTILISATION,
    LicenceType.DISPOSAL,
)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "error" | "warning"
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
        }


def manifest_check(manifest: Any, *, day: dt.date | None = None) -> Report:
    day = day or timezone.localdate()
    findings: list[Finding] = []
    lines = list(manifest.lines.select_related("waste_code"))
    codes = {line.waste_code.code: line.waste_code for line in lines}
    licences = list(
        Licence.objects.filter(
            organization_id=manifest.receiver_id, licence_type__in=RECEIVING_LICENCES
        ).prefetch_related("waste_codes")
    )
    in_force = [lic for lic in licences if lic.valid_from <= day <= lic.valid_to]
    if not licences:
        findings.append(
            Finding(
                "receiver_unlicensed",
                "error",
                "receiver",
                f"接受人 {manifest.receiver} 没有危险废物经营许可证 / the receiver holds no hazardous-waste licence",
            )
        )
    elif not in_force:
        last = max(lic.valid_to for lic in licences)
        findings.append(
            Finding(
                "receiver_licence_expired",
                "error",
                "receiver",
                f"接受人的经营许可证已于 {last} 过期 / the receiver's licence expired on {last}",
            )
        )
    else:
        covered = {c.pk for lic in in_force for c in lic.waste_codes.all()}
        for code, waste in sorted(codes.items()):
            if waste.pk not in covered:
                findings.append(
                    Finding(
                        "receiver_licence_code",
                        "error",
                        f"lines.{code}",
                        f"接受人的许可证不含 {code} / the receiver's licence does not cover {code}",
                    )
                )
        for lic in in_force:
            if (lic.valid_to - day).days < 30:
                findings.append(
                    Finding(
                        "receiver_licence_expiring",
                        "warning",
                        "receiver",
                        f"接受人许可证 {lic.number} 将于 {lic.valid_to} 到期 / licence {lic.number} expires {lic.valid_to}",
                    )
                )
    if (
        manifest.kind == "collection"
    ):  # an onward shipment's consignor is a licensed collector, not a producer
        findings += _plan_findings(manifest, day, codes)
    vehicle = manifest.vehicle
    if vehicle is not None:
        if vehicle.dg_permit_valid_to < day:
            findings.append(
                Finding(
                    "vehicle_permit_expired",
                    "error",
                    "vehicle",
                    f"车辆 {vehicle.plate} 的道路危险货物运输许可已于 {vehicle.dg_permit_valid_to} 过期 / the "
                    f"truck's dangerous-goods permit expired on {vehicle.dg_permit_valid_to}",
                )
            )
        permitted = set(vehicle.licensed_codes.values_list("code", flat=True))
        if permitted:
            for code in sorted(set(codes) - permitted):
                findings.append(
                    Finding(
                        "vehicle_permit_code",
                        "error",
                        f"lines.{code}",
                        f"车辆 {vehicle.plate} 的许可不含 {code} / the truck's permit does not cover {code}",
                    )
                )
    return Report(tuple(findings))


def _plan_findings(manifest: Any, day: dt.date, codes: dict[str, Any]) -> list[Finding]:
    from greenisle.plans.models import IN_FORCE, ManagementClass, ManagementPlan

    plan = (
        ManagementPlan.objects.filter(site_id=manifest.producer_site_id, year=day.year, status__in=IN_FORCE)
        .prefetch_related("wastes__receivers", "wastes__waste_code")
        .first()
    )
    light = plan is None or plan.management_class == ManagementClass.REGISTRATION
    severity = settings.GREENISLE["PLAN_CHECK_REGISTRATION_SEVERITY" if light else "PLAN_CHECK_SEVERITY"]
    if plan is None:
        return [
            Finding(
                "plan_missing",
                severity,
                "producer_site",
                f"移出人 {day.year} 年没有已备案的管理计划 / no filed management plan for {day.year} (办法 Art. 14)",
            )
        ]
    planned = {w.waste_code.code: w for w in plan.wastes.all()}
    out: list[Finding] = []
    for code in sorted(codes):
        row = planned.get(code)
        if row is None:
            out.append(
                Finding(
                    "plan_code",
                    severity,
                    f"lines.{code}",
                    f"{code} 不在已备案的管理计划中 / {code} is not in the filed management plan (办法 Art. 14)",
                )
            )
        elif manifest.receiver_id not in {r.pk for r in row.receivers.all()}:
            out.append(
                Finding(
                    "plan_receiver",
                    severity,
                    "receiver",
                    f"管理计划中 {code} 的接收单位不含 {manifest.receiver} / the plan names other receivers for {code}"
                    " (办法 Art. 14)",
                )
            )
    return out


class ManifestInvalid(ServiceError):
    """The manifest cannot be signed: every error of the report, with the warnings."""

    status = 400
    code = "manifest_invalid"

    def __init__(self, report: Report) -> None:
        first = report.errors[0]
        message = "；".join(f.message for f in report.errors)
        super().__init__(message, field=first.field)
        self.report = report

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), **self.report.as_dict()}
