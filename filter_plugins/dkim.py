"""Jinja2 filter: the DKIM public key of the main domain's mail, from its private key.

- ``dkim_public_key(private_pem)``:
  ``vault_mail_dkim_private_key | dkim_public_key`` -> the base64 of the DER
  SubjectPublicKeyInfo, the form ``city_mail__dkim_public_keys`` (dns_zone's
  ``dkim_public_keys``) takes: derived from the private key the mail servers sign with,
  it cannot mismatch it. The key must be an unencrypted PEM private key (PKCS#8 or
  traditional; ansible-vault encrypts it), RSA of 2048 to 8192 bits or Ed25519, as
  dns_zone accepts (module_utils/city/dns/dkim.py). Anything else fails the filter, and
  the message never shows the key.
"""

from ansible.errors import AnsibleFilterError

from ansible.module_utils.city.dns import dkim


def dkim_public_key(private_pem):
    """Base64 DER SubjectPublicKeyInfo of a PEM private key."""
    try:
        return dkim.public_key_of(private_pem)
    except dkim.DkimKeyError as exc:
        raise AnsibleFilterError("dkim_public_key filter: %s" % exc) from exc


class FilterModule:
    """The DKIM key filter."""

    def filters(self):
        """Map of filter name to function."""
        return {"dkim_public_key": dkim_public_key}
