"""The registry of finding rules: what each rule code means, the regulation it enforces, its default
severity grade, who must follow it up and how long they have.

Pure data (no ORM): ``finding_raise`` reads a rule's deadline and owner from here, pages and the API
its titles and citation. Every code passed to ``finding_raise`` must be registered; a test scans the
source tree for them. Deadlines are for rectification (责令限期改正), counted from the day the finding
is raised; working days are counted on the official calendar (``core.workdays``).

Two kinds of entry: the rules raised by sweeps of their own apps are listed here, and each module of
``supervision.checks`` carries its own ``RULE`` and registers it (``register``). The registry loads
the checks package the first time it is read, so a rule of a check is known wherever a finding is
shown, whether or not anything imported the checks yet.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Final, Literal

from greenisle.core.workdays import add_working_days

Grade = Literal["A", "B", "C"]
Owner = Literal["organization", "regulator"]

GRADES: Final = ("A", "B", "C")
# Who rectifies: the organisation the finding is about, or the bureau of its division itself.
OWNER_ORGANIZATION: Final = "organization"
OWNER_REGULATOR: Final = "regulator"

# Short names of the regulations cited below.
SOLID_WASTE_LAW = "《中华人民共和国固体废物污染环境防治法》（2020年修订）"
TRANSFER_MEASURES = "《危险废物转移管理办法》（生态环境部 公安部 交通运输部令第23号，2022年1月1日施行）"
LICENCE_MEASURES = "《危险废物经营许可证管理办法》（国务院令第408号）"
HJ_1259 = "HJ 1259-2022《危险废物管理计划和管理台账制定技术导则》"
STORAGE_STANDARD = "《危险废物贮存污染控制标准》（GB 18597-2023）"
VEHICLE_MONITORING = "《道路运输车辆动态监督管理办法》"


class UnknownRule(LookupError):
    """A rule code nobody registered: a programming error, not bad input."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"finding rule {code!r} is not registered: add it to greenisle.supervision.rules.RULES "
            "or give it a module in greenisle.supervision.checks"
        )
        self.code = code


@dataclass(frozen=True)
class RuleInfo:
    code: str
    title_zh: str
    title_en: str
    regulation: str
    severity: Grade
    owner: Owner
    deadline_working_days: int | None = None
    deadline_days: int | None = None

    def __post_init__(self) -> None:
        if self.severity not in GRADES:
            raise ValueError(f"{self.code}: severity must be one of {GRADES}")
        if self.owner not in (OWNER_ORGANIZATION, OWNER_REGULATOR):
            raise ValueError(f"{self.code}: owner must be organization or regulator")
        if (self.deadline_working_days is None) == (self.deadline_days is None):
            raise ValueError(f"{self.code}: give exactly one of deadline_working_days and deadline_days")
        if (self.deadline_working_days or 0) < 0 or (self.deadline_days or 0) < 0:
            raise ValueError(f"{self.code}: a deadline is not negative")

    @property
    def title(self) -> str:
        return f"{self.title_zh} / {self.title_en}"

    def deadline_from(self, day: dt.date) -> dt.date:
        """The rectification deadline of a finding raised on ``day``."""
        if self.deadline_working_days is not None:
            return add_working_days(day, self.deadline_working_days)
        assert self.deadline_days is not None
        return day + dt.timedelta(days=self.deadline_days)


# Where the rules that carry their own entry live; imported by name so that this module stays pure.
CHECKS_PACKAGE: Final = "greenisle.supervision.checks"


class Registry(MutableMapping[str, RuleInfo]):
    """The rules by code. Reading it first imports ``CHECKS_PACKAGE``, whose modules register theirs."""

    def __init__(self) -> None:
        self._rules: dict[str, RuleInfo] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # before the import: the package registers through this registry
        try:
            importlib.import_module(CHECKS_PACKAGE)
        except BaseException:
            self._loaded = False
            raise

    def __getitem__(self, code: str) -> RuleInfo:
        self._load()
        return self._rules[code]

    def __setitem__(self, code: str, rule: RuleInfo) -> None:
        self._rules[code] = rule

    def __delitem__(self, code: str) -> None:
        del self._rules[code]

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._rules)

    def __len__(self) -> int:
        self._load()
        return len(self._rules)

    def add(self, rule: RuleInfo) -> None:
        """Register ``rule``; the same entry again is a no-op, another entry under its code an error."""
        known = self._rules.get(rule.code)
        if known is not None and known != rule:
            raise ValueError(f"finding rule {rule.code!r} registered twice")
        self._rules[rule.code] = rule


def _rules(*rules: RuleInfo) -> Registry:
    table = Registry()
    for rule in rules:
        if rule.code in table._rules:
            raise ValueError(f"finding rule {rule.code!r} registered twice")
        table.add(rule)
    return table


RULES: Final[Registry] = _rules(
    # --- storage (ledger/storage.py) ---------------------------------------------------------------
    RuleInfo(
        code="storage.over_one_year",
        title_zh="危险废物贮存超过一年",
        title_en="Hazardous waste stored for more than one year",
        regulation=f"{SOLID_WASTE_LAW}第八十一条第三款：贮存危险废物不得超过一年",
        severity="A",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=10,
    ),
    RuleInfo(
        code="storage.collection_handover_overdue",
        title_zh="收集的危险废物未在90个工作日内交利用处置单位",
        title_en="Collected waste not handed to a facility within 90 working days",
        # The article number is still to be confirmed against the official text (ledger/storage.py
        # cites the measures without one too).
        regulation=(
            f"{LICENCE_MEASURES}：收集经营许可证持有单位应在90个工作日内将收集的危险废物"
            "提供或委托给利用处置单位"
        ),
        severity="B",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=10,
    ),
    RuleInfo(
        code="storage.local_days",
        title_zh="超过本地贮存天数上限",
        title_en="Stored longer than the local cap on days",
        regulation=(
            "地方小微企业危险废物集中收集试点要求（按收集单位配置的贮存天数上限）；"
            f"{SOLID_WASTE_LAW}第八十一条"
        ),
        severity="C",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=5,
    ),
    RuleInfo(
        code="storage.local_tonnes",
        title_zh="贮存量超过本地上限",
        title_en="Stock over the local tonnage cap",
        regulation=(
            f"地方小微企业危险废物集中收集试点要求（按收集单位配置的贮存量上限）；{SOLID_WASTE_LAW}第八十一条"
        ),
        severity="C",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=5,
    ),
    # --- ledger (ledger/balance.py) ----------------------------------------------------------------
    RuleInfo(
        code="ledger.mass_balance",
        title_zh="台账、容器与联单物料不平衡",
        title_en="Ledger, containers and manifests do not balance",
        regulation=f"{SOLID_WASTE_LAW}第七十八条（建立管理台账，如实记录）；{HJ_1259}第6章",
        severity="B",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=10,
    ),
    # --- manifests (manifests/receipt.py, manifests/paper.py) --------------------------------------
    RuleInfo(
        code="manifest.receipt_overdue",
        title_zh="联单交付后未在5个工作日内确认接收",
        title_en="Receipt not confirmed within 5 working days of delivery",
        regulation=f"{TRANSFER_MEASURES}第十八条：接受人应于运抵之日起5个工作日内确认接收",
        severity="B",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=5,
    ),
    RuleInfo(
        code="manifest.paper_entry_late",
        title_zh="纸质联单未在10个工作日内补录",
        title_en="Paper manifest entered after 10 working days",
        regulation=f"{TRANSFER_MEASURES}第二十条：使用纸质联单的，应在转移活动完成后10个工作日内补录电子联单",
        severity="C",
        owner=OWNER_ORGANIZATION,
        deadline_working_days=10,
    ),
)


def register(*rules: RuleInfo) -> None:
    """Add the rules of a check module (``supervision.checks``) to the registry."""
    for rule in rules:
        RULES.add(rule)


def rule_info(code: str) -> RuleInfo:
    """The registered rule, or UnknownRule."""
    try:
        return RULES[code]
    except KeyError:
        raise UnknownRule(code) from None
