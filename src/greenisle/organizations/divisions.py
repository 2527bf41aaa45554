"""GB/T 2260 codes the platform ships: Jiangsu, Nantong and Nantong's county-level divisions
(as of the 2020 adjustments: 港闸区 merged into 崇川区, 海门市 became 海门区)."""

DIVISIONS: list[tuple[str, str, str | None]] = [
    ("320000", "江苏省", None),
    ("320600", "南通市", "320000"),
    ("320602", "崇川区", "320600"),
    ("320612", "通州区", "320600"),
    ("320614", "海门区", "320600"),
    ("320623", "如东县", "320600"),
    ("320681", "启东市", "320600"),
    ("320682", "如皋市", "320600"),
    ("320685", "海安市", "320600"),
]
