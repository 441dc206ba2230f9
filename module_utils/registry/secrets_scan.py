"""Find secrets written into registry text (E6): keys, vault blobs, hashes, PINs.

It reads the raw text rather than the parsed data: a password pasted into a comment
leaks as surely as one in a value, and one regular expression over the text is far
cheaper than a walk over every parsed string.
"""
import re

from ansible.module_utils.registry.findings import ERROR, Finding

_SECRET_KEY = (r"(?:[a-z_]*_)?(?:password|passwd|passphrase|pwd|pin|puk|secret|private_key|"
               r"token|api_key|apikey|tsig_key|bind_pw|credentials?)")
_PATTERNS = [
    (re.compile(r"^[ \t]*(?:-[ \t]+)?[\"']?(%s)[\"']?[ \t]*:" % _SECRET_KEY,
                re.IGNORECASE | re.MULTILINE),
     "key '%s' would hold a secret",
     "secrets live in ansible-vault (inventory/<env>/group_vars/all/vault.yml), never in the "
     "registry; remove it"),
    (re.compile(r"(\$ANSIBLE_VAULT;|![ \t]*vault\b)"),
     "an ansible-vault value (%s) in the registry",
     "the registry is public to auditors: keep vaulted values in the inventory's vault.yml"),
    (re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)"),
     "a private key (%s)",
     "remove it now and replace the key: only public keys belong in the registry"),
    (re.compile(r"(\{(?:SSHA|SSHA256|SSHA512|SHA|MD5|SMD5|CRYPT|ARGON2|PBKDF2[A-Z0-9-]*)\}\S+|"
                r"\$(?:argon2(?:id|i|d)|2[aby]|5|6|y)\$\S+)"),
     "a password hash (%s...)",
     "password hashes are secrets too (E6): remove it; the mail module sets passwords"),
]


def scan(text, display):
    """Findings for every secret-looking line of ``text``."""
    findings = []
    lines = None
    for pattern, what, fix in _PATTERNS:
        for match in pattern.finditer(text):
            if lines is None:
                lines = _line_starts(text)
            line, column = _position(lines, match.start(1))
            shown = match.group(1)[:24]
            findings.append(Finding(ERROR, "E6-SECRET", "E6", display, (), what % shown, fix,
                                    line=line, column=column))
    return findings


def _line_starts(text):
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _position(starts, offset):
    import bisect
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1
