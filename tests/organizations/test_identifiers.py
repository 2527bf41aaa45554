"""统一社会信用代码 (GB 32100-2015) and division codes (GB/T 2260)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from factories import ProducerFactory, division

from greenisle.organizations.identifiers import (
    IdentifierError,
    division_prefix,
    province_city,
    uscc_with_check_digit,
    validate_division_code,
    validate_uscc,
)

# A real-format code: registration authority 9 (工商), type 1 (企业), division 320602, organisation code.
FIRST17 = "91320602MA1MXK8T7"


def test_generated_uscc_validates():
    code = uscc_with_check_digit(FIRST17)
    assert len(code) == 18
    assert validate_uscc(code) == code


def _wrong_check_digit(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


def test_uscc_with_a_wrong_check_digit_is_refused_saying_so():
    with pytest.raises(IdentifierError, match="check digit"):
        validate_uscc(_wrong_check_digit(uscc_with_check_digit(FIRST17)))


@pytest.mark.parametrize(
    ("value", "reason"),
    [("91320602MA1MXK8T", "length"), ("9132O602MA1MXK8T74", "format"), ("91320602MA1MXK8TI7", "format")],
)
def test_uscc_with_wrong_length_or_characters_is_refused(value, reason):
    with pytest.raises(IdentifierError, match=reason):
        validate_uscc(value)


def test_check_digit_needs_exactly_17_characters():
    with pytest.raises(IdentifierError):
        uscc_with_check_digit(FIRST17[:-1])


@pytest.mark.django_db
def test_organisation_with_a_wrong_check_digit_fails_model_validation_on_uscc():
    org = ProducerFactory.build(
        division=division("320602"), uscc=_wrong_check_digit(uscc_with_check_digit(FIRST17))
    )
    with pytest.raises(ValidationError) as error:
        org.full_clean()
    assert set(error.value.message_dict) == {"uscc"}


@pytest.mark.parametrize(
    ("code", "prefix"),
    [("320000", "32"), ("320600", "3206"), ("320602", "320602"), ("320612", "320612")],
)
def test_division_prefix_covers_the_divisions_inside(code, prefix):
    assert division_prefix(code) == prefix


@pytest.mark.parametrize("code", ["32060", "3206021", "020602", "32O602", ""])
def test_invalid_division_codes_are_refused(code):
    with pytest.raises(IdentifierError):
        division_prefix(code)
    with pytest.raises(IdentifierError):
        validate_division_code(code)


def test_province_city_is_the_first_four_digits():
    assert province_city("320602") == "3206"
    assert province_city("320600") == "3206"
