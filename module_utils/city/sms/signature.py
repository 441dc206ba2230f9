"""The Ketua's approval of a blast: a signature over its canonical form (S2).

Editing a blast's YAML cannot forge an approval: the signature covers every field
but itself and is checked with ``ssh-keygen -Y verify`` against keys that live
outside the registry (the inventory's trust anchor, docs/security.md):
the validator builds an ``allowed_signers`` file from the current trust, the
gateway verifies against its own root-owned one.

The same primitives sign and verify the rotation statements of the trust anchor,
under another namespace (``sms-trust``), so a blast signature can never pass for a
rotation statement or the other way round.
"""
import base64
import binascii
import collections
import json
import os
import re
import shutil
import subprocess
import tempfile

NAMESPACE = "sms-blast"


def canonical_json(content):
    """Sorted, compact JSON of ``content`` as UTF-8 bytes: what is signed."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def canonical(blast):
    """The bytes the Ketua signs: the blast without its signature, as sorted JSON."""
    content = dict(blast)
    approval = dict(content.get("approval") or {})
    approval.pop("signature", None)
    content["approval"] = approval
    return canonical_json(content)


def _ssh_keygen():
    path = shutil.which("ssh-keygen")
    if path is None:
        raise RuntimeError("ssh-keygen is not installed (Debian package openssh-client)")
    return path


def sign_bytes(message, private_key_path, namespace):
    """Sign ``message`` (bytes) with a private key file; return the armoured signature text."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "message")
        with open(path, "wb") as fh:
            fh.write(message)
        subprocess.run([_ssh_keygen(), "-q", "-Y", "sign", "-f", private_key_path, "-n",
                        namespace, path], check=True, capture_output=True)
        with open(path + ".sig", encoding="ascii") as fh:
            return fh.read()


def sign(blast, private_key_path, principal=None):
    """Sign ``blast`` with a private key file; return the armoured signature text."""
    return sign_bytes(canonical(blast), private_key_path, NAMESPACE)


def signers_line(principal, key, namespace=NAMESPACE):
    """One ``allowed_signers`` line: the principal may sign in ``namespace`` with ``key``."""
    return '%s namespaces="%s" %s' % (principal, namespace, " ".join(str(key).split()))


def verify_bytes(message, signature, principal, signers_file, namespace):
    """(True, "") when ``signature`` over ``message`` verifies for ``principal`` against the
    ``allowed_signers`` file ``signers_file`` in ``namespace``, else (False, why)."""
    if not isinstance(signature, str) or "BEGIN SSH SIGNATURE" not in signature:
        return False, "there is no SSH signature"
    with tempfile.TemporaryDirectory() as tmp:
        sig = os.path.join(tmp, "message.sig")
        with open(sig, "w", encoding="ascii", errors="replace") as fh:
            fh.write(signature.strip() + "\n")
        result = subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", signers_file, "-I",
                                 str(principal), "-n", namespace, "-s", sig], input=message,
                                capture_output=True, check=False)
    if result.returncode == 0:
        return True, ""
    why = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
    return False, why[-1] if why else "ssh-keygen rejected the signature"


def verify_with_keys(message, signature, principal, public_keys, namespace):
    """:func:`verify_bytes` against ``public_keys`` of ``principal`` (a temporary file)."""
    keys = [k for k in public_keys if isinstance(k, str) and k.strip()]
    if not keys:
        return False, "no trusted key of %s" % principal
    with tempfile.TemporaryDirectory() as tmp:
        signers = os.path.join(tmp, "allowed_signers")
        with open(signers, "w", encoding="utf-8") as fh:
            for key in keys:
                fh.write(signers_line(principal, key, namespace) + "\n")
        return verify_bytes(message, signature, principal, signers, namespace)


def verify(blast, principal, public_keys):
    """(True, "") when the blast's signature verifies for ``principal`` with one of
    ``public_keys``, else (False, why)."""
    signature = (blast.get("approval") or {}).get("signature")
    return verify_with_keys(canonical(blast), signature, principal, public_keys, NAMESPACE)


def verify_file(blast, principal, signers_file):
    """(True, "") when the blast's signature verifies for ``principal`` against the
    ``allowed_signers`` file ``signers_file`` (the gateway's), else (False, why)."""
    signature = (blast.get("approval") or {}).get("signature")
    return verify_bytes(canonical(blast), signature, principal, signers_file, NAMESPACE)


# -- OpenSSH public keys: parsed, not pattern-matched (S2) -----------------------------------

# The key types ssh-keygen signs with, and what follows the type string in the key data
# (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4, OpenSSH PROTOCOL.u2f).
ED25519, RSA, ECDSA = "ed25519", "rsa", "ecdsa"
KEY_TYPES = {
    "ssh-ed25519": (ED25519, None, False),
    "sk-ssh-ed25519@openssh.com": (ED25519, None, True),
    "ssh-rsa": (RSA, None, False),
    "ecdsa-sha2-nistp256": (ECDSA, "nistp256", False),
    "ecdsa-sha2-nistp384": (ECDSA, "nistp384", False),
    "ecdsa-sha2-nistp521": (ECDSA, "nistp521", False),
    "sk-ecdsa-sha2-nistp256@openssh.com": (ECDSA, "nistp256", True),
}
ED25519_BYTES = 32
# An uncompressed point 04 || X || Y of each curve (SEC 1 2.3.3).
ECDSA_POINT_BYTES = {"nistp256": 65, "nistp384": 97, "nistp521": 133}
RSA_MIN_BITS, RSA_MAX_BITS = 2048, 16384  # OpenSSH refuses more than 16384 bits
# A 16384-bit RSA key is about 2,800 base64 characters; a line longer than this is not a key.
KEY_LINE_MAX = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class KeyFormatError(ValueError):
    """A public key line that is not a well-formed OpenSSH public key; the message says what
    was found and what was expected, never the (unbounded) value itself."""


PublicKey = collections.namedtuple("PublicKey", "type blob comment bits")


def _short(text, limit=40):
    text = repr(text)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


class _Reader:
    def __init__(self, data, key_type):
        self.data, self.at, self.key_type = data, 0, key_type

    def string(self, what):
        if self.at + 4 > len(self.data):
            raise KeyFormatError("the key data is truncated: it ends where the %s of a %s key "
                                 "should start (%d bytes)" % (what, self.key_type, len(self.data)))
        size = int.from_bytes(self.data[self.at:self.at + 4], "big")
        self.at += 4
        if self.at + size > len(self.data):
            raise KeyFormatError("the key data is truncated: the %s of a %s key should have %d "
                                 "bytes, %d are left" % (what, self.key_type, size,
                                                         len(self.data) - self.at))
        value = self.data[self.at:self.at + size]
        self.at += size
        return value

    def mpint(self, what):
        value = self.string(what)
        if not value or value[0] & 0x80:
            raise KeyFormatError("the %s of the %s key is not a positive number" % (
                what, self.key_type))
        if len(value) > 1 and value[0] == 0 and not value[1] & 0x80:
            raise KeyFormatError("the %s of the %s key has a superfluous leading zero byte" % (
                what, self.key_type))
        return int.from_bytes(value, "big")

    def end(self):
        if self.at != len(self.data):
            raise KeyFormatError("the key data has %d bytes after the end of a %s key" % (
                len(self.data) - self.at, self.key_type))


def _valid_point(curve, point):
    """Whether ``point`` is on ``curve`` (with the cryptography package; True without it)."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        return True
    curves = {"nistp256": ec.SECP256R1, "nistp384": ec.SECP384R1, "nistp521": ec.SECP521R1}
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(curves[curve](), point)
    except ValueError:
        return False
    return True


def parse_public_key(line):
    """The :class:`PublicKey` of an OpenSSH public key line ``TYPE BASE64 [COMMENT]``, or
    :class:`KeyFormatError` saying what is wrong: an unknown type, base64 that is not
    canonical, key data whose embedded type is another, truncated or too long, or a key
    of the wrong size for its type (ed25519: 32 bytes; RSA: 2048 to 16384 bits; ECDSA: a
    point of its curve)."""
    if not isinstance(line, str):
        raise KeyFormatError("the key is a %s, not a line of text" % type(line).__name__)
    if len(line) > KEY_LINE_MAX:
        raise KeyFormatError("the key line has %d characters; an OpenSSH public key line has at "
                             "most %d" % (len(line), KEY_LINE_MAX))
    text = line.strip()
    if not text:
        raise KeyFormatError("the key is empty")
    bad = _CONTROL.search(text)
    if bad:
        raise KeyFormatError("the key line contains the control character %r at position %d"
                             % (bad.group(), bad.start() + 1))
    parts = text.split(None, 2)
    key_type = parts[0]
    if key_type not in KEY_TYPES:
        raise KeyFormatError("key type %s is not one ssh-keygen signs with (expected one of %s)"
                             % (_short(key_type), ", ".join(KEY_TYPES)))
    if len(parts) < 2:
        raise KeyFormatError("the key line has a type and no key data: expected '%s BASE64 "
                             "[COMMENT]'" % key_type)
    body = parts[1]
    if not _BASE64.fullmatch(body):
        index = next((i for i, ch in enumerate(body) if not (ch.isalnum() and ch.isascii())
                      and ch not in "+/="), body.find("="))
        raise KeyFormatError("the key data has %r at position %d: base64 has only A-Z, a-z, "
                             "0-9, + and /, and at most two = at the end" % (
                                 body[index], index + 1))
    if len(body) % 4:
        raise KeyFormatError("the key data has %d base64 characters, not a multiple of 4: it "
                             "is truncated or padded wrongly" % len(body))
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("the key data is not valid base64")
    if base64.b64encode(blob).decode("ascii") != body:
        raise KeyFormatError("the key data is not canonical base64 (stray bits in its last "
                             "characters): copy the line ssh-keygen wrote")
    family, curve, security_key = KEY_TYPES[key_type]
    reader = _Reader(blob, key_type)
    embedded = reader.string("type")
    if embedded != key_type.encode("ascii"):
        raise KeyFormatError("the key data is of type %s, the line says %s" % (
            _short(embedded.decode("ascii", "replace")), key_type))
    if family == ED25519:
        point = reader.string("public key")
        if len(point) != ED25519_BYTES:
            raise KeyFormatError("an ed25519 public key has %d bytes; this one has %d" % (
                ED25519_BYTES, len(point)))
        bits = 256
    elif family == RSA:
        exponent = reader.mpint("exponent")
        modulus = reader.mpint("modulus")
        bits = modulus.bit_length()
        if exponent < 3 or exponent % 2 == 0:
            raise KeyFormatError("the RSA exponent %d is not an odd number of at least 3" % (
                exponent if exponent < 1 << 64 else -1))
        if not RSA_MIN_BITS <= bits <= RSA_MAX_BITS or modulus % 2 == 0:
            raise KeyFormatError("the RSA modulus has %d bits; an approval key has %d to %d "
                                 "(an odd modulus)" % (bits, RSA_MIN_BITS, RSA_MAX_BITS))
    else:
        named = reader.string("curve name")
        if named != curve.encode("ascii"):
            raise KeyFormatError("the key data names the curve %s; a %s key is on %s" % (
                _short(named.decode("ascii", "replace")), key_type, curve))
        point = reader.string("public point")
        if len(point) != ECDSA_POINT_BYTES[curve] or point[:1] != b"\x04":
            raise KeyFormatError("a %s public point is %d bytes starting with 04 (uncompressed); "
                                 "this one has %d" % (curve, ECDSA_POINT_BYTES[curve], len(point)))
        if not _valid_point(curve, point):
            raise KeyFormatError("the public point is not on the curve %s" % curve)
        bits = int(curve[len("nistp"):])
    if security_key:
        application = reader.string("application")
        if not application:
            raise KeyFormatError("the security key's application is empty")
    reader.end()
    return PublicKey(key_type, blob, parts[2] if len(parts) > 2 else "", bits)


def public_key_problem(line):
    """None when ``line`` is a well-formed OpenSSH public key line, else why not."""
    try:
        parse_public_key(line)
    except KeyFormatError as exc:
        return str(exc)
    return None
