"""Mask secrets in anything the plan or the audit trail writes.

Two nets, because a secret can reach a record by its key (a module argument or result
field) or inside a text (a rendered configuration file in a --diff): keys whose name
says secret are replaced whole; texts have the value of known secret-bearing lines and
of password hashes replaced.
"""
import re

MASK = "********"

_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|passphrase|secret|pin|pins|token|private_key|key_secret|bind_pw|"
    r"credentials?|vault_password|userpassword|rootpw|olcrootpw)($|_)", re.IGNORECASE)

_SECRET_TEXT = [
    # BIND key clauses: secret "base64";
    (re.compile(r'(\bsecret\s+")[^"]*(")', re.IGNORECASE), r"\g<1>" + MASK + r"\g<2>"),
    # key = value, key: value and key value lines of configuration files (smsdrc PIN,
    # nslcd's bindpw ...); a comment that mentions a password loses its end, which is safe
    (re.compile(r"(?im)^(\s*[\w.-]*(?:password|passwd|pin|secret|bindpw|rootpw)[\w.-]*(?:\s*[:=]\s*|\s+))\S.*$"),
     r"\g<1>" + MASK),
    # a SIM PIN where Gammu prints it inside a line: 'PIN code is "4321"' (gammu-smsd
    # from DebugLevel 1 on, its log and gammu-smsd-monitor) and the AT traffic
    # 'AT+CPIN="4321"' (DebugLevel bit 4)
    (re.compile(r'(?i)(\bPIN2? code is\s*")[^"\n]*(")'), r"\g<1>" + MASK + r"\g<2>"),
    (re.compile(r'(?i)(\bAT\+CPIN2?\s*=\s*"?)[^"\s,]*'), r"\g<1>" + MASK),
    # LDIF password attributes, userPassword:: base64 included
    (re.compile(r"(?im)^(\s*(?:userPassword|olcRootPW)\s*::?\s*).*$"), r"\g<1>" + MASK),
    # password hashes wherever they stand
    (re.compile(r"\{(ARGON2|SSHA|SSHA256|SSHA512|CRYPT|SHA|MD5|SMD5|PBKDF2[\w-]*)\}\S+", re.IGNORECASE),
     "{\\1}" + MASK),
    # an ansible-vault blob
    (re.compile(r"\$ANSIBLE_VAULT;[^\n]*(\n\s*[0-9a-f]+)*", re.IGNORECASE), "$ANSIBLE_VAULT;" + MASK),
    # private keys (TLS, SSH)
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL),
     "-----BEGIN \\1PRIVATE KEY-----" + MASK + "-----END \\1PRIVATE KEY-----"),
]


def is_secret_key(name):
    return bool(_SECRET_KEY.search(str(name)))


def mask_text(text):
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def mask(value, known=()):
    """A copy of ``value`` (JSON-like) with secrets replaced by ``MASK``.

    ``known`` are secret values (strings) to replace wherever they appear, for
    secrets that stand in no recognisable place.
    """
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "", [], {}) else mask(v, known))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, known) for v in value]
    if isinstance(value, str):
        value = mask_text(value)
        for secret in known:
            if secret and len(secret) >= 6 and secret in value:
                value = value.replace(secret, MASK)
        return value
    return value


def mask_pins(text, pins):
    """``text`` with every SIM PIN in ``pins`` replaced, however short, and the PIN shapes
    of ``mask_text`` masked. PINs are 4 to 8 digits: too short for ``mask``'s ``known``
    (which would mangle any text), so only the SMS gateway's own outputs go through here.
    Longer PINs first, so that one that starts another is never left half shown."""
    text = mask_text(text)
    for pin in sorted({str(p) for p in pins if p not in (None, "")}, key=len, reverse=True):
        text = text.replace(pin, MASK)
    return text
