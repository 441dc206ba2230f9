#!/usr/bin/env python3
"""Print fresh random secrets for the lab as JSON on stdout.

Run by the lab role (tasks/secrets.yml) on every run; the role writes only
the keys its vault file does not have yet, so an existing secret never
changes. Only the standard library is used.
"""

import base64
import json
import secrets
import string

PASSWORD_LENGTH = 32
PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def password(length=PASSWORD_LENGTH):
    """Letters and digits, at least one of each class."""
    alphabet = "".join(PASSWORD_CLASSES)
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in cls for c in value) for cls in PASSWORD_CLASSES):
            return value


def tsig_secret():
    """Base64 of 32 random bytes: a key for hmac-sha256."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sim_pin():
    return "".join(secrets.choice(string.digits) for _ in range(4))


def main():
    print(
        json.dumps(
            {
                "vault_dns_tsig_secret": tsig_secret(),
                "vault_ldap_admin_password": password(),
                "vault_ldap_toolkit_password": password(),
                "vault_ldap_mailserver_password": password(),
                "vault_mail_handover_password": password(),
                "vault_sms_sim_pins": {"modem1": sim_pin(), "modem2": sim_pin()},
            }
        )
    )


if __name__ == "__main__":
    main()
