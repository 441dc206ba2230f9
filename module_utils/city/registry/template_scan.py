"""Find template markers in registry strings: the registry is data, never a template.

The toolkit reads the registry only as data that Ansible does not template
(lookup ``city_registry``), so a marker is inert there. It is refused all the same,
as a second line of defence: a future task that reads a file the trusted way, or a
copy pasted into a playbook, would run it (docs/security.md).

The check is on the parsed strings, keys included, not on the text: YAML escapes
(``"\\x7b{ ... }}"``) and escaped line breaks can spell a marker that the text does
not show. Whether the data needs a walk at all is told by one search of the parsed
strings as the loader emitted them (``may_hold_marker``), or, for a file read without
rapidyaml, by a cheap look at the text.
"""
import re

from ansible.module_utils.city.registry.findings import ERROR, Finding

MARKERS = ("{{", "{%", "{#")
_MARKER_RE = re.compile(r"\{[{%#]")
# Anything that could become a marker once parsed: the marker itself, with blanks or
# an escaped line break in between, or a brace written as an escape.
_MAYBE_RE = re.compile(r"\{[\s\\]*[{%#]|\\(?:x7[bB]|u007[bB]|U0000007[bB])")


def scan(loaded):
    """Findings for every string (key or value) of ``loaded`` holding a template marker."""
    if loaded.data is None:
        return []
    known = getattr(loaded, "may_hold_marker", None)
    if known is False or (known is None and not _MAYBE_RE.search(loaded.text)):
        return []
    findings = []
    stack = [((), loaded.data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, sub in value.items():
                if _MARKER_RE.search(key):
                    findings.append(_finding(loaded, path + (key,), "key", key))
                stack.append((path + (key,), sub))
        elif isinstance(value, list):
            stack.extend((path + (index,), sub) for index, sub in enumerate(value))
        elif isinstance(value, str) and _MARKER_RE.search(value):
            findings.append(_finding(loaded, path, "value", value))
    return sorted(findings, key=Finding.sort_key)


def _finding(loaded, path, at, text):
    line, column = loaded.locate(path, at)
    return Finding(ERROR, "REG-TEMPLATE", "REG", loaded.display, path,
                   "template marker %r in %r: the registry is data, nothing in it is "
                   "evaluated" % (_MARKER_RE.search(text).group(0), _shorten(text)),
                   "remove the braces (write the text without '{{', '{%' or '{#')",
                   at=at, line=line, column=column)


def _shorten(text, limit=60):
    return text if len(text) <= limit else text[:limit] + "..."
