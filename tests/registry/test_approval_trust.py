"""Who approves a blast (S2): the inventory's pin, rotation statements, expiry, the archive.

The validator side of the forgery tests (tests/sms/test_forgery.py has the gateway's): a
registry edit alone never makes a key or a Ketua count, a statement that does not verify
is an error at its line and counts for nothing, an expired blast is an error until it is
archived.
"""
import datetime
import os
import shutil
import subprocess
import sys

import pytest

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.sms import trust
from ansible.module_utils.city.registry.validate import validate
from approval_fixtures import ACTIVE_BLAST, KETUA, sign_blast
from mutate import Edit, line_of
from paths import LAB_INVENTORY, ROOT, SCHEMAS
from test_broken_registries import write_statements

SUCCESSOR = "197204151998122003"  # a person of SETDA, outside the secretariat


def errors(result, rule):
    return [f for f in result.errors if f.rule == rule]


def statement(current, private_key, ketua, keys, reason="Surat Keputusan Wali Kota"):
    st = trust.new_statement(current, ketua, keys, "2026-12-01", reason)
    st["signature"] = blast_signature.sign_bytes(trust.statement_content(st), private_key,
                                                 trust.NAMESPACE)
    return st


def check(registry, approval, **kwargs):
    return validate(str(registry), SCHEMAS, display_root=str(registry),
                    approval_root=kwargs.pop("root", approval.root), **kwargs)


def test_a_missing_pin_is_an_error(signed_registry):
    result = validate(str(signed_registry), SCHEMAS, approval_root=None,
                      approval_root_source="inventory/x/group_vars/all/sms_approval.yml")
    [finding] = errors(result, "S2-TRUST")
    assert finding.file == "inventory/x/group_vars/all/sms_approval.yml" and finding.line == 1
    assert "sms_approval__root is not set" in finding.message and finding.fix
    assert not errors(result, "S2-APPROVAL"), "nothing is approved without an anchor"


def test_command_reads_the_pin_of_the_inventory(signed_registry, approval, tmp_path):
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    pin = inventory / "group_vars" / "all" / "sms_approval.yml"
    pin.write_text("---\nsms_approval__root:\n  ketua: \"%s\"\n  keys:\n    - \"%s\"\n"
                   % (KETUA, approval.ketua.public), encoding="utf-8")
    command = [sys.executable, os.path.join(ROOT, "bin", "registry-validate"), str(signed_registry)]
    proc = subprocess.run(command + ["--inventory", str(inventory)], capture_output=True, text=True,
                          timeout=300, check=False)
    # sms.yml also lists the example's key, which this inventory does not pin.
    assert proc.returncode == 1 and "[S2-KEYS]" in proc.stdout and "not pinned in the inventory" in proc.stdout
    assert "registry INVALID: 1 error(s)" in proc.stdout, proc.stdout
    # The default inventory (ansible.cfg: inventory/lab) pins only the example's key: the
    # test key in sms.yml and the blast it signed are refused.
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1 and "[S2-KEYS]" in proc.stdout and "[S2-APPROVAL]" in proc.stdout
    assert trust.inventory_from_config(ROOT) == LAB_INVENTORY


def test_registry_key_and_ketua_edits_approve_nothing(signed_registry, approval):
    """The attack of the issue: one's own key under the Ketua's id, then a blast signed with it."""
    sms = signed_registry / "sms.yml"
    sms.write_text(sms.read_text(encoding="utf-8").replace(
        "approval_keys:\n", 'approval_keys:\n  - person: "%s"\n    key: "%s"\n' % (
            KETUA, approval.other.public), 1), encoding="utf-8")
    sign_blast(signed_registry / ACTIVE_BLAST, approval.other.private)
    result = check(signed_registry, approval)
    [key] = errors(result, "S2-KEYS")
    assert key.line == line_of(signed_registry, "sms.yml", approval.other.public)
    assert "not pinned in the inventory; a new key takes a rotation statement signed by a trusted key" \
        in key.message
    [blast] = errors(result, "S2-APPROVAL")
    assert blast.file == ACTIVE_BLAST and "does not verify" in blast.message


def test_another_ketua_in_the_registry_is_refused(signed_registry, approval):
    Edit("sms.yml", 'ketua: "%s"' % KETUA, 'ketua: "%s"' % SUCCESSOR).apply(signed_registry)
    Edit(ACTIVE_BLAST, 'by: "%s"' % KETUA, 'by: "%s"' % SUCCESSOR).apply(signed_registry)
    result = check(signed_registry, approval)
    [ketua] = errors(result, "S2-KETUA")
    assert ketua.line == line_of(signed_registry, "sms.yml", 'ketua: "%s"' % SUCCESSOR)
    assert [f.line for f in errors(result, "S2-APPROVAL")] == [
        line_of(signed_registry, ACTIVE_BLAST, 'by: "%s"' % SUCCESSOR)]


def test_a_valid_rotation_moves_the_trust_on(signed_registry, approval):
    """Version 2 names a new Ketua with a new key, signed by the current Ketua: the new key
    approves, the old ones no longer do."""
    current = trust.current(approval.root)
    write_statements(signed_registry, [statement(current, approval.ketua.private, SUCCESSOR,
                                                 [approval.successor.public])])
    result = check(signed_registry, approval)
    assert not errors(result, "S2-TRUST")
    assert errors(result, "S2-KETUA") and errors(result, "S2-APPROVAL"), "sms.yml still names the old Ketua"
    sms = signed_registry / "sms.yml"
    text = sms.read_text(encoding="utf-8").replace('ketua: "%s"' % KETUA, 'ketua: "%s"' % SUCCESSOR)
    start, end = text.index("approval_keys:\n"), text.index("originators:")
    text = text[:start] + 'approval_keys:\n  - person: "%s"\n    key: "%s"\n' % (
        SUCCESSOR, approval.successor.public) + text[end:]
    sms.write_text(text, encoding="utf-8")
    Edit(ACTIVE_BLAST, 'by: "%s"' % KETUA, 'by: "%s"' % SUCCESSOR).apply(signed_registry)
    sign_blast(signed_registry / ACTIVE_BLAST, approval.ketua.private)  # the old Ketua's key
    result = check(signed_registry, approval)
    assert [f.rule for f in result.errors] == ["S2-APPROVAL"], [f.format() for f in result.errors]
    sign_blast(signed_registry / ACTIVE_BLAST, approval.successor.private)
    result = check(signed_registry, approval)
    assert result.ok, [f.format() for f in result.errors]
    assert result.context.approval_trust[0].version == 2


def test_a_forged_statement_and_those_after_it_are_ignored(signed_registry, approval):
    current = trust.current(approval.root)
    forged = statement(current, approval.other.private, SUCCESSOR, [approval.other.public])
    # Even a statement signed by the right key counts for nothing after a forged one.
    after = trust.current(approval.root, [statement(current, approval.ketua.private, SUCCESSOR,
                                                    [approval.other.public])])
    chained = statement(after, approval.other.private, SUCCESSOR, [approval.other.public])
    write_statements(signed_registry, [forged, chained])
    result = check(signed_registry, approval)
    [finding] = errors(result, "S2-TRUST")
    assert finding.file == trust.TRUST_FILE
    assert finding.line == line_of(signed_registry, trust.TRUST_FILE, "signature: |")
    assert "not signed by a key of trust version 1" in finding.message
    assert "the 1 statement(s) after it are ignored" in finding.message
    ctx_trust = result.context.approval_trust[0]
    assert ctx_trust.version == 1 and ctx_trust.ketua == KETUA
    assert result.ok is False and not errors(result, "S2-APPROVAL"), "the trust stayed at the pin"


def test_a_rotation_to_a_malformed_key_is_refused_at_its_keys(signed_registry, approval):
    """A statement signed by the Ketua that names a key whose data does not parse would
    move the trust to a key that verifies nothing: it is refused, and the trust stays."""
    current = trust.current(approval.root)
    write_statements(signed_registry, [statement(current, approval.ketua.private, SUCCESSOR,
                                                 [approval.successor.public])])
    # bin/trust-sign refuses such a key; the statement is edited after signing (its keys
    # are checked before its signature).
    blob = approval.successor.public.split()[1]
    Edit(trust.TRUST_FILE, blob, "AAAAnotakey").apply(signed_registry)
    result = check(signed_registry, approval)
    [finding] = errors(result, "S2-TRUST")
    assert finding.file == trust.TRUST_FILE
    assert "not a valid OpenSSH public key" in finding.message
    assert finding.line == line_of(signed_registry, trust.TRUST_FILE, "AAAAnotakey")
    assert result.context.approval_trust[0].version == 1


def test_a_statement_for_another_state_is_refused(signed_registry, approval):
    """Signed by a trusted key, but over another trust (an old pin): it does not chain."""
    other_root = {"ketua": KETUA, "keys": [approval.ketua.public]}
    write_statements(signed_registry, [statement(trust.current(other_root), approval.ketua.private,
                                                 SUCCESSOR, [approval.successor.public])])
    [finding] = errors(check(signed_registry, approval), "S2-TRUST")
    assert "does not follow the current trust" in finding.message
    assert finding.line == line_of(signed_registry, trust.TRUST_FILE, "previous:")


def test_trust_sign_appends_a_statement_the_validator_accepts(signed_registry, approval, tmp_path):
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "sms_approval.yml").write_text(
        "---\nsms_approval__root:\n  ketua: \"%s\"\n  keys: [\"%s\", \"%s\"]\n" % (
            KETUA, approval.root["keys"][0], approval.ketua.public), encoding="utf-8")
    command = [sys.executable, os.path.join(ROOT, "bin", "trust-sign"), "--inventory", str(inventory),
               "--registry", str(signed_registry), "--ketua", KETUA, "--key",
               approval.successor.private + ".pub", "--reason", "Kunci lama hilang"]
    refused = subprocess.run(command + [approval.other.private], capture_output=True, text=True,
                             timeout=120, check=False)
    assert refused.returncode == 2 and "is not a key of trust version 1" in refused.stderr
    assert "statements: []" in (signed_registry / trust.TRUST_FILE).read_text(encoding="utf-8")
    done = subprocess.run(command + [approval.ketua.private], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    data = trust.statements_of(__import__("yaml").safe_load(
        (signed_registry / trust.TRUST_FILE).read_text(encoding="utf-8")))
    assert [s["version"] for s in data] == [2]
    result = check(signed_registry, approval)
    # sms.yml still lists the keys of version 1 and the blast was signed by one of them.
    assert {f.rule for f in result.errors} == {"S2-KEYS", "S2-APPROVAL"}, [f.format() for f in result.errors]
    assert result.context.approval_trust[0].keys == [trust.normalise_key(approval.successor.public)]


def test_expired_blast_is_an_error_until_archived(signed_registry, approval):
    later = datetime.date.today() + datetime.timedelta(days=20)
    result = check(signed_registry, approval, today=later)
    [finding] = errors(result, "S2-EXPIRY")
    assert finding.file == ACTIVE_BLAST and "expired at" in finding.message
    assert "blasts/archive/2026-12-101.yml" in finding.fix
    assert finding.line == line_of(signed_registry, ACTIVE_BLAST, "    expires:")
    archive = signed_registry / "blasts" / "archive"
    shutil.move(str(signed_registry / ACTIVE_BLAST), str(archive / "2026-12-101.yml"))
    result = check(signed_registry, approval, today=later)
    assert result.ok, [f.format() for f in result.errors]
    assert result.context.active_blast_files == []
    assert sorted(result.context.archived_blast_files) == ["blasts/archive/2026-11-001.yml",
                                                            "blasts/archive/2026-12-101.yml"]


def test_archived_blasts_are_checked_for_their_schema_only(registry, approval):
    """The example's archived blast has no expires and a signature of a key nobody holds any
    more: as a record it is valid; it is still read with its schema."""
    assert validate(str(registry), SCHEMAS, approval_root=trust.load_root(LAB_INVENTORY)).ok
    Edit("blasts/archive/2026-11-001.yml", "kind: invitation", "kind: promotion").apply(registry)
    result = validate(str(registry), SCHEMAS, display_root=str(registry),
                      approval_root=trust.load_root(LAB_INVENTORY))
    assert [f.rule for f in result.errors] == ["S3-ENUM"]


@pytest.mark.parametrize("root, message", [
    ({}, "is not set"),
    ({"ketua": KETUA}, "has no keys"),
    ({"ketua": "*", "keys": ["ssh-ed25519 AAAA"]}, "must be a person id"),
    ({"ketua": KETUA, "keys": ["ssh-ed25519 AAAA x\nevil namespaces=\"*\" ssh-ed25519 BBBB"]},
     "not an OpenSSH public key"),
    ({"ketua": KETUA, "keys": ["ssh-ed25519 AAAA"], "extra": 1}, "mapping of ketua and keys only"),
    # The shape of a key line, but no key: ssh-keygen would skip it and trust nothing.
    ({"ketua": KETUA, "keys": ["ssh-ed25519 AAAAnotakey"]}, "not a valid OpenSSH public key"),
    ({"ketua": KETUA, "keys": ["ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb"
                               "BbBbBbBbBbBbBbB"]}, "not a valid OpenSSH public key"),
])
def test_an_unusable_pin_anchors_nothing(root, message):
    with pytest.raises(trust.TrustError) as info:
        trust.current(root)
    assert message in str(info.value)
