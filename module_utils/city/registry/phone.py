"""Indonesian phone numbers to E.164 (S5: SMS users are unique after normalisation).

People write numbers as "0812-3456-7890", "(021) 8896 0000", "+62 812 3456 7890" or
"62812..."; the registry compares and stores them as "+62812...".
"""
import re

# Separators people type inside numbers; anything else is an error, not noise.
_SEPARATORS_RE = re.compile(r"[\s.\-()]+")
_COUNTRY_CODE_RE = re.compile(r"[1-9][0-9]{0,2}")
_DIGITS_RE = re.compile(r"[0-9]+")
_NSN_MIN, _NSN_MAX = 8, 12
_MOBILE_MIN, _MOBILE_MAX = 9, 12


def _country_code(country_code):
    """Validate a country code ("62" or 62) and return it as a string of digits."""
    if isinstance(country_code, int) and not isinstance(country_code, bool):
        country_code = str(country_code)
    if not isinstance(country_code, str) or not _COUNTRY_CODE_RE.fullmatch(country_code):
        raise ValueError("country code %r is not 1 to 3 digits without a leading 0"
                         % (country_code,))
    return country_code


def to_e164(number, country_code="62"):
    """Normalise a national or international form of a number to "+<cc><national number>".

    Spaces, dots, hyphens and parentheses are ignored. The national significant
    number (after the country code or the trunk 0) must start with 1-9 and have 8 to
    12 digits. An int is taken as its decimal digits (YAML reads 6281... as one).
    """
    cc = _country_code(country_code)
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if not isinstance(number, str):
        raise ValueError("phone number must be a string, not %s" % type(number).__name__)
    compact = _SEPARATORS_RE.sub("", number)
    if not compact:
        raise ValueError("phone number is empty")
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits:
        raise ValueError("phone number %r has no digits" % (number,))
    if not _DIGITS_RE.fullmatch(digits):
        bad = next(c for c in digits if not "0" <= c <= "9")
        raise ValueError("phone number %r contains %r: only digits, a leading +, spaces, "
                         "dots, hyphens and parentheses are allowed" % (number, bad))
    if plus:
        if not digits.startswith(cc):
            raise ValueError("phone number %r has a country code other than +%s"
                             % (number, cc))
        national = digits[len(cc):]
    elif digits.startswith("00"):
        raise ValueError("phone number %r starts with the international prefix 00: "
                         "write +%s instead" % (number, cc))
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith(cc):
        national = digits[len(cc):]
    else:
        raise ValueError("phone number %r must start with 0, %s or +%s" % (number, cc, cc))
    if national.startswith("0"):
        raise ValueError("phone number %r: the national number after the country code or "
                         "the leading 0 must not start with 0" % (number,))
    if not _NSN_MIN <= len(national) <= _NSN_MAX:
        raise ValueError("phone number %r: the national number has %d digits, expected "
                         "%d to %d" % (number, len(national), _NSN_MIN, _NSN_MAX))
    return "+" + cc + national


def is_mobile(e164, country_code="62"):
    """True for an Indonesian mobile number (+628 and 9 to 12 national digits).

    The number is normalised first, so any form to_e164 accepts will do; an
    invalid number raises ValueError.
    """
    normalised = to_e164(e164, country_code)
    national = normalised[1 + len(_country_code(country_code)):]
    return national.startswith("8") and _MOBILE_MIN <= len(national) <= _MOBILE_MAX
