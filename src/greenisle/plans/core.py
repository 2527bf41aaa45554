"""Management class and plan content (HJ 1259-2022 §4.2, §5), without the ORM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

KEY = "key"
SIMPLIFIED = "simplified"
REGISTRATION = "registration"

KEY_THRESHOLD_T = Decimal(100)
SIMPLIFIED_THRESHOLD_T = Decimal(10)

# §5.3.1–5.3.3: the tables of Appendix A each class fills.
SECTIONS: dict[str, tuple[str, ...]] = {
    KEY: ("A.1", "A.2", "A.3", "A.4", "A.5", "A.6", "A.7"),
    SIMPLIFIED: ("A.1", "A.3", "A.4", "A.6", "A.7"),
    REGISTRATION: ("A.1", "A.3", "A.7"),
}

SECTION_TITLES: dict[str, str] = {
    "A.1": "单位基本信息 / Unit",
    "A.2": "设施信息 / Facilities",
    "A.3": "危险废物产生情况 / Generation",
    "A.4": "危险废物贮存情况 / Storage",
    "A.5": "危险废物自行利用/处置情况 / Own use and disposal",
    "A.6": "危险废物减量化计划和措施 / Reduction",
    "A.7": "危险废物转移情况 / Transfer",
}

# Table A.1: the fields every class fills, with the label the form shows.
BASIC_FIELDS: dict[str, str] = {
    "name": "单位名称 / Name",
    "registered_address": "注册地址 / Registered address",
    "site_address": "生产经营场所地址 / Site address",
    "division": "行政区划 / Division",
    "industry": "行业类别 / Industry",
    "industry_code": "行业代码 / Industry code (GB/T 4754)",
    "longitude": "中心经度 / Longitude",
    "latitude": "中心纬度 / Latitude",
    "uscc": "统一社会信用代码 / USCC",
    "legal_representative": "法定代表人 / Legal representative",
    "phone": "联系电话 / Phone",
    "technical_lead": "危险废物环境管理技术负责人 / Technical lead",
    "technical_lead_phone": "技术负责人联系电话 / Technical lead's phone",
    "eia_reference": "环境影响评价审批文件文号或备案编号 / EIA approval",
    "permit_reference": "排污许可证或排污登记编号 / Discharge permit or registration",
}
# A small workshop may have neither an EIA approval nor a discharge permit: "无" is an answer, an
# empty field is not.
REQUIRED_BASIC = tuple(BASIC_FIELDS)


@dataclass(frozen=True)
class ClassResult:
    management_class: str
    annual_t: Decimal
    reason: str


def annual_amount(
    yearly_t: Mapping[int, Decimal],
    *,
    year: int,
    operating_since: dt.date | None,
    assessed_t: Decimal | None,
) -> tuple[Decimal, str]:
    """§4.2.3: the annual amount that decides the class for ``year``.

    Operating three years or more: the largest of the last three full years. One to three years: the
    largest year since it started. Less than a year (or not started): the amount assessed in its
    EIA or discharge permit. ``yearly_t`` is what the ledger says each past year generated."""
    start = dt.date(year, 1, 1)
    if operating_since is None or (start - operating_since).days < 365:
        if assessed_t is not None:
            return assessed_t, "投运不满1年，按环评/排污许可核算量 / under a year: the EIA/permit amount"
        recent = [yearly_t[y] for y in range(year - 3, year) if y in yearly_t]
        if recent:
            return max(recent), "无核算量，按台账年最大量 / no assessed amount: the ledger's largest year"
        return Decimal(0), "投运不满1年，无核算量 / under a year and no assessed amount"
    years = [y for y in range(year - 3, year) if y >= operating_since.year]
    amount = max(yearly_t.get(y, Decimal(0)) for y in years)
    if (start - operating_since).days >= 3 * 365:
        return amount, f"近3年最大量 ({years[0]}–{years[-1]}) / largest of the last three years"
    return amount, f"投运期间年最大量 ({years[0]}–{years[-1]}) / largest year since it started"


def management_class(*, annual_t: Decimal, own_facility: bool, licence_holder: bool) -> ClassResult:
    """§4.2.1: key if ≥ 100 t a year, or it treats its own waste, or it holds a hazardous-waste
    business licence; simplified from 10 t; registration below."""
    if licence_holder:
        return ClassResult(KEY, annual_t, "持有危险废物经营许可证 / holds a hazardous-waste licence")
    if own_facility:
        return ClassResult(KEY, annual_t, "具有自行利用处置设施 / treats its own waste")
    if annual_t >= KEY_THRESHOLD_T:
        return ClassResult(KEY, annual_t, f"年产生量 {annual_t} t ≥ 100 t")
    if annual_t >= SIMPLIFIED_THRESHOLD_T:
        return ClassResult(SIMPLIFIED, annual_t, f"年产生量 {annual_t} t ≥ 10 t")
    return ClassResult(REGISTRATION, annual_t, f"年产生量 {annual_t} t < 10 t")


def plan_due_on(year: int) -> dt.date:
    """§5.2.2: this year's plan is filed before 31 March."""
    return dt.date(year, 3, 31)


@dataclass(frozen=True)
class Problem:
    section: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"section": self.section, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class WasteRow:
    """One waste of the plan: A.3 (generation), A.4 (storage) and A.7 (transfer) in one row."""

    waste_code: str
    annual_t: Decimal
    form: str = ""
    hazardous_constituents: str = ""
    storage_facility_code: str = ""
    storage_type: str = ""
    packaging: str = ""
    year_end_stock_t: Decimal | None = None
    transfer_t: Decimal | None = None
    method: str = ""
    receivers: tuple[str, ...] = ()


def plan_problems(
    management_class: str,
    *,
    basic: Mapping[str, object],
    wastes: Sequence[WasteRow],
    facilities: Sequence[Mapping[str, object]] = (),
    own_treatment: Sequence[Mapping[str, object]] = (),
    reduction: Mapping[str, object] | None = None,
) -> list[Problem]:
    """What is missing before a plan of this class can be filed (§5.3, Appendix A)."""
    sections = SECTIONS[management_class]
    problems: list[Problem] = []
    for name in REQUIRED_BASIC:
        if not str(basic.get(name) or "").strip():
            problems.append(Problem("A.1", f"basic.{name}", f"{BASIC_FIELDS[name]}: 必填 / required"))
    if not wastes:
        problems.append(Problem("A.3", "wastes", "至少填写一种危险废物 / at least one waste"))
    for i, w in enumerate(wastes):
        where = f"wastes[{i}]"
        if w.annual_t <= 0:
            problems.append(
                Problem(
                    "A.3",
                    f"{where}.annual_t",
                    f"{w.waste_code}: 预计产生量须大于0 / expected amount must be > 0",
                )
            )
        if not w.form:
            problems.append(Problem("A.3", f"{where}.form", f"{w.waste_code}: 形态必填 / form required"))
        if "A.4" in sections:
            for attr, label in (
                ("storage_facility_code", "贮存设施编码"),
                ("storage_type", "贮存设施类型"),
                ("packaging", "包装形式"),
            ):
                if not getattr(w, attr):
                    problems.append(
                        Problem("A.4", f"{where}.{attr}", f"{w.waste_code}: {label}必填 / required")
                    )
            if w.year_end_stock_t is None:
                problems.append(
                    Problem(
                        "A.4",
                        f"{where}.year_end_stock_t",
                        f"{w.waste_code}: 预计剩余贮存量必填 / year-end stock required",
                    )
                )
        if w.transfer_t is None or w.transfer_t < 0:
            problems.append(
                Problem(
                    "A.7",
                    f"{where}.transfer_t",
                    f"{w.waste_code}: 预计转移量必填 / expected transfer required",
                )
            )
        if w.transfer_t and not w.receivers:
            problems.append(
                Problem("A.7", f"{where}.receivers", f"{w.waste_code}: 拟接收单位必填 / receiver required")
            )
        if w.transfer_t and not w.method:
            problems.append(
                Problem("A.7", f"{where}.method", f"{w.waste_code}: 利用/处置方式必填 / method required")
            )
    if "A.2" in sections and not facilities:
        problems.append(
            Problem("A.2", "facilities", "重点监管单位须填写设施信息 / key units list their facilities")
        )
    if "A.5" in sections:
        for i, row in enumerate(own_treatment):
            if not row.get("method"):
                problems.append(
                    Problem(
                        "A.5", f"own_treatment[{i}].method", "自行利用/处置方式代码必填 / method required"
                    )
                )
    if "A.6" in sections and not str((reduction or {}).get("measures") or "").strip():
        problems.append(Problem("A.6", "reduction.measures", "减量化措施必填 / reduction measures required"))
    return problems


def filing_number(division_code: str, year: int, serial: int, revision: int = 0) -> str:
    """The filing number (备案编号) the platform issues: division + year + serial, and the amendment's
    revision after a dash (§5.2.2–5.2.3)."""
    base = f"{division_code}{year}{serial:06d}"
    return f"{base}-{revision}" if revision else base
