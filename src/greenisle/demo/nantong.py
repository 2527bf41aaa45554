"""The Nantong demo as data: divisions, collectors, industries and name parts. No ORM.

Everything here is fictional but shaped like the real thing: company names follow the local
pattern (南通XX环保科技有限公司), addresses use the real streets and towns of each county-level
division, coordinates fall near each division's real centre, and every waste code is one of the
国家危险废物名录 (2021) codes that small producers of that industry typically hand over.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CITY_CODE = "320600"
CITY_BUREAU_NAME = "南通市生态环境局"
DEMO_PASSWORD = "greenisle-demo"
DEFAULT_SEED = 20240601


def _words(text: str) -> tuple[str, ...]:
    """A space-separated list: one line of place names reads better than one name per line."""
    return tuple(text.split())


@dataclass(frozen=True)
class DivisionInfo:
    """A county-level division of Nantong with what the generator needs to place things in it."""

    code: str
    name: str
    short: str  # as used inside names: 崇川, 如皋 …
    prefix: str  # the place name that opens a company name registered there
    slug: str  # pinyin, for usernames
    lat: float
    lon: float
    spread_lat: float
    spread_lon: float
    producer_weight: int  # relative number of small producers
    streets: tuple[str, ...]


# Centres are the real seats of government; spreads keep the scatter on land (崇川 borders the
# Yangtze to the south-west, so its box is pulled north-east). Streets are real 街道 and 镇.
DIVISIONS: tuple[DivisionInfo, ...] = (
    DivisionInfo(
        code="320602", name="崇川区", short="崇川", prefix="南通", slug="chongchuan",
        lat=32.015, lon=120.885, spread_lat=0.035, spread_lon=0.040, producer_weight=24,
        streets=_words(
            "和平桥街道 任港街道 新城桥街道 虹桥街道 学田街道 钟秀街道 文峰街道 观音山街道 狼山镇街道"
            " 唐闸镇街道 天生港镇街道 秦灶街道 陈桥街道 幸福街道"
        ),
    ),
    DivisionInfo(
        code="320612", name="通州区", short="通州", prefix="南通通州", slug="tongzhou",
        lat=32.070, lon=121.070, spread_lat=0.050, spread_lon=0.050, producer_weight=18,
        streets=_words(
            "金沙街道 先锋街道 兴东街道 西亭镇 二甲镇 东社镇 三余镇 十总镇 石港镇 刘桥镇 平潮镇 五接镇"
            " 川姜镇 张芝山镇"
        ),
    ),
    DivisionInfo(
        code="320614", name="海门区", short="海门", prefix="海门", slug="haimen",
        lat=31.870, lon=121.180, spread_lat=0.045, spread_lon=0.050, producer_weight=14,
        streets=_words("海门街道 三厂街道 滨江街道 三星镇 常乐镇 悦来镇 四甲镇 余东镇 正余镇 包场镇 临江镇"),
    ),
    DivisionInfo(
        code="320623", name="如东县", short="如东", prefix="如东", slug="rudong",
        lat=32.330, lon=121.190, spread_lat=0.050, spread_lon=0.050, producer_weight=10,
        streets=_words(
            "掘港街道 城中街道 苴镇街道 栟茶镇 洋口镇 长沙镇 大豫镇 曹埠镇 岔河镇 双甸镇 新店镇 河口镇"
            " 袁庄镇 丰利镇"
        ),
    ),
    DivisionInfo(
        code="320681", name="启东市", short="启东", prefix="启东", slug="qidong",
        lat=31.810, lon=121.660, spread_lat=0.045, spread_lon=0.050, producer_weight=11,
        streets=_words(
            "汇龙镇 南阳镇 北新镇 王鲍镇 合作镇 海复镇 近海镇 寅阳镇 惠萍镇 东海镇 吕四港镇 启隆镇"
        ),
    ),
    DivisionInfo(
        code="320682", name="如皋市", short="如皋", prefix="如皋", slug="rugao",
        lat=32.370, lon=120.570, spread_lat=0.050, spread_lon=0.050, producer_weight=13,
        streets=_words(
            "如城街道 东陈镇 丁堰镇 白蒲镇 下原镇 九华镇 石庄镇 长江镇 吴窑镇 江安镇 搬经镇 磨头镇"
        ),
    ),
    DivisionInfo(
        code="320685", name="海安市", short="海安", prefix="海安", slug="haian",
        lat=32.530, lon=120.470, spread_lat=0.050, spread_lon=0.050, producer_weight=10,
        streets=_words("海安街道 城东镇 曲塘镇 李堡镇 角斜镇 大公镇 雅周镇 白甸镇 南莫镇 墩头镇"),
    ),
)  # fmt: skip
DIVISION_BY_CODE = {d.code: d for d in DIVISIONS}

# Adjacent divisions: a producer may contract a collector next door when that one is closer.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "320602": ("320612", "320614"),
    "320612": ("320602", "320614", "320623", "320682"),
    "320614": ("320602", "320612", "320681"),
    "320623": ("320612", "320682", "320685"),
    "320681": ("320614",),
    "320682": ("320685", "320623", "320612"),
    "320685": ("320682", "320623"),
}

ROADS = _words(
    "人民路 工农路 青年路 建设路 通港路 江海大道 世纪大道 长江路 黄海路 富民路 兴业路 工业园路 创业路"
    " 开发大道 永和路 团结路 光明路 振兴路 新民路 东方大道 友谊路 园区路 港城路 幸福路"
)

# The 14 licensed collection units of the model, two per county-level division. The first is
# the demo collector whose dispatcher, driver and receiver are the printed logins.
COLLECTORS: tuple[tuple[str, str], ...] = (
    ("320602", "南通绿岛环保科技有限公司"),
    ("320602", "南通清源环境服务有限公司"),
    ("320612", "南通通州洁源环保科技有限公司"),
    ("320612", "南通金沙绿环环保科技有限公司"),
    ("320614", "南通海门蓝天环保科技有限公司"),
    ("320614", "南通三和环境服务有限公司"),
    ("320623", "南通如东洋口环保科技有限公司"),
    ("320623", "南通绿洲环境科技有限公司"),
    ("320681", "南通启东吕四环保科技有限公司"),
    ("320681", "南通江海清运环保科技有限公司"),
    ("320682", "南通如皋长江环保科技有限公司"),
    ("320682", "南通皋城绿源环境服务有限公司"),
    ("320685", "南通海安绿能环保科技有限公司"),
    ("320685", "南通里下河环境服务有限公司"),
)

FACILITY = ("320623", "南通江海固废处置有限公司")


@dataclass(frozen=True)
class Industry:
    """A typical small-producer industry and the waste codes its smart bin may hold."""

    key: str
    name: str
    weight: int  # share of producers
    waste_codes: tuple[str, ...]
    name_patterns: tuple[str, ...]  # {p}: place prefix, {b}: brand, {d}: full division name


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "vehicle_repair",
        "机动车维修",
        45,
        # 废矿物油, 沾染矿物油的包装, 含油抹布手套, 废油漆
        ("900-214-08", "900-249-08", "900-041-49", "900-252-12"),
        (
            "{p}{b}汽车维修有限公司",
            "南通市{d}{b}汽车修理厂",
            "{p}{b}汽车服务有限公司",
            "{p}{b}机动车维修中心",
            "南通市{d}{b}汽车快修服务部",
        ),
    ),
    Industry(
        "furniture",
        "家具制造",
        15,
        ("900-252-12", "900-041-49"),
        ("{p}{b}家具有限公司", "{p}{b}木业有限公司", "南通{b}家居制品有限公司"),
    ),
    Industry(
        "machining",
        "机械加工",
        20,
        # 900-006-09: 切削液乳化液 from machining
        ("900-249-08", "900-006-09", "900-041-49"),
        ("{p}{b}机械制造有限公司", "{p}{b}精密机械有限公司", "南通{b}五金机械厂", "{p}{b}机电设备有限公司"),
    ),
    Industry(
        "laboratory",
        "实验室",
        8,
        # 900-047-49 实验室废物; 900-039-49 废活性炭 from fume-hood VOC treatment
        ("900-047-49", "900-039-49", "900-041-49"),
        (
            "南通{b}检测技术有限公司",
            "南通{b}环境检测有限公司",
            "{p}{b}医药科技有限公司",
            "南通{b}质检技术服务有限公司",
        ),
    ),
    Industry(
        "printing",
        "印刷",
        12,
        # 900-253-12 丝网印刷 ink and solvent waste; 900-039-49 废活性炭 from VOC treatment
        ("900-253-12", "900-041-49", "900-039-49"),
        ("{p}{b}印务有限公司", "{p}{b}彩印包装有限公司", "南通{b}印刷有限公司"),
    ),
)
INDUSTRY_BY_KEY = {i.key: i for i in INDUSTRIES}

DEMO_WASTE_CODES: tuple[str, ...] = tuple(sorted({c for i in INDUSTRIES for c in i.waste_codes}))

# Categories that may share a truck (固废法 Art. 81; GB 18597-2023 keeps incompatible wastes apart):
# each collector's groups, by hazard category. A bin holding two groups travels on a truck alone.
COMPATIBLE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("油类、乳化液及沾染物", ("HW08", "HW09", "HW49")),
    ("涂料、油墨及有机溶剂", ("HW06", "HW12", "HW13")),
    ("酸碱及无机废物", ("HW17", "HW21", "HW22", "HW31", "HW34", "HW35")),
)

# Two-character shop names (字号) are a head and a tail: 宏达, 鑫源, 永盛 …
BRAND_HEADS = "宏鑫永华金恒顺瑞通江兴万利天嘉立博众协盛广德泰安富新海东明佳"
BRAND_TAILS = "达源盛通桥丰发祥海隆福民成禾信远诚力昌泰和辉宇鼎峰润晟立凯越"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡顾季陆缪"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅志文斌峰辉鹏宇浩婷雪琳健"

# Registration-authority + entity-type prefixes of the USCC (GB 32100-2015).
USCC_COMPANY = "91"  # 工商, 企业
USCC_GOVERNMENT = "11"  # 机构编制, 机关
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def org_code(rng: random.Random) -> str:
    """A 9-character organisation code with its GB 11714 check character.

    Since 2015 most new registrations carry an ``MA``-prefixed code, so most of ours do too.
    """
    if rng.random() < 0.7:
        body = "MA" + rng.choice("123456789") + "".join(rng.choice(USCC_ALPHABET) for _ in range(5))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w for c, w in zip(body, weights, strict=True)
    )
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def landline(rng: random.Random) -> str:
    """A Nantong landline (area code 0513, eight digits)."""
    return f"0513-8{rng.randrange(0, 10_000_000):07d}"


def street_address(rng: random.Random, division: DivisionInfo) -> str:
    return (
        f"江苏省南通市{division.name}{rng.choice(division.streets)}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
    )


def point_in(rng: random.Random, division: DivisionInfo) -> tuple[float, float]:
    """A point near the division's centre, rounded to the six decimals the Site model stores."""
    lat = division.lat + rng.uniform(-division.spread_lat, division.spread_lat)
    lon = division.lon + rng.uniform(-division.spread_lon, division.spread_lon)
    return round(lat, 6), round(lon, 6)


def plate(rng: random.Random) -> str:
    """A Nantong plate: 苏F, a separator dot, five characters (no I or O on Chinese plates)."""
    head = rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    return "苏F·" + head + "".join(rng.choice("0123456789") for _ in range(4))
