"""Open the hand-over files the way an agency admin does: with Ansible's own vault code.

The module writes them with module_utils/registry/vault_file.py; reading them
with VaultLib (what ansible-vault uses) proves the two formats agree.
"""
import json

from ansible.parsing.vault import VaultLib, VaultSecret

# What the tests encrypt the hand-over files with.
HANDOVER_PASSWORD = "test-handover-vault-password"


def read(path, vault_password):
    vault = VaultLib([("default", VaultSecret(vault_password.encode("utf-8")))])
    with open(path, "rb") as fh:
        return json.loads(vault.decrypt(fh.read()))
