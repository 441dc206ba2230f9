"""Two vault ids, plan and apply: the vault client, the vault file check, the lab's generator.

A run given the plan password alone (the read-only plan of a merge request) must load
the inventory and be unable to decrypt an apply secret; the lab keeps generating its
own passwords and secrets, never changing an existing one.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "scripts" / "vault-client"
CHECK = ROOT / "scripts" / "vault-file-check"
GENERATOR = ROOT / "roles" / "lab" / "files" / "lab_secrets.py"
from ansible.module_utils.city.operate import plan_doc  # noqa: E402

PASSWORDS = {"ANSIBLE_VAULT_PASSWORD_PLAN": "the-plan-password-0123", "ANSIBLE_VAULT_PASSWORD_APPLY":
             "the-apply-password-4567"}


def client(project, vault_id, **env):
    full = {"PATH": os.environ["PATH"], "HOME": str(project)}
    full.update(env)
    return subprocess.run([str(project / "scripts" / "vault-client"), "--vault-id", vault_id], env=full,
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def project(tmp_path):
    """A project root of its own: the lab passwords go to its .secrets/."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(CLIENT, tmp_path / "scripts" / "vault-client")
    return tmp_path


def test_client_gives_each_id_its_own_password(project):
    assert client(project, "plan", **PASSWORDS).stdout == "the-plan-password-0123\n"
    assert client(project, "apply", **PASSWORDS).stdout == "the-apply-password-4567\n"
    assert not (project / ".secrets").exists(), "no lab password is made where passwords are given"


def test_client_without_the_apply_password_refuses_that_id_and_makes_up_none(project):
    env = {"ANSIBLE_VAULT_PASSWORD_PLAN": PASSWORDS["ANSIBLE_VAULT_PASSWORD_PLAN"]}
    assert client(project, "plan", **env).returncode == 0
    refused = client(project, "apply", **env)
    assert refused.returncode == 2 and refused.stdout == ""  # Ansible: "did not find a secret"
    assert "ANSIBLE_VAULT_PASSWORD_APPLY" in refused.stderr
    assert not (project / ".secrets").exists()


def test_client_takes_the_single_password_of_earlier_versions_for_apply(project):
    assert client(project, "apply", ANSIBLE_VAULT_PASSWORD="old-single-password").stdout == "old-single-password\n"
    assert client(project, "default", ANSIBLE_VAULT_PASSWORD="old-single-password").stdout == "old-single-password\n"
    assert client(project, "plan", ANSIBLE_VAULT_PASSWORD="old-single-password").returncode == 2


def test_client_refuses_the_same_password_for_both_ids_and_unknown_ids(project):
    same = {"ANSIBLE_VAULT_PASSWORD_PLAN": "same-password-123", "ANSIBLE_VAULT_PASSWORD_APPLY": "same-password-123"}
    for vault_id in ("plan", "apply"):
        proc = client(project, vault_id, **same)
        assert proc.returncode == 1 and proc.stdout == "" and "must differ" in proc.stderr
    assert client(project, "other", **PASSWORDS).returncode == 2


def test_client_makes_two_lab_passwords_once(project):
    plan, apply = client(project, "plan").stdout, client(project, "apply").stdout
    assert len(plan.strip()) >= 40 and len(apply.strip()) >= 40 and plan != apply
    assert client(project, "plan").stdout == plan and client(project, "apply").stdout == apply
    # The apply one keeps the name of the single lab password of earlier versions.
    assert (project / ".secrets" / "lab-vault-password").read_text() == apply
    assert (project / ".secrets" / "lab-vault-password-plan").read_text() == plan
    for name in ("lab-vault-password", "lab-vault-password-plan"):
        assert stat.S_IMODE((project / ".secrets" / name).stat().st_mode) == 0o600


def test_ansible_cfg_names_both_ids_with_the_client():
    text = (ROOT / "ansible.cfg").read_text()
    assert "vault_identity_list = plan@scripts/vault-client, apply@scripts/vault-client" in text
    assert "vault_password_file" not in text, "a single password would serve both ids"


# ----------------------------------------------------------- lab secrets ---

def generate(path, env=None, check=False):
    full = dict(os.environ, **PASSWORDS) if env is None else env
    command = [sys.executable, str(GENERATOR), "--file", str(path), "--client", str(CLIENT)]
    proc = subprocess.run(command + (["--check"] if check else []), env=full, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class Blob(str):
    pass


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!vault", lambda loader, node: Blob(loader.construct_scalar(node)))


def blobs(path):
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506


def vault(*ids):
    names = {"plan": "ANSIBLE_VAULT_PASSWORD_PLAN", "apply": "ANSIBLE_VAULT_PASSWORD_APPLY"}
    return VaultLib([(i, VaultSecret(PASSWORDS[names[i]].encode())) for i in ids])


def test_lab_secrets_are_each_encrypted_with_their_vault_id(tmp_path):
    path = tmp_path / "vault.yml"
    result = generate(path)
    assert result["changed"] and not result["converted"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = blobs(path)
    plan_only = {"vault_dns_transfer_secret", "vault_ldap_reader_password", "vault_mail_dkim_public_key"}
    for name, value in data.items():
        for blob in value.values() if isinstance(value, dict) else [value]:
            assert isinstance(blob, Blob)
            vault_id = blob.split("\n", 1)[0].split(";")[3]
            assert vault_id == ("plan" if name in plan_only else "apply"), name
    # The plan password opens the plan values only.
    assert vault("plan").decrypt(data["vault_ldap_reader_password"].encode())
    with pytest.raises(Exception, match="no vault secrets were found"):
        vault("plan").decrypt(data["vault_dns_tsig_secret"].encode())
    assert set(data["vault_sms_sim_pins"]) == {"modem1", "modem2"}
    check = subprocess.run([str(CHECK), str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stderr


def test_lab_secrets_are_never_changed_and_missing_ones_are_added(tmp_path):
    path = tmp_path / "vault.yml"
    generate(path)
    first = path.read_bytes()
    assert not generate(path)["changed"] and path.read_bytes() == first, "a second run rewrites nothing"
    # A file of a version without the reader: the others' encrypted texts stay byte for byte.
    text = path.read_text()
    start = text.index("# cn=reader")
    end = text.index("\n#", start + 1)
    path.write_text(text[:start] + text[end + 1:])
    before = blobs(path)
    result = generate(path)
    assert result["added"] == ["vault_ldap_reader_password"]
    after = blobs(path)
    assert {k: v for k, v in after.items() if k != "vault_ldap_reader_password"} == before


def test_lab_secrets_of_an_earlier_version_keep_their_values(tmp_path):
    """A file encrypted whole with the single lab password, now the apply one."""
    old = {"vault_dns_tsig_secret": "T2xkVHNpZ1NlY3JldE9mVGhlTGFiMDEyMzQ1Njc4OTA=",
           "vault_ldap_toolkit_password": "OldToolkitPassword123", "vault_sms_sim_pins": {"modem1": "1234"}}
    path = tmp_path / "vault.yml"
    path.write_bytes(vault("apply").encrypt(yaml.safe_dump(old), VaultSecret(
        PASSWORDS["ANSIBLE_VAULT_PASSWORD_APPLY"].encode())))
    result = generate(path)
    assert result["converted"] and "vault_ldap_reader_password" in result["added"]
    assert "vault_sms_sim_pins.modem2" in result["added"]
    data, lib = blobs(path), vault("plan", "apply")
    assert lib.decrypt(data["vault_dns_tsig_secret"].encode()).decode() == old["vault_dns_tsig_secret"]
    assert lib.decrypt(data["vault_ldap_toolkit_password"].encode()).decode() == "OldToolkitPassword123"
    assert lib.decrypt(data["vault_sms_sim_pins"]["modem1"].encode()).decode() == "1234"


def test_lab_secrets_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "vault.yml"
    assert generate(path, check=True)["changed"] and not path.exists()


# ------------------------------------------------------ vault file check ---

def check_file(tmp_path, text):
    path = tmp_path / "vault.yml"
    path.write_text(text)
    return subprocess.run([str(CHECK), str(path)], capture_output=True, text=True, timeout=30, check=False)


BLOB = "          $ANSIBLE_VAULT;1.2;AES256;%s\n          6162636465666768\n"


@pytest.mark.parametrize("text, message", [
    ("$ANSIBLE_VAULT;1.1;AES256\n6162636465666768\n", "encrypted whole"),
    ("vault_dns_tsig_secret: c2VjcmV0\n", "not encrypted"),
    ("vault_x: !vault |\n" + BLOB % "plan" + "vault_y: plain\n", "not encrypted"),
    ("vault_x: !vault |\n" + BLOB % "default", "another vault id"),
    ("vault_sms_sim_pins:\n  modem1: '1234'\n", "not encrypted"),
    ("---\n# nothing\n", "no vaulted value"),
])
def test_vault_file_check_refuses_what_a_plan_job_must_not_get(tmp_path, text, message):
    proc = check_file(tmp_path, text)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_vault_file_check_accepts_values_vaulted_with_plan_or_apply(tmp_path):
    text = ("---\n# comment\nvault_a: !vault |\n" + BLOB % "plan" + "vault_pins:\n  modem1: !vault |\n"
            + (BLOB % "apply").replace("          ", "              "))
    proc = check_file(tmp_path, text)
    assert proc.returncode == 0, proc.stderr


# -------------------------------------------------------------- the plan ---

def test_a_readonly_plan_says_so_first_and_names_what_it_left_out():
    run = {"run": "r1", "started": "now", "operator": "ci", "playbook": "playbooks/plan.yml", "readonly": True,
           "not_planned": plan_doc.not_planned(("city_server", "city_sms_blast", "other"))}
    doc = plan_doc.document(run, [])
    assert doc["readonly"] and [p["tag"] for p in doc["not_planned"]] == ["city_server", "city_sms_blast"]
    text = plan_doc.markdown(doc)
    head = text.split("**No changes**")[0]
    assert "**Read-only plan.**" in head and "planned only after approval" in head
    assert "**Server configuration**" in head and "**SMS blasts**" in head
    assert "**No changes** in what this plan covers" in text
    full = plan_doc.markdown(plan_doc.document({"run": "r2"}, []))
    assert "Read-only" not in full and "**No changes.** The servers already match the registry." in full
