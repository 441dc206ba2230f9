"""Find template markers in registry strings: the registry is data, never a template.

The toolkit reads the registry only as data that Ansible does not template
(lookup ``city_registry``), so a marker is inert there. It is refused all the same,
as a second line of defence: a future task that reads a file the trusted way, or a
copy pasted into a playbook, would run it (docs/security.md).

The check is on the parsed strings, keys included, not on the text: YAML escapes
(``"\\x7b{ ... }}"``) and escaped line breaks can spell a marker that the text does
not show. A cheap look at the text decides whether the node tree needs a walk.
"""
import re

import yaml

from ansible.module_utils.registry.findings import ERROR, Finding

MARKERS = ("{{", "{%", "{#")
_MARKER_RE = re.compile(r"\{[{%#]")
# Anything that could become a marker once parsed: the marker itself, with blanks or
# an escaped line break in between, or a brace written as an escape.
_MAYBE_RE = re.compile(r"\{[\s\\]*[{%#]|\\(?:x7[bB]|u007[bB]|U0000007[bB])")


def scan(loaded):
    """Findings for every scalar (key or value) of ``loaded`` holding a template marker."""
    if loaded.node is None or not _MAYBE_RE.search(loaded.text):
        return []
    findings = []
    stack = [loaded.node]
    seen = set()  # an alias shares its node: visit each once (no alias bomb)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            match = _MARKER_RE.search(node.value) if isinstance(node.value, str) else None
            if match:
                mark = node.start_mark
                findings.append(Finding(
                    ERROR, "REG-TEMPLATE", "REG", loaded.display, (),
                    "template marker %r in %r: the registry is data, nothing in it is "
                    "evaluated" % (match.group(0), _shorten(node.value)),
                    "remove the braces (write the text without '{{', '{%' or '{#')",
                    line=mark.line + 1, column=mark.column + 1))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(value)
                stack.append(key)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(findings, key=Finding.sort_key)


def _shorten(text, limit=60):
    return text if len(text) <= limit else text[:limit] + "..."
