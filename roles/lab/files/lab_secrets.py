#!/usr/bin/env python3
"""Keep the lab's vault file: every secret the lab needs, each encrypted with its vault id.

Run by the lab role (tasks/secrets.yml) on every run, with the controller's Python
(it needs ansible's VaultLib and PyYAML):

    lab_secrets.py --file inventory/lab/group_vars/all/vault.yml --client scripts/vault-client [--check]

* A secret the file lacks (a new lab, or one added by a newer toolkit) gets a fresh
  random value. A secret the file has is never changed: its encrypted text is kept as
  it is, byte for byte.
* Each value is encrypted on its own (``name: !vault |``) with the vault id of
  SECRETS: ``plan`` for the read-only credentials a plan needs, ``apply`` for
  everything that can change a server. The two passwords come from the vault
  client (``--vault-id plan``, ``--vault-id apply``), as Ansible gets them.
* A file of an earlier version, encrypted whole with the single lab password (now
  the apply one), is rewritten in this form with the same values.
* The file is replaced atomically, mode 0600, only when something changed.
* A value of DERIVED is not a secret of its own: it is computed from a secret on every
  run (the DKIM public key from the DKIM private key), so it always matches it, and is
  rewritten only when it does not.

Prints one JSON object: ``changed``, ``added`` (names), ``converted`` (an old file
rewritten). Never prints a secret.
"""

import argparse
import base64
import json
import os
import secrets
import string
import subprocess
import sys
import tempfile

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret, is_encrypted

PASSWORD_LENGTH = 32
PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
MODEMS = ("modem1", "modem2")
INDENT = 10  # what ansible-vault encrypt_string writes


def password(length=PASSWORD_LENGTH):
    """Letters and digits, at least one of each class."""
    alphabet = "".join(PASSWORD_CLASSES)
    while True:
        value = "".join(secrets.choice(alphabet) for dummy in range(length))
        if all(any(c in cls for c in value) for cls in PASSWORD_CLASSES):
            return value


def tsig_secret():
    """Base64 of 32 random bytes: a key for hmac-sha256."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sim_pin():
    return "".join(secrets.choice(string.digits) for dummy in range(4))


def dkim_private_key():
    """A new RSA 2048 key in PEM (PKCS#8, unencrypted: the vault encrypts it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def dkim_public_key(private_pem):
    """Base64 of the DER SubjectPublicKeyInfo, as the filter dkim_public_key computes it."""
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


# name -> (vault id, what, generator). A mapping's generator returns a dict of values.
SECRETS = {
    "vault_dns_tsig_secret": ("apply", "TSIG key of the dynamic updates (base64 of 32 bytes, hmac-sha256)",
                              tsig_secret),
    "vault_dns_transfer_secret": ("plan", "TSIG key that may only transfer the zone (plans, reports)",
                                  tsig_secret),
    "vault_dns_secondary_secret": ("apply", "TSIG key of the DNS secondaries: transfers and NOTIFY, never updates",
                                   tsig_secret),
    "vault_ldap_toolkit_password": ("apply", "cn=toolkit, writes the accounts", password),
    "vault_ldap_mailserver_password": ("apply", "cn=mailserver, the mail servers' lookups", password),
    "vault_ldap_reader_password": ("plan", "cn=reader, reads the accounts without passwords (plans, reports)",
                                   password),
    "vault_sms_sim_pins": ("apply", "SIM PIN per modem", lambda: {m: sim_pin() for m in MODEMS}),
    "vault_mail_dkim_private_key": ("apply", "DKIM signing key of the main domain's mail (RSA 2048, PEM)",
                                    dkim_private_key),
}

# name -> (vault id, what, the secret it is computed from, function of that secret's clear text).
# The DKIM public key is published in DNS; the read-only plan (vault id plan alone) plans the
# DKIM record with it, which it could not do through the apply-only private key.
DERIVED = {
    "vault_mail_dkim_public_key": ("plan", "public half of vault_mail_dkim_private_key (base64 DER "
                                   "SubjectPublicKeyInfo), published in DNS; derived on every run",
                                   "vault_mail_dkim_private_key", dkim_public_key),
}


class Blob(str):
    """The text of one ``!vault`` value, as it is in the file."""


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!vault", lambda loader, node: Blob(loader.construct_scalar(node)))


def vault_password(client, vault_id):
    proc = subprocess.run([client, "--vault-id", vault_id], capture_output=True, text=True, timeout=60,
                          check=False)
    value = proc.stdout.strip()
    if proc.returncode != 0 or not value:
        raise SystemExit("%s --vault-id %s gave no password (rc %d): %s" % (
            client, vault_id, proc.returncode, proc.stderr.strip()))
    return value


def blob_id(blob):
    header = blob.lstrip().split("\n", 1)[0].split(";")
    return header[3].strip() if len(header) > 3 else None


class Vault:
    def __init__(self, passwords):
        self.secrets = {vid: VaultSecret(pw.encode("utf-8")) for vid, pw in passwords.items()}
        self.lib = VaultLib(list(self.secrets.items()))

    def encrypt(self, value, vault_id):
        return Blob(self.lib.encrypt(str(value), self.secrets[vault_id], vault_id=vault_id).decode("ascii"))

    def decrypt(self, text):
        return self.lib.decrypt(text.encode("ascii") if isinstance(text, str) else text).decode("utf-8")


def read(path, vault):
    """(values, converted): the file's values, Blob or clear text; converted for a whole-file vault."""
    if not os.path.exists(path):
        return {}, False
    with open(path, "rb") as handle:
        data = handle.read()
    if is_encrypted(data):
        return yaml.safe_load(vault.decrypt(data)) or {}, True
    return yaml.load(data.decode("utf-8"), Loader=_Loader) or {}, False  # noqa: S506 (SafeLoader + !vault)


def settle(value, vault_id, vault):
    """``value`` as it must be written: a kept Blob, or a new one (clear text, or another id)."""
    if isinstance(value, dict):
        return {k: settle(v, vault_id, vault) for k, v in value.items()}
    if isinstance(value, Blob) and blob_id(value) == vault_id:
        return value
    plain = vault.decrypt(value) if isinstance(value, Blob) else value
    return vault.encrypt(plain, vault_id)


def keep(value, vault):
    if isinstance(value, dict):
        return {k: keep(v, vault) for k, v in value.items()}
    return value if isinstance(value, Blob) else vault.encrypt(value, "apply")


def render(values):
    lines = ["---",
             "# Lab secrets, generated by the lab role (roles/lab/files/lab_secrets.py); git-ignored.",
             "# Each value is encrypted on its own with a vault id: plan (read-only credentials) or",
             "# apply (what can change a server); scripts/vault-client holds both lab passwords.",
             "# One value: ansible -i inventory/lab localhost -m debug -a var=NAME"]

    def emit(name, value, depth):
        pad = " " * depth
        if isinstance(value, dict):
            lines.append("%s%s:" % (pad, name))
            for key in sorted(value):
                emit(key, value[key], depth + 2)
            return
        lines.append("%s%s: !vault |" % (pad, name))
        lines.extend(" " * (depth + INDENT) + part.strip() for part in value.strip().splitlines())

    for table in (SECRETS, DERIVED):
        for name in table:
            lines.append("# %s; vault id %s" % (table[name][1], table[name][0]))
            emit(name, values[name], 0)
    for name in sorted(set(values) - set(SECRETS) - set(DERIVED)):  # someone's own additions stay
        emit(name, values[name], 0)
    return "\n".join(lines) + "\n"


def write(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vault.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--client", required=True, help="the vault client script (scripts/vault-client)")
    parser.add_argument("--check", action="store_true", help="say what would change, write nothing")
    args = parser.parse_args(argv)

    vault = Vault({vid: vault_password(args.client, vid) for vid in ("plan", "apply")})
    existing, converted = read(args.file, vault)
    added = [name for name in SECRETS if name not in existing]
    values = dict(existing)
    for name in added:
        values[name] = SECRETS[name][2]()
    for name, (vault_id, unused_description, generate) in SECRETS.items():
        if isinstance(values[name], dict):  # a modem added to the generator gets a PIN
            for key, value in generate().items():
                if key not in values[name]:
                    values[name][key] = value
                    added.append("%s.%s" % (name, key))
        values[name] = settle(values[name], vault_id, vault)
    for name, (vault_id, unused_description, source, derive) in DERIVED.items():
        plain = derive(vault.decrypt(values[source]))
        old_value = values.get(name)
        if not (isinstance(old_value, Blob) and blob_id(old_value) == vault_id
                and vault.decrypt(old_value) == plain):
            values[name] = vault.encrypt(plain, vault_id)
            added.append(name)
    for name in set(values) - set(SECRETS) - set(DERIVED):  # someone's own: kept, a clear text encrypted as apply
        values[name] = keep(values[name], vault)
    text = render(values)
    old = None
    if os.path.exists(args.file):
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            old = handle.read()
    changed = text != old
    if changed and not args.check:
        write(args.file, text)
    elif not changed and os.stat(args.file).st_mode & 0o077 and not args.check:
        os.chmod(args.file, 0o600)
        changed = True
    print(json.dumps({"changed": changed, "added": added, "converted": converted}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
