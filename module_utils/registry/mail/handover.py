"""Hand new credentials to each agency's admin (E4, E5) without printing them.

New and reset passwords are written, before they are set in the directory, into one
ansible-vault encrypted file per agency and run; a crash after writing loses no
password, and the admin reads the file with ``ansible-vault view``.
"""
import json
import os

from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.module_utils.common.text.converters import to_bytes


def write(directory, stamp, credentials, vault_password):
    """credentials: {agency: [{address, password, reason, ticket}]}; returns the paths."""
    vault = VaultLib([("default", VaultSecret(to_bytes(vault_password)))])
    paths = []
    for agency, items in sorted(credentials.items()):
        folder = os.path.join(directory, str(agency))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, "%s.vault" % stamp)
        body = json.dumps({"agency": agency, "run": stamp, "credentials": items}, indent=2,
                          ensure_ascii=False)
        data = vault.encrypt(body)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        paths.append(path)
    return paths


def read(path, vault_password):
    """The decrypted hand-over file (for admins' tools and the tests)."""
    vault = VaultLib([("default", VaultSecret(to_bytes(vault_password)))])
    with open(path, "rb") as fh:
        return json.loads(vault.decrypt(fh.read()))
