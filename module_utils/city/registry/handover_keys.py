"""The public keys new mail passwords are encrypted to (people.yml ``handover_keys``).

A hand-over file is an ``age`` file (https://age-encryption.org/v1) whose recipients are
the keys of exactly one person: the holder of a position or personal account, or the
e-mail officer (``mail_admin``) of the agency for its agency and event accounts (P17 Pasal
35 ayat (2)-(3), requirement E6). age encrypts to its own X25519 keys (``age1...``) and to
the two SSH key types it supports, ``ssh-ed25519`` and ``ssh-rsa``; this module checks a
key's form without any cryptographic library, so that the validation (CI, a laptop) needs
none. The module that encrypts parses each key again with the age implementation itself.
"""
import re

from ansible.module_utils.city.sms import signature as blast_signature

# The forms schemas/people.schema.json accepts (tests/registry keep the two the same).
# age1 + 52 bech32 characters of a 32-byte X25519 key + 6 of checksum; ssh-ed25519 with
# its fixed prefix (type, then a 32-byte point); ssh-rsa of 2048 to 16384 bits.
AGE_PATTERN = r"age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}"
SSH_PATTERN = (r"(ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}"
               r"|ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/]{350,2800}={0,2})( [!-~][ -~]{0,99})?")
KEY_PATTERN = "^(%s|%s)$" % (AGE_PATTERN, SSH_PATTERN)
KEY_RE = re.compile(KEY_PATTERN[:-1] + r"\Z")
SSH_TYPES = ("ssh-ed25519", "ssh-rsa")  # the SSH keys age encrypts to

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3)


class HandoverKeyError(ValueError):
    """A key line age cannot encrypt to; the message never holds the (unbounded) value."""


def _fold(top):
    """BIP 173's generator folded into one value per 5 top bits (a table of 32): a registry
    of a city's people holds tens of thousands of keys, checked at every validation."""
    out = 0
    for i in range(5):
        if top >> i & 1:
            out ^= _GENERATOR[i]
    return out


_FOLDED = tuple(_fold(top) for top in range(32))
_VALUE = {c: i for i, c in enumerate(_CHARSET)}
_AS_BASE32 = str.maketrans(_CHARSET, "0123456789abcdefghijklmnopqrstuv")


def _polymod(values):
    check = 1
    for value in values:
        check = (check & 0x1ffffff) << 5 ^ value ^ _FOLDED[check >> 25]
    return check


def _age_key(line):
    """The 32 bytes of an ``age1`` recipient (BIP 173 bech32, as age writes it)."""
    if line != line.lower():
        raise HandoverKeyError("an age public key is written in lowercase, as age-keygen prints it")
    hrp, unused_separator, data = line.rpartition("1")
    if hrp != "age":
        raise HandoverKeyError("an age public key starts with age1")
    bad = next((c for c in data if c not in _VALUE), None)
    if bad is not None:
        raise HandoverKeyError("an age public key has no %r: its characters are those of bech32 (%s)"
                               % (bad, _CHARSET))
    values = [_VALUE[c] for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expanded + values) != 1:
        raise HandoverKeyError("the age public key's checksum does not match: a character is "
                               "changed, missing or added; copy the line age-keygen -y prints")
    payload = data[:-6]
    if len(payload) != 52:  # 32 bytes are 256 bits: 52 characters of 5 bits, 4 of padding
        raise HandoverKeyError("an age public key holds 32 bytes (52 characters before its checksum); "
                               "this one has %d characters" % len(payload))
    number = int(payload.translate(_AS_BASE32), 32)
    if number & 0xf:
        raise HandoverKeyError("the age public key has stray bits at its end")
    return (number >> 4).to_bytes(32, "big")


def parse(line):
    """(kind, identity) of a hand-over key line: kind ``age`` or the SSH type, identity the key
    without its comment (two lines of one key have the same identity). Raises
    HandoverKeyError saying why age could not encrypt to it."""
    if not isinstance(line, str):
        raise HandoverKeyError("the key is a %s, not a line of text" % type(line).__name__)
    if len(line) > blast_signature.KEY_LINE_MAX:
        raise HandoverKeyError("the key line has %d characters; a public key line has at most %d"
                               % (len(line), blast_signature.KEY_LINE_MAX))
    text = line.strip()
    if text.startswith("AGE-SECRET-KEY-"):
        raise HandoverKeyError("this is an age PRIVATE key: remove it from the registry at once, "
                               "make a new key pair, and list only its public key (age-keygen -y)")
    if text.startswith("age"):
        _age_key(text)
        return "age", text
    key_type = text.split(None, 1)[0] if text else ""
    if key_type not in SSH_TYPES:
        raise HandoverKeyError("age encrypts to age keys (age1...) and to ssh-ed25519 and ssh-rsa "
                               "keys, not to %s" % (blast_signature._short(key_type) or "an empty line"))
    try:
        key = blast_signature.parse_public_key(text)
    except blast_signature.KeyFormatError as exc:
        raise HandoverKeyError(str(exc))
    return key.type, "%s %s" % (key.type, text.split(None, 2)[1])


def problem(line):
    """None when age can encrypt to ``line``, else why not."""
    try:
        parse(line)
    except HandoverKeyError as exc:
        return str(exc)
    return None


def age_public_key(data):
    """The ``age1...`` line of a 32-byte X25519 public key (bech32, as age writes it); for
    registries made by programs (bench/generate_registry.py), never to make a key pair."""
    if len(data) != 32:
        raise ValueError("an age public key holds 32 bytes")
    acc, bits, values = 0, 0, []
    for byte in data:
        acc, bits = acc << 8 | byte, bits + 8
        while bits >= 5:
            bits -= 5
            values.append(acc >> bits & 31)
    if bits:
        values.append(acc << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in "age"] + [0] + [ord(c) & 31 for c in "age"]
    check = _polymod(expanded + values + [0] * 6) ^ 1
    values += [check >> 5 * (5 - i) & 31 for i in range(6)]
    return "age1" + "".join(_CHARSET[v] for v in values)
