"""Official mail numbers (E8): "NNN/<month in Roman numerals>/<year>", e.g. "014/II/2021"."""
import re

_ROMAN_VALUES = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)
# Only the canonical (subtractive) forms: "IIII" or "VX" are typos, not numbers.
_ROMAN_RE = re.compile(r"(M{0,3})(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_DIGIT = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_MAIL_NUMBER_RE = re.compile(r"([0-9]+)/([A-Z]+)/([0-9]{4})")
_DIGITS_RE = re.compile(r"[0-9]+")


def _as_int(value, what):
    """An int, or a str of ASCII digits, as int; anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("%s must be an integer, not a boolean" % what)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return int(value)
    raise ValueError("%s must be an integer, not %r" % (what, value))


def to_roman(n):
    """Roman numeral of n, 1..3999: 14 -> "XIV"."""
    n = _as_int(n, "Roman numeral value")
    if not 1 <= n <= 3999:
        raise ValueError("Roman numerals cover 1 to 3999, not %d" % n)
    out = []
    for value, letters in _ROMAN_VALUES:
        count, n = divmod(n, value)
        out.append(letters * count)
    return "".join(out)


def from_roman(s):
    """Value of a canonical upper-case Roman numeral: "XIV" -> 14."""
    if not isinstance(s, str):
        raise ValueError("Roman numeral must be a string, not %s" % type(s).__name__)
    if not s or not _ROMAN_RE.fullmatch(s):
        raise ValueError("%r is not a Roman numeral (upper case, canonical form, "
                         "1 to 3999)" % (s,))
    total = 0
    previous = 0
    for letter in reversed(s):
        value = _ROMAN_DIGIT[letter]
        total += -value if value < previous else value
        previous = max(previous, value)
    return total


_MONTHS = tuple(to_roman(m) for m in range(1, 13))
_MONTH_OF = {roman: m for m, roman in enumerate(_MONTHS, 1)}


def _check_parts(seq, month, year):
    """Validate the three parts of a mail number; return them as ints."""
    seq = _as_int(seq, "sequence number")
    month = _as_int(month, "month")
    year = _as_int(year, "year")
    if seq < 1:
        raise ValueError("sequence number must be 1 or more, not %d" % seq)
    if not 1 <= month <= 12:
        raise ValueError("month must be 1 to 12, not %d" % month)
    if not 1900 <= year <= 9999:
        raise ValueError("year must be 1900 to 9999, not %d" % year)
    return seq, month, year


def mail_number(seq, month, year, width=3):
    """Mail number of the seq-th letter of a month: (14, 2, 2021) -> "014/II/2021".

    seq is zero-padded to width digits; a longer seq is written in full.
    """
    seq, month, year = _check_parts(seq, month, year)
    width = _as_int(width, "width")
    if width < 1:
        raise ValueError("width must be 1 or more, not %d" % width)
    return "%0*d/%s/%d" % (width, seq, _MONTHS[month - 1], year)


def parse_mail_number(s):
    """(seq, month, year) of a mail number: "014/II/2021" -> (14, 2, 2021)."""
    if not isinstance(s, str):
        raise ValueError("mail number must be a string, not %s" % type(s).__name__)
    match = _MAIL_NUMBER_RE.fullmatch(s)
    if not match:
        raise ValueError("%r is not a mail number of the form NNN/<month in Roman "
                         "numerals>/<year>, e.g. 014/II/2021" % (s,))
    seq, roman, year = match.groups()
    if roman not in _MONTH_OF:
        raise ValueError("%r: %r is not a month in Roman numerals (I to XII)" % (s, roman))
    return _check_parts(int(seq), _MONTH_OF[roman], int(year))
