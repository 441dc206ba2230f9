"""Tests of module_utils/city/registry/numbering.py: Roman numerals and mail numbers (E8)."""
import pytest

from ansible.module_utils.city.registry import numbering


@pytest.mark.parametrize("n, roman", [
    (1, "I"), (2, "II"), (3, "III"), (4, "IV"), (5, "V"), (9, "IX"), (12, "XII"),
    (14, "XIV"), (40, "XL"), (49, "XLIX"), (90, "XC"), (400, "CD"), (444, "CDXLIV"),
    (900, "CM"), (1990, "MCMXC"), (2021, "MMXXI"), (3888, "MMMDCCCLXXXVIII"),
    (3999, "MMMCMXCIX"),
])
def test_roman_both_ways(n, roman):
    assert numbering.to_roman(n) == roman
    assert numbering.from_roman(roman) == n


def test_roman_round_trip_all():
    for n in range(1, 4000):
        assert numbering.from_roman(numbering.to_roman(n)) == n


def test_to_roman_accepts_digit_string():
    assert numbering.to_roman("14") == "XIV"


@pytest.mark.parametrize("n, reason", [
    (0, "1 to 3999"), (-1, "1 to 3999"), (4000, "1 to 3999"),
    (1.0, "must be an integer"), (True, "boolean"), (None, "must be an integer"),
    ("XIV", "must be an integer"), ("", "must be an integer"), (" 14", "must be an integer"),
])
def test_to_roman_rejects(n, reason):
    with pytest.raises(ValueError, match=reason):
        numbering.to_roman(n)


@pytest.mark.parametrize("s", [
    "", "IIII", "VX", "IL", "IC", "XM", "MMMM", "VV", "LL", "DD", "ii", "xiv", " XIV",
    "XIV ", "X I V", "ABC", "0",
])
def test_from_roman_rejects(s):
    with pytest.raises(ValueError, match="not a Roman numeral"):
        numbering.from_roman(s)


@pytest.mark.parametrize("s", [None, 14, b"XIV"])
def test_from_roman_rejects_non_strings(s):
    with pytest.raises(ValueError, match="must be a string"):
        numbering.from_roman(s)


@pytest.mark.parametrize("args, expected", [
    ((14, 2, 2021), "014/II/2021"),
    ((1, 1, 2021), "001/I/2021"),
    ((999, 12, 2026), "999/XII/2026"),
    ((1234, 9, 2026), "1234/IX/2026"),      # a longer sequence is written in full
    ((1, 4, 1900), "001/IV/1900"),
    ((1, 8, 9999), "001/VIII/9999"),
    (("14", "2", "2021"), "014/II/2021"),
])
def test_mail_number(args, expected):
    assert numbering.mail_number(*args) == expected


@pytest.mark.parametrize("width, expected", [(1, "14/II/2021"), (2, "14/II/2021"),
                                             (5, "00014/II/2021")])
def test_mail_number_width(width, expected):
    assert numbering.mail_number(14, 2, 2021, width=width) == expected


@pytest.mark.parametrize("args, reason", [
    ((0, 2, 2021), "sequence number must be 1 or more"),
    ((-3, 2, 2021), "sequence number must be 1 or more"),
    ((1, 0, 2021), "month must be 1 to 12"),
    ((1, 13, 2021), "month must be 1 to 12"),
    ((1, 2, 1899), "year must be 1900 to 9999"),
    ((1, 2, 10000), "year must be 1900 to 9999"),
    ((1, 2, 21), "year must be 1900 to 9999"),
    ((1.5, 2, 2021), "sequence number must be an integer"),
    ((True, 2, 2021), "boolean"),
    ((1, "II", 2021), "month must be an integer"),
    ((1, 2, None), "year must be an integer"),
])
def test_mail_number_rejects(args, reason):
    with pytest.raises(ValueError, match=reason):
        numbering.mail_number(*args)


@pytest.mark.parametrize("width", [0, -1, None, 2.0])
def test_mail_number_rejects_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        numbering.mail_number(1, 1, 2021, width=width)


@pytest.mark.parametrize("s, expected", [
    ("014/II/2021", (14, 2, 2021)),
    ("01/I/2021", (1, 1, 2021)),
    ("1/XII/2026", (1, 12, 2026)),
    ("1234/IX/2026", (1234, 9, 2026)),
    ("001/VIII/1900", (1, 8, 1900)),
])
def test_parse_mail_number(s, expected):
    assert numbering.parse_mail_number(s) == expected


def test_parse_mail_number_round_trip():
    for month in range(1, 13):
        s = numbering.mail_number(7, month, 2026)
        assert numbering.parse_mail_number(s) == (7, month, 2026)


@pytest.mark.parametrize("s, reason", [
    ("", "not a mail number"),
    ("014/2/2021", "not a mail number"),
    ("014/ii/2021", "not a mail number"),
    ("014/II/21", "not a mail number"),
    ("014-II-2021", "not a mail number"),
    ("014/II/2021/x", "not a mail number"),
    (" 014/II/2021", "not a mail number"),
    ("/II/2021", "not a mail number"),
    ("014/XIII/2021", "not a month"),
    ("014/IIII/2021", "not a month"),
    ("014/C/2021", "not a month"),
    ("000/II/2021", "sequence number must be 1 or more"),
    ("014/II/1899", "year must be 1900 to 9999"),
])
def test_parse_mail_number_rejects(s, reason):
    with pytest.raises(ValueError, match=reason):
        numbering.parse_mail_number(s)


@pytest.mark.parametrize("s", [None, 14, ("014", "II", "2021")])
def test_parse_mail_number_rejects_non_strings(s):
    with pytest.raises(ValueError, match="must be a string"):
        numbering.parse_mail_number(s)
