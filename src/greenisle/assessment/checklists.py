"""The standardised-management assessment (危险废物规范化环境管理评估) as data: the indicator items for
producers (产废单位) and for licensed collectors (经营单位), how each is scored, and the result.

Pure (no ORM, fully typed). The items follow the indicator structure of the national scheme
《"十四五"全国危险废物规范化环境管理评估工作方案》(环办固体〔2021〕20号) and its annexed indicators
for producers and operating-licence holders; each item cites the law or standard it checks. Every
item is scored 2 (met), 1 (partly met) or 0 (not met); the result follows from the share of the
maximum and the veto items (否决项) below.

The suggestion functions at the end turn counts the platform knows (labelled containers, months with
ledger records, manifests confirmed in time …) into the score an assessor is offered; the assessor
accepts it or overrides it with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

PRODUCER: Final = "producer"
COLLECTOR: Final = "collector"
KINDS: Final = (PRODUCER, COLLECTOR)

MAX_SCORE: Final = 2
SCORES: Final = (0, 1, 2)

RESULT_PASS: Final = "pass"  # 达标
RESULT_BASIC: Final = "basic"  # 基本达标
RESULT_FAIL: Final = "fail"  # 不达标
RESULTS: Final = (RESULT_PASS, RESULT_BASIC, RESULT_FAIL)
RESULT_TITLES: Final[dict[str, str]] = {
    RESULT_PASS: "达标 / Meets the standard",
    RESULT_BASIC: "基本达标 / Largely meets the standard",
    RESULT_FAIL: "不达标 / Does not meet the standard",
}

# The thresholds of the result, as a share of the maximum score. They are the bureau's choice (not
# taken from the text of 环办固体〔2021〕20号, which was not at hand), kept here in one place so that
# a bureau changes them in one line: 达标 from 90 %, 基本达标 from 75 %, and a veto item (否决项)
# scored 0 makes the result 不达标 whatever the total.
PASS_PCT: Final = Decimal("90")
BASIC_PCT: Final = Decimal("75")

# Suggestion thresholds (the bureau's choice too): a share of labelled containers from which
# labelling counts as partly met, and the share of active months with ledger records likewise.
PARTIAL_SHARE: Final = Decimal("0.8")

# Regulations cited by the items.
LAW = "《固体废物污染环境防治法》（2020年修订）"
TRANSFER_MEASURES = "《危险废物转移管理办法》（2022）"
LICENCE_MEASURES = "《危险废物经营许可证管理办法》"
HJ_1259 = "HJ 1259-2022"
HJ_1276 = "HJ 1276-2022"
GB_18597 = "GB 18597-2023"
SCHEME = "环办固体〔2021〕20号 评估指标"


@dataclass(frozen=True)
class Item:
    """One indicator: what is required, on what basis, how it is scored and whether the platform can
    suggest the score from its own records (``prefill``); an item it cannot know needs a document,
    a photo or a note before it is scored above 0."""

    code: str
    title_zh: str
    title_en: str
    requirement: str
    basis: str
    guidance: tuple[str, str, str]  # what earns 2, 1 and 0
    veto: bool = False
    prefill: bool = False

    @property
    def title(self) -> str:
        return f"{self.title_zh} / {self.title_en}"

    def guidance_for(self, score: int) -> str:
        return self.guidance[MAX_SCORE - score]


RESPONSIBILITY = Item(
    "responsibility",
    "污染环境防治责任制度",
    "Pollution-prevention responsibility system",
    "建立健全危险废物产生、收集、贮存、运输、利用、处置全过程的污染环境防治责任制度，负责人明确、"
    "责任清晰，负责人熟悉危险废物管理法规和本单位情况，并在显著位置公开防治责任信息。",
    f"{LAW}第三十六条；{SCHEME}",
    (
        "建立了责任制度，负责人明确、熟悉法规，制度落实并公开 / system in place, lead named and informed, published",
        "无成文制度，但负责人熟悉管理要求并采取了防治措施 / no written system, but the lead knows the rules",
        "负责人不熟悉、职责不明确或现场管理混乱 / lead uninformed, duties unclear or site disorderly",
    ),
)
LABELS_PRODUCER = Item(
    "labels",
    "标识制度",
    "Labels and signs",
    "盛装危险废物的容器和包装物按 HJ 1276-2022 粘贴标签（名称、代码、危险特性、产生日期、重量、二维码），"
    "贮存设施设置识别标志。",
    f"{LAW}第七十七条；{HJ_1276}；{GB_18597}",
    (
        "全部容器有规范标签 / every container carries a proper label",
        "多数容器（≥80%）有标签 / most containers (≥ 80 %) are labelled",
        "标签缺失较多或不规范 / many containers unlabelled",
    ),
    prefill=True,
)
PLAN = Item(
    "plan",
    "管理计划制度",
    "Management plan",
    "按 HJ 1259-2022 制定年度危险废物管理计划，于3月31日前通过信息系统备案，内容与实际相符。",
    f"{LAW}第七十八条；{HJ_1259} 第5章",
    (
        "当年管理计划按时备案 / this year's plan filed on time",
        "已备案但逾期 / filed, but late",
        "未备案 / not filed",
    ),
    prefill=True,
)
LEDGER = Item(
    "ledger",
    "管理台账制度",
    "Ledger",
    "按 HJ 1259-2022 建立管理台账，逐容器如实记录产生、贮存、转移等信息，保存不少于5年。",
    f"{LAW}第七十八条；{HJ_1259} 第6章",
    (
        "有危废活动的每个月均有台账记录 / every month with waste has ledger records",
        "部分月份缺记录 / some months without records",
        "未建立台账或大部分缺失 / no ledger, or mostly missing",
    ),
    prefill=True,
)
DECLARATION = Item(
    "declaration",
    "申报登记制度",
    "Declaration",
    "通过信息系统按期申报危险废物的种类、产生量、流向、贮存、处置等资料（登记管理类每年3月31日前申报上年度）。",
    f"{LAW}第七十八条；{HJ_1259} 第7章",
    (
        "上年度申报按时提交 / last year's declaration submitted on time",
        "已申报但逾期 / submitted late",
        "未申报 / not submitted",
    ),
    prefill=True,
)
CLASSIFICATION_PRODUCER = Item(
    "classification",
    "源头分类制度",
    "Classification at source",
    "按危险废物特性分类收集、贮存，不相容废物不混合；实际产生的废物类别与管理计划一致。",
    f"{LAW}第八十一条；{GB_18597}",
    (
        "台账废物代码均在管理计划内，无错投 / every code in the ledger is in the plan, no misfiled waste",
        "个别代码未列入计划或有错投 / one code outside the plan, or a misfiled container",
        "分类混乱 / waste not classified",
    ),
    prefill=True,
)
MANIFESTS_PRODUCER = Item(
    "manifests",
    "转移联单制度",
    "Transfer manifests",
    "转移危险废物如实填写、运行电子转移联单；纸质联单在10个工作日内补录；接受人在5个工作日内确认接收。",
    f"{LAW}第八十二条；{TRANSFER_MEASURES}第十三条、第十八条、第二十条",
    (
        "每次转移均有电子联单，按时确认 / every transfer on an e-manifest, confirmed in time",
        "有联单补录或接收确认逾期 / a late paper entry or receipt",
        "有未运行联单的转移 / a transfer without a manifest",
    ),
    veto=True,
    prefill=True,
)
RECEIVERS = Item(
    "receivers",
    "经营许可证制度（委托持证单位）",
    "Licensed receivers",
    "危险废物只提供或委托给持有相应类别危险废物经营许可证的单位收集、利用、处置。",
    f"{LAW}第八十条；{LICENCE_MEASURES}",
    (
        "全部交给许可范围内的持证单位 / all handed to licence holders within their licence",
        "—",
        "有交给无证或超范围单位的情况 / waste handed to an unlicensed receiver",
    ),
    veto=True,
    prefill=True,
)
STORAGE_PRODUCER = Item(
    "storage",
    "贮存设施管理",
    "Storage facility",
    "设置符合 GB 18597-2023 的贮存设施或贮存点（本平台为智能云仓），分类贮存，防渗防漏，及时转移。",
    f"{LAW}第七十九条、第八十一条；{GB_18597}",
    (
        "每个产废场所有登记的贮存设施，无贮存类问题 / every site has registered storage, no storage finding",
        "部分场所无登记贮存设施或有待整改问题 / a site without storage, or a storage finding open",
        "无贮存设施或贮存超期 / no storage facility, or waste stored over a year",
    ),
    prefill=True,
)
EMERGENCY = Item(
    "emergency",
    "应急预案备案制度",
    "Emergency plan",
    "制定意外事故防范措施和应急预案，向所在地生态环境主管部门备案，并定期演练。",
    f"{LAW}第八十五条",
    (
        "已制定并备案，有演练记录 / plan made, filed and drilled",
        "已制定未备案或未演练 / made but not filed or not drilled",
        "未制定 / none",
    ),
)
TRAINING = Item(
    "training",
    "业务培训",
    "Training",
    "管理人员和从事危险废物收集、贮存、转移等工作的人员接受培训，掌握法规、分类、操作规程和应急要求。",
    f"{SCHEME}（业务培训）",
    (
        "有年度培训计划和记录，人员熟悉要求 / training planned and recorded, staff informed",
        "有培训但记录不全 / training without full records",
        "未培训 / no training",
    ),
)
LICENCE = Item(
    "licence",
    "经营许可证制度",
    "Operating licence",
    "持有效的危险废物经营许可证，按许可证载明的类别和规模收集，不超范围、不超能力。",
    f"{LAW}第八十条；{LICENCE_MEASURES}",
    (
        "许可证有效，收集代码和数量均在许可范围内 / licence valid, codes and tonnage within it",
        "许可证临近到期未申请延续 / licence close to expiry without renewal",
        "无证、过期或超范围、超能力 / no licence, expired, or beyond its codes or capacity",
    ),
    veto=True,
    prefill=True,
)
LABELS_COLLECTOR = Item(
    "labels",
    "标识制度",
    "Labels and signs",
    "接收、贮存的容器均有 HJ 1276-2022 标签，贮存分区和设施设置识别标志。",
    f"{LAW}第七十七条；{HJ_1276}；{GB_18597}",
    LABELS_PRODUCER.guidance,
    prefill=True,
)
LEDGER_COLLECTOR = Item(
    "ledger",
    "管理台账和经营记录簿",
    "Ledger and operating records",
    "建立经营情况记录簿和管理台账，如实记载收集、贮存的类别、来源、去向，每次接收均入库登记。",
    f"{LAW}第七十八条；{LICENCE_MEASURES}；{HJ_1259} 第6章",
    (
        "每份接收的联单均有入库记录 / every received manifest has its storage-in records",
        "个别接收缺入库记录 / a few receipts without records",
        "记录缺失严重 / records mostly missing",
    ),
    prefill=True,
)
MANIFESTS_COLLECTOR = Item(
    "manifests",
    "转移联单制度",
    "Transfer manifests",
    "接收的危险废物在运抵后5个工作日内确认接收；转出至利用处置单位的均运行电子联单。",
    f"{LAW}第八十二条；{TRANSFER_MEASURES}第十八条、第二十条",
    (
        "全部按时确认，转出均有联单 / every receipt in time, every onward transfer on a manifest",
        "有确认逾期或补录逾期 / a late receipt or paper entry",
        "有未运行联单的转移 / a transfer without a manifest",
    ),
    veto=True,
    prefill=True,
)
STORAGE_COLLECTOR = Item(
    "storage",
    "贮存设施管理",
    "Storage facility",
    "贮存设施符合 GB 18597-2023，分区贮存；贮存不超过一年，收集的危险废物90个工作日内交利用处置单位。",
    f"{LAW}第八十一条；{GB_18597}；{LICENCE_MEASURES}",
    (
        "有分区登记，无超期贮存 / zones registered, nothing stored beyond its limit",
        "有超过90个工作日未转出或未分区 / waste held past 90 working days, or no zones",
        "贮存超过一年 / waste stored over a year",
    ),
    veto=True,
    prefill=True,
)
CLASSIFICATION_COLLECTOR = Item(
    "classification",
    "分类贮存（不相容废物不混合）",
    "Separate storage of incompatible waste",
    "按危险特性分类收集、贮存和运输，不相容废物不混合；每类接收的废物均有相应贮存分区。",
    f"{LAW}第八十一条；{GB_18597}",
    (
        "接收的每类废物都有对应分区 / every received code has its zone",
        "个别代码无对应分区 / a code without its zone",
        "未分区贮存 / no zoning",
    ),
    prefill=True,
)

CHECKLISTS: Final[dict[str, tuple[Item, ...]]] = {
    PRODUCER: (
        RESPONSIBILITY,
        LABELS_PRODUCER,
        PLAN,
        LEDGER,
        DECLARATION,
        CLASSIFICATION_PRODUCER,
        MANIFESTS_PRODUCER,
        RECEIVERS,
        STORAGE_PRODUCER,
        EMERGENCY,
        TRAINING,
    ),
    COLLECTOR: (
        RESPONSIBILITY,
        LICENCE,
        LABELS_COLLECTOR,
        PLAN,
        LEDGER_COLLECTOR,
        DECLARATION,
        CLASSIFICATION_COLLECTOR,
        MANIFESTS_COLLECTOR,
        STORAGE_COLLECTOR,
        EMERGENCY,
        TRAINING,
    ),
}


def _check_tables() -> None:
    for kind, items in CHECKLISTS.items():
        codes = [i.code for i in items]
        if len(codes) != len(set(codes)):
            raise ValueError(f"{kind}: an item code appears twice")


_check_tables()


def checklist(kind: str) -> tuple[Item, ...]:
    try:
        return CHECKLISTS[kind]
    except KeyError:
        raise ValueError(f"unknown assessment kind {kind!r}") from None


def item_of(kind: str, code: str) -> Item:
    for item in checklist(kind):
        if item.code == code:
            return item
    raise KeyError(code)


def valid_score(value: object) -> int:
    """0, 1 or 2 (an int or its text), else ValueError."""
    if isinstance(value, bool):
        raise ValueError("a score is 0, 1 or 2")
    if isinstance(value, str):
        value = value.strip()
        if value not in {"0", "1", "2"}:
            raise ValueError("a score is 0, 1 or 2")
        return int(value)
    if isinstance(value, int) and value in SCORES:
        return value
    raise ValueError("a score is 0, 1 or 2")


@dataclass(frozen=True)
class Outcome:
    total: int
    maximum: int
    pct: Decimal  # one decimal place
    result: str
    vetoed: tuple[str, ...]  # veto items scored 0
    unscored: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.unscored


def grade(pct: Decimal, *, vetoed: bool) -> str:
    """The result for a share of the maximum (percent) and whether a veto item scored 0."""
    if vetoed or pct < BASIC_PCT:
        return RESULT_FAIL
    if pct >= PASS_PCT:
        return RESULT_PASS
    return RESULT_BASIC


def outcome(kind: str, scores: Mapping[str, int | None]) -> Outcome:
    """Total, share and result of one stage's scores (item code → 0/1/2, None when not yet scored; an
    unscored item counts as 0 and is listed)."""
    items = checklist(kind)
    total = 0
    vetoed: list[str] = []
    unscored: list[str] = []
    for item in items:
        value = scores.get(item.code)
        if value is None:
            unscored.append(item.code)
            value = 0
        value = valid_score(value)
        total += value
        if item.veto and value == 0:
            vetoed.append(item.code)
    maximum = MAX_SCORE * len(items)
    pct = (Decimal(total) * 100 / Decimal(maximum)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Outcome(total, maximum, pct, grade(pct, vetoed=bool(vetoed)), tuple(vetoed), tuple(unscored))


# --- suggestions from the platform's records ------------------------------------------------------------


def _share_score(part: int, whole: int) -> int | None:
    if whole <= 0:
        return None
    if part >= whole:
        return 2
    return 1 if Decimal(part) / Decimal(whole) >= PARTIAL_SHARE else 0


def suggest_labels(*, labelled: int, containers: int) -> int | None:
    """Share of containers carrying an HJ 1276 label; None when there were no containers."""
    return _share_score(labelled, containers)


def suggest_records(*, recorded: int, received: int) -> int | None:
    """Share of received manifests with their storage-in records in the collector's ledger."""
    return _share_score(recorded, received)


def suggest_plan(*, filed_on: dt.date | None, due_on: dt.date) -> int:
    """The year's plan in force: filed by the due date 2, later 1, none 0 (HJ 1259 §5.2.2)."""
    if filed_on is None:
        return 0
    return 2 if filed_on <= due_on else 1


def suggest_ledger(*, active_months: Iterable[str], recorded_months: Iterable[str]) -> int | None:
    """Every month with waste activity has ledger records: 2; most (≥ PARTIAL_SHARE): 1; else 0. None
    when there was no activity and no record."""
    active = set(active_months)
    recorded = set(recorded_months)
    if not active:
        return None if not recorded else 2
    return _share_score(len(active & recorded), len(active))


def suggest_declaration(*, owed: int, submitted_on_time: int, submitted_late: int) -> int | None:
    """The declarations owed for the previous year: all on time 2, all but some late 1, any missing 0."""
    if owed <= 0:
        return None
    if submitted_on_time + submitted_late < owed:
        return 0
    return 2 if submitted_late == 0 else 1


def suggest_classification(*, unplanned_codes: int, misfiled: int, codes_used: int) -> int | None:
    """Codes in the ledger but not in the plan (or the bins), and containers refused for a code their
    bin does not hold: none 2, one problem 1, more 0."""
    if codes_used <= 0 and misfiled <= 0:
        return None
    problems = unplanned_codes + (1 if misfiled else 0)
    if problems == 0:
        return 2
    return 1 if problems == 1 else 0


def suggest_manifests(*, transfers: int, off_manifest: int, late: int) -> int | None:
    """A transfer without a manifest 0 (veto); a late paper entry or receipt 1; else 2."""
    if transfers <= 0 and off_manifest <= 0:
        return None
    if off_manifest > 0:
        return 0
    return 1 if late > 0 else 2


def suggest_receivers(*, transfers: int, unlicensed: int) -> int | None:
    if transfers <= 0:
        return None
    return 0 if unlicensed > 0 else 2


def suggest_storage(
    *, sites: int, sites_with_storage: int, over_one_year: int, over_handover: int = 0
) -> int | None:
    """Over a year in store 0; every site with registered storage and nothing past the hand-over limit
    2; otherwise 1 (a site without storage, or held past the 90 working days); no storage at all 0."""
    if over_one_year > 0:
        return 0
    if sites <= 0:
        return None
    if sites_with_storage <= 0:
        return 0
    if sites_with_storage < sites or over_handover > 0:
        return 1
    return 2


def suggest_licence(
    *, valid_through_period: bool, valid_at_all: bool, codes_outside: int, over_capacity: bool
) -> int:
    """No licence (or received beyond its codes or capacity) 0; a licence that lapses within the period
    1; valid throughout and within scope 2."""
    if not valid_at_all or codes_outside > 0 or over_capacity:
        return 0
    return 2 if valid_through_period else 1


def suggest_zones(*, codes_received: int, codes_without_zone: int, zoned: bool) -> int | None:
    if codes_received <= 0:
        return None
    if not zoned:
        return 0
    if codes_without_zone == 0:
        return 2
    return 1 if codes_without_zone == 1 else 0


def cap_for_findings(score: int | None, severities: Iterable[str]) -> int | None:
    """An active finding on the item caps its suggestion: a serious one (grade A) to 0, others to 1."""
    grades = set(severities)
    if score is None or not grades:
        return score
    if "A" in grades:
        return 0
    return min(score, 1)


# Which item a finding rule bears on, by the rule code's prefix.
FINDING_ITEMS: Final[dict[str, str]] = {
    "storage.": "storage",
    "ledger.": "ledger",
    "manifest.": "manifests",
    "plan.": "plan",
    "plans.": "plan",
    "label.": "labels",
    "labels.": "labels",
    "declaration.": "declaration",
    "licence.": "licence",
}


def item_for_rule(rule: str) -> str | None:
    for prefix, code in FINDING_ITEMS.items():
        if rule.startswith(prefix):
            return code
    return None
