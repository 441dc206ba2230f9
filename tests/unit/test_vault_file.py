"""vault_file writes what Ansible's own vault code reads."""
import pytest
from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret

from ansible.module_utils.registry import vault_file


def decrypt(data, password):
    return VaultLib([("default", VaultSecret(password.encode()))]).decrypt(data)


@pytest.mark.parametrize("text", ["", "x", "a" * 16, "Sandi Rahasia — kata sandi\n" * 40])
def test_ansible_vault_reads_it(text):
    data = vault_file.encrypt(text, "pass-Word-1")
    assert data.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert all(len(line) <= 80 for line in data.splitlines())
    assert decrypt(data, "pass-Word-1") == text.encode()


def test_wrong_password_does_not_open_it():
    with pytest.raises(AnsibleVaultError):
        decrypt(vault_file.encrypt("secret", "right"), "wrong")


def test_each_file_has_its_own_salt():
    assert vault_file.encrypt("same", "pw") != vault_file.encrypt("same", "pw")


def test_empty_password_refused():
    with pytest.raises(ValueError):
        vault_file.encrypt("x", "")
