"""Tests of module_utils/city/registry/phone.py: E.164 normalisation (S5)."""
import re

import pytest

from ansible.module_utils.city.registry import phone


@pytest.mark.parametrize("number, expected", [
    ("0812-3456-7890", "+6281234567890"),
    ("0812 3456 7890", "+6281234567890"),
    ("(0812) 34567890", "+6281234567890"),
    ("+62 812-3456-7890", "+6281234567890"),
    ("+62-812-3456-7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("+6281234567890", "+6281234567890"),
    ("0812.3456.7890", "+6281234567890"),
    ("  0812 3456 7890  ", "+6281234567890"),
    ("0812\u00a03456\t7890", "+6281234567890"),
    ("(021) 8896-0000", "+622188960000"),
    ("021 88960000", "+622188960000"),
    ("+62 21 8896 0000", "+622188960000"),
    ("(022) 123456", "+6222123456"),              # 8-digit national number: the minimum
    ("0812-3456-7890-1", "+62812345678901"),      # 12-digit national number: the maximum
    (6281234567890, "+6281234567890"),            # YAML reads unquoted 6281... as an int
])
def test_to_e164(number, expected):
    assert phone.to_e164(number) == expected


def test_to_e164_is_idempotent():
    once = phone.to_e164("0812-3456-7890")
    assert phone.to_e164(once) == once


@pytest.mark.parametrize("number, country_code, expected", [
    ("+65 6123 4567", "65", "+6561234567"),
    ("06123-4567", "65", "+6561234567"),
    ("0812-3456-7890", 62, "+6281234567890"),
])
def test_to_e164_other_country_code(number, country_code, expected):
    assert phone.to_e164(number, country_code) == expected


@pytest.mark.parametrize("number, reason", [
    ("", "empty"),
    ("   ", "empty"),
    ("-().", "empty"),
    ("+", "no digits"),
    ("0812-3456-789O", "contains 'O'"),
    ("0812 3456 7890 ext 12", "contains 'e'"),
    ("0812/3456/7890", "contains '/'"),
    ("++6281234567890", "contains '+'"),
    ("0812+34567890", "contains '+'"),
    ("+65 6123 4567", "country code other than +62"),
    ("+1 202 555 0100", "country code other than +62"),
    ("006281234567890", "international prefix 00"),
    ("81234567890", "must start with 0, 62 or +62"),
    ("+62 0812 3456 7890", "must not start with 0"),
    ("62081234567890", "must not start with 0"),
    ("0", "has 0 digits"),
    ("0812345", "has 6 digits"),
    ("0811-1234", "has 7 digits"),
    ("+62 812 3456 7890 12", "has 13 digits"),
    ("0812-3456-7890-12", "has 13 digits"),
    ("０８１２３４５６７８９０", "contains"),  # full-width digits are not ASCII digits
])
def test_to_e164_rejects(number, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        phone.to_e164(number)


@pytest.mark.parametrize("number", [None, 8.12, True, ["0812"], b"081234567890"])
def test_to_e164_rejects_non_strings(number):
    with pytest.raises(ValueError, match="must be a string"):
        phone.to_e164(number)


@pytest.mark.parametrize("country_code", ["", "0", "062", "1234", "+62", "6a", None, True])
def test_to_e164_rejects_bad_country_code(country_code):
    with pytest.raises(ValueError, match="country code"):
        phone.to_e164("0812-3456-7890", country_code)


@pytest.mark.parametrize("number, expected", [
    ("+6281234567890", True),
    ("0812-3456-7890", True),
    ("0811-123456", True),          # 9 national digits: shortest mobile
    ("0811-12345", False),          # 8 national digits starting with 8: not a mobile
    ("0858 1234 5678 9", True),
    ("+622188960000", False),       # Jakarta landline
    ("(022) 1234567", False),
])
def test_is_mobile(number, expected):
    assert phone.is_mobile(number) is expected


def test_is_mobile_rejects_invalid():
    with pytest.raises(ValueError):
        phone.is_mobile("not a number")


def test_is_mobile_uses_country_code():
    assert phone.is_mobile("+65 8123 45678", "65") is True
    with pytest.raises(ValueError, match="other than \\+65"):
        phone.is_mobile("+6281234567890", "65")


def test_numbers_compare_after_normalisation():
    forms = ["0812-3456-7890", "+62 812 3456 7890", "(0812) 34567890", "6281234567890"]
    assert len({phone.to_e164(f) for f in forms}) == 1
