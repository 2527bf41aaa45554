"""HJ 1259-2022 Appendix B batch codes: HW + type letters + YYYYMMDD + serial."""

from __future__ import annotations

import datetime as dt

import pytest

from greenisle.ledger.batch_codes import BatchCode, BatchCodeError, format_batch_code, parse_batch_code
from greenisle.ledger.models import RecordType

DAY = dt.date(2021, 10, 31)

# The examples of tables B.1–B.5 (docs/domain/hj1259.md).
STANDARD_EXAMPLES = {
    "production": "HWCS20211031001",
    "storage_in": "HWRK20211031001",
    "storage_out": "HWCK20211031001",
    "own_utilisation": "HWZXLY20211031001",
    "own_disposal": "HWZXCZ20211031001",
    "outsourced_utilisation": "HWWWLY20211031001",
    "outsourced_disposal": "HWWWCZ20211031001",
    "export_utilisation": "HWCKLY20211031001",
    "export_disposal": "HWCKCZ20211031001",
}


@pytest.mark.parametrize(("record_type", "code"), STANDARD_EXAMPLES.items())
def test_format_gives_the_standard_example(record_type, code):
    assert format_batch_code(record_type, DAY, 1) == code


@pytest.mark.parametrize(("record_type", "code"), STANDARD_EXAMPLES.items())
def test_parse_reads_the_standard_example(record_type, code):
    assert parse_batch_code(code) == BatchCode(record_type, DAY, 1)


@pytest.mark.parametrize("record_type", RecordType.values)
def test_every_ledger_record_type_has_a_batch_code(record_type):
    code = format_batch_code(record_type, dt.date(2026, 10, 8), 17)
    assert parse_batch_code(code) == BatchCode(record_type, dt.date(2026, 10, 8), 17)


def test_storage_out_is_not_read_as_export_and_export_not_as_storage_out():
    # CK (出库) is a prefix of CKLY/CKCZ (出口): only the whole string decides.
    assert parse_batch_code("HWCK20211031001").record_type == "storage_out"
    assert parse_batch_code("HWCKLY20211031001").record_type == "export_utilisation"
    assert parse_batch_code("HWCKCZ20211031001").record_type == "export_disposal"


def test_serial_past_999_grows_a_digit_instead_of_wrapping():
    code = format_batch_code("production", DAY, 1000)
    assert code == "HWCS202110311000"
    assert parse_batch_code(code).serial == 1000


@pytest.mark.parametrize(
    "code",
    [
        "HWCS2021103101",  # serial of two digits
        "HWXX20211031001",  # unknown type
        "CS20211031001",  # no HW
        "HWCS20211331001",  # month 13
        "HWCS20210230001",  # 30 February
        "hwcs20211031001",
        "HWCS20211031001 ",
        "HWCS20211031001\n",
        "HWCKL20211031001",
        "",
    ],
)
def test_parse_refuses_malformed_codes(code):
    with pytest.raises(BatchCodeError):
        parse_batch_code(code)


def test_format_refuses_unknown_type_and_non_positive_serial():
    with pytest.raises(BatchCodeError, match="unknown"):
        format_batch_code("recycling", DAY, 1)
    with pytest.raises(BatchCodeError, match="positive"):
        format_batch_code("production", DAY, 0)
