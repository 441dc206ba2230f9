"""DKIM public keys: checked strictly and turned into the record published for a selector.

The key comes from the inventory (``city_mail__dkim_public_keys``: selector -> base64 of
the DER SubjectPublicKeyInfo, derived from the vault's private key by the filter
``dkim_public_key``), never from the registry: an edit of the registry chooses which
selectors are published, not what they publish.

Only keys a receiver can trust are accepted: RSA of at least 2048 bits (RFC 8301 section
3.2 makes 1024 the floor; 2048 is what the toolkit asks) or Ed25519 (RFC 8463).
"""
import base64
import binascii
import re

from ansible.module_utils.city.errors import ToolkitError

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192  # a bigger key does not fit the TXT limits of many resolvers' answers
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")
SELECTOR = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")  # domain.schema.json, dkim.selectors


class DkimKeyError(ToolkitError):
    """A public key that cannot be published, with the selector and the reason."""


def _load(selector, text):
    if not isinstance(text, str):
        raise DkimKeyError("the DKIM public key of selector %s is a %s, not base64 text"
                           % (selector, type(text).__name__))
    compact = "".join(text.split())  # a PEM body pasted with its line breaks is the same key
    if compact.startswith("-----BEGIN"):
        raise DkimKeyError("the DKIM public key of selector %s is PEM: give the base64 of the DER "
                           "SubjectPublicKeyInfo alone (the filter dkim_public_key makes it from the "
                           "private key)" % selector)
    if not compact or len(compact) % 4 or not _BASE64.match(compact):
        raise DkimKeyError("the DKIM public key of selector %s is not base64 (%d characters): give "
                           "the base64 of the DER SubjectPublicKeyInfo" % (selector, len(compact)))
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise DkimKeyError("the DKIM public key of selector %s is not base64" % selector)
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise DkimKeyError("checking the DKIM public keys needs the Python package cryptography "
                           "on the control node")
    try:
        return der, serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise DkimKeyError("the DKIM public key of selector %s is base64 but not a DER "
                           "SubjectPublicKeyInfo (%s)" % (selector, str(exc).split("\n", maxsplit=1)[0][:80]))


def key_record(selector, text):
    """The TXT text of ``<selector>._domainkey`` for the base64 SPKI ``text``, or DkimKeyError."""
    if not isinstance(selector, str) or not SELECTOR.match(selector):
        raise DkimKeyError("the DKIM selector %r is not a selector (one lowercase LDH label of at "
                           "most 63 characters)" % (str(selector)[:70],))
    der, key = _load(selector, text)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    if isinstance(key, rsa.RSAPublicKey):
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS:
            raise DkimKeyError("the DKIM public key of selector %s is RSA of %d bits: RSA keys of "
                               "%d to %d bits are accepted (a shorter key can be forged)"
                               % (selector, key.key_size, RSA_MIN_BITS, RSA_MAX_BITS))
        # RFC 6376 section 3.6.1: p= is the base64 of the DER key as published (SPKI).
        return "v=DKIM1; k=rsa; p=%s" % base64.b64encode(der).decode("ascii")
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        # RFC 8463 section 4.2: for ed25519, p= is the bare 32-byte key, not the SPKI.
        return "v=DKIM1; k=ed25519; p=%s" % base64.b64encode(raw).decode("ascii")
    raise DkimKeyError("the DKIM public key of selector %s is a %s key: RSA (at least %d bits) "
                       "or Ed25519 are accepted" % (selector, type(key).__name__.replace(
                           "PublicKey", "").lstrip("_"), RSA_MIN_BITS))


def key_records(keys):
    """{selector: record text} of the inventory's {selector: base64 SPKI}; every key is
    checked, and the first that fails raises DkimKeyError."""
    if keys is None:
        return {}
    if not isinstance(keys, dict):
        raise DkimKeyError("dkim_public_keys is a %s: a mapping of selector to the base64 of "
                           "the key is expected" % type(keys).__name__)
    return {selector: key_record(selector, text) for selector, text in sorted(keys.items())}


def public_key_of(private_pem):
    """The base64 DER SubjectPublicKeyInfo of a PEM private key (RSA or Ed25519), checked as
    dns_zone checks it: a weak key fails here already, where the inventory is read."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise DkimKeyError("the DKIM public key is derived with the Python package cryptography, "
                           "which is missing on the control node")
    if isinstance(private_pem, str):
        private_pem = private_pem.encode("utf-8")
    if not isinstance(private_pem, bytes):
        raise DkimKeyError("the DKIM private key is a %s, not PEM text" % type(private_pem).__name__)
    try:
        private = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError) as exc:
        # Never the key's text: it is a secret.
        raise DkimKeyError("the DKIM private key is not an unencrypted PEM private key (%s)"
                           % type(exc).__name__)
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b64encode(der).decode("ascii")
    try:
        key_record("of-the-private-key", text)
    except DkimKeyError as exc:
        raise DkimKeyError(str(exc).replace("public key of selector of-the-private-key",
                                            "private key"))
    return text
