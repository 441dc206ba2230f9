"""SMS text accounting per 3GPP TS 23.038 (GSM 7-bit default alphabet, UCS-2).

Used for blasts (S3), keywords and sender IDs (S4): which encoding a text needs,
how many units (septets or UTF-16 code units) it costs, and how many concatenated
segments it is sent as.
"""
import re

# The default alphabet in code order (0x00..0x7F); 0x1B is the escape to the
# extension table, not a character of its own, so it is left out.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters reached through the escape: each costs two septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

SINGLE_GSM7_SEPTETS = 160
MULTI_GSM7_SEPTETS = 153  # 7 septets go to the concatenation header
SINGLE_UCS2_UNITS = 70
MULTI_UCS2_UNITS = 67

# Regexes do the per-character work in C: texts run up to 1,600 characters and
# are checked by the thousand.
_NON_GSM_RE = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_EXTENSION_RE = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010FFFF]")


def _check(text):
    """Return text if it is a str, else raise ValueError."""
    if not isinstance(text, str):
        raise ValueError("SMS text must be a string, not %s" % type(text).__name__)
    return text


def is_gsm7(text):
    """True when every character of text is in the GSM 7-bit alphabet (basic or extension)."""
    return _NON_GSM_RE.search(_check(text)) is None


def encoding(text):
    """The encoding text is sent in: "GSM-7" or, if any character is outside it, "UCS-2"."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def non_gsm_chars(text):
    """List of (index, char) of every character that forces UCS-2, in order."""
    return [(m.start(), m.group()) for m in _NON_GSM_RE.finditer(_check(text))]


def _gsm7_units(text):
    """Septets of a GSM-7 text: extension characters are escape + character."""
    return len(text) + sum(map(text.count, GSM7_EXTENSION))


def _ucs2_units(text):
    """UTF-16 code units: characters beyond the BMP are a surrogate pair."""
    # surrogatepass: a lone surrogate (possible in a Python str) is one unit, not an error.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def units(text):
    """Septets (extension characters count 2) for GSM-7, UTF-16 code units for UCS-2."""
    if is_gsm7(text):
        return _gsm7_units(text)
    return _ucs2_units(text)


def _pack(text, wide_re, n, per_segment):
    """Segments for n units when characters matching wide_re (2 units) may not straddle.

    Only the unit offsets of the wide characters are needed: a segment ends one
    unit early when a wide character would start on its last unit.
    """
    # The k-th wide character starts k units later than its index in text.
    wide_starts = {m.start() + k for k, m in enumerate(wide_re.finditer(text))}
    count = start = 0
    while start < n:
        count += 1
        end = start + per_segment
        if end - 1 in wide_starts:
            end -= 1
        start = end
    return count


def _segments(text, gsm7, n):
    """Segments for text already known to be gsm7 (or not) and to cost n units."""
    if n == 0:
        return 0
    single, multi = ((SINGLE_GSM7_SEPTETS, MULTI_GSM7_SEPTETS) if gsm7
                     else (SINGLE_UCS2_UNITS, MULTI_UCS2_UNITS))
    if n <= single:
        return 1
    if n == len(text):
        # No two-unit characters, so nothing can straddle: plain division is exact.
        return -(-n // multi)
    return _pack(text, _EXTENSION_RE if gsm7 else _ASTRAL_RE, n, multi)


def segments(text):
    """Number of SMS segments: 0 for empty; 160/153 septets (GSM-7) or 70/67 units (UCS-2).

    A two-septet extension character or a surrogate pair is never split over two
    segments, so a text may need one segment more than plain division says.
    """
    gsm7 = is_gsm7(text)
    n = _gsm7_units(text) if gsm7 else _ucs2_units(text)
    return _segments(text, gsm7, n)


def sms_info(text):
    """Dict with encoding, units, segments and non_gsm_chars of text, computed once."""
    bad = non_gsm_chars(text)
    gsm7 = not bad
    n = _gsm7_units(text) if gsm7 else _ucs2_units(text)
    return {
        "encoding": "GSM-7" if gsm7 else "UCS-2",
        "units": n,
        "segments": _segments(text, gsm7, n),
        "non_gsm_chars": bad,
    }
