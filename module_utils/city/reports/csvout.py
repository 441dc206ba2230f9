"""Report tables as CSV: RFC 4180 quoting, UTF-8, one header row.

A cell a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: an SMS text or keyword comes from anyone) gets a
leading ``'``, the usual guard; numbers and phone numbers (``+6281...``, ``-3``) are
left as they are.
"""
import csv
import io
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .,]*$")


def cell(value):
    """One value as CSV cell text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        value = "\n".join(str(v) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def to_csv(columns, rows):
    """CSV text of ``rows`` (dicts) with ``columns``: a list of (key, header)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([header for _key, header in columns])
    for row in rows:
        writer.writerow([cell(row.get(key)) for key, _header in columns])
    return out.getvalue()
