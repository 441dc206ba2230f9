"""The main domain's mail records (domain.mail, issue 15) against a real named.

dns_zone renders the MX, SPF, DKIM, DMARC and SRV records from the registry's block and
the DKIM key from the inventory (dkim_public_keys); every outcome is read back from the
server with dnspython. playbooks/dns.yml itself runs once for the whole path: the key
derived from the private key by the filter dkim_public_key, the validation that stops a
broken registry before anything reaches the server.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.zone
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from mutate import Edit
from named_server import UPDATE_KEY

ROOT = Path(__file__).resolve().parents[2]
ZONE = "bekasikota.go.id."
F = "domain.yml"
DMARC = "v=DMARC1; p=quarantine; rua=mailto:diskominfostandi@bekasikota.go.id"
APEX_CAA = "      - {type: CAA, flags: 0, tag: issue, value: letsencrypt.org}"


def spki(key):
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "rsa1024": rsa.generate_private_key(public_exponent=65537, key_size=1024),
            "ed25519": ed25519.Ed25519PrivateKey.generate(),
            "p256": ec.generate_private_key(ec.SECP256R1())}


def answer(named, name, rdtype):
    """The rdatas of (name, type) as the server answers them over TCP."""
    query = dns.message.make_query(name if name.endswith(".") else name + "." + ZONE, rdtype)
    response = dns.query.tcp(query, "127.0.0.1", port=named.port, timeout=5)
    return [rd for rrset in response.answer if rrset.rdtype == dns.rdatatype.from_text(rdtype) for rd in rrset]


def zone_snapshot(named):
    """Every record of the zone (AXFR with the update key), as sorted text lines."""
    import dns.tsigkeyring
    import dns.xfr
    zone = dns.zone.Zone(ZONE, relativize=False)
    keyring = dns.tsigkeyring.from_text({UPDATE_KEY: ("hmac-sha256", named.secret)})
    query, _ = dns.xfr.make_query(zone, keyring=keyring, keyname=UPDATE_KEY)
    dns.query.inbound_xfr("127.0.0.1", zone, query=query, port=named.port, timeout=10)
    return sorted(line for line in zone.to_text().splitlines() if " SOA " not in line)


def dkim_strings(named, selector="city2026"):
    (rd,) = answer(named, "%s._domainkey" % selector, "TXT")
    return rd.strings


# --- the records, from the block and the inventory's key --------------------------------

def test_mail_records_are_published_and_the_second_apply_changes_nothing(named, registry, apply_dns, keys):
    first = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"])})
    assert not first.get("failed"), first.get("msg")
    assert [rd.to_text() for rd in answer(named, ZONE, "MX")] == ["10 mail.bekasikota.go.id."]
    assert [rd.strings for rd in answer(named, ZONE, "TXT")] == [(b"v=spf1 mx -all",)]
    assert [rd.strings for rd in answer(named, "_dmarc", "TXT")] == [(DMARC.encode(),)]
    assert [rd.to_text() for rd in answer(named, "_submission._tcp", "SRV")] == ["0 1 587 mail.bekasikota.go.id."]
    assert [rd.to_text() for rd in answer(named, "_imaps._tcp", "SRV")] == ["0 1 993 mail.bekasikota.go.id."]
    assert answer(named, "_pop3s._tcp", "SRV") == []
    # DKIM: a 2048-bit key is longer than one TXT string; its 255-byte strings,
    # joined, are the record, and the key in it is the inventory's.
    strings = dkim_strings(named)
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings) and len(strings[0]) == 255
    text = b"".join(strings).decode()
    assert text == "v=DKIM1; k=rsa; p=" + spki(keys["rsa"])
    published = serialization.load_der_public_key(base64.b64decode(text.split("p=", 1)[1]))
    assert published.public_numbers() == keys["rsa"].public_key().public_numbers()
    assert published.key_size == 2048
    # The zone read back by AXFR compares equal to the plan: nothing left to do.
    second = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"])})
    assert not second.get("failed") and not second["changed"] and second["messages"] == 0
    assert second["plan"]["add"] == second["plan"]["change"] == second["plan"]["delete"] == 0


def test_an_ed25519_key_publishes_the_bare_key(named, registry, apply_dns, keys):
    result = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["ed25519"])})
    assert not result.get("failed"), result.get("msg")
    raw = keys["ed25519"].public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert dkim_strings(named) == (("v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode()).encode(),)


def test_a_rotation_publishes_both_then_removes_the_old_selector(named, registry, apply_dns, keys):
    old, new = spki(keys["rsa"]), spki(keys["ed25519"])
    assert not apply_dns(registry, dkim_public_keys={"city2026": old}).get("failed")
    Edit(F, "selectors: [city2026]", "selectors: [city2026, city2027]").apply(registry)
    both = apply_dns(registry, dkim_public_keys={"city2026": old, "city2027": new})
    assert not both.get("failed") and both["plan"]["add"] == 1
    assert dkim_strings(named, "city2027")[0].startswith(b"v=DKIM1; k=ed25519")
    Edit(F, "selectors: [city2026, city2027]", "selectors: [city2027]").apply(registry)
    after = apply_dns(registry, dkim_public_keys={"city2027": new})
    assert not after.get("failed") and after["plan"]["delete"] == 1
    assert answer(named, "city2026._domainkey", "TXT") == []
    assert dkim_strings(named, "city2027")[0].startswith(b"v=DKIM1; k=ed25519")


def test_changing_the_policy_changes_the_records_and_a_service_taken_out_is_deleted(
        named, registry, apply_dns, keys):
    assert not apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"])}).get("failed")
    Edit(F, "spf: {mechanisms: [mx], all: fail}", "spf: {mechanisms: [mx, ip4:192.0.2.25], all: softfail}").apply(
        registry)
    Edit(F, "      policy: quarantine\n", "      policy: reject\n      percent: 50\n"
            "      alignment: {dkim: strict}\n").apply(registry)
    Edit(F, "services: {submission: mail, imaps: mail}", "services: {submissions: mail, imaps: mail}").apply(
        registry)
    result = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"])})
    assert not result.get("failed"), result.get("msg")
    assert [rd.strings for rd in answer(named, ZONE, "TXT")] == [(b"v=spf1 mx ip4:192.0.2.25 ~all",)]
    assert [rd.strings for rd in answer(named, "_dmarc", "TXT")] == [
        (b"v=DMARC1; p=reject; pct=50; adkim=s; rua=mailto:diskominfostandi@bekasikota.go.id",)]
    assert answer(named, "_submission._tcp", "SRV") == []
    assert [rd.to_text() for rd in answer(named, "_submissions._tcp", "SRV")] == ["0 1 465 mail.bekasikota.go.id."]


def test_a_key_for_a_selector_the_registry_does_not_name_is_ignored_with_a_note(named, registry, apply_dns, keys):
    result = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"]), "spare": spki(keys["ed25519"])})
    assert not result.get("failed"), result.get("msg")
    assert any("spare" in note and "not published" in note for note in result["city"]["notes"])
    assert answer(named, "spare._domainkey", "TXT") == []


def test_check_mode_plans_the_records_and_changes_nothing(named, registry, apply_dns, keys):
    before = zone_snapshot(named)
    plan = apply_dns(registry, check=True, dkim_public_keys={"city2026": spki(keys["rsa"])})
    assert not plan.get("failed") and plan["changed"]
    planned = {(c["name"], c["type"]) for c in plan["changes"]}
    assert {(ZONE, "MX"), ("city2026._domainkey." + ZONE, "TXT"), ("_dmarc." + ZONE, "TXT"),
            ("_imaps._tcp." + ZONE, "SRV")} <= planned
    assert zone_snapshot(named) == before


# --- a key that cannot be published fails before anything changes ------------------------

@pytest.mark.parametrize("name, value, why", [
    ("garbage", "not base64 at all!", "not base64"),
    ("truncated", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A", "not a DER SubjectPublicKeyInfo"),
    ("rsa1024", None, "RSA of 1024 bits"),
    ("p256", None, "RSA (at least 2048 bits) or Ed25519"),
    ("pem", None, "is PEM"),
])
def test_a_bad_dkim_key_fails_before_any_change(named, registry, apply_dns, keys, name, value, why):
    if name == "pem":
        value = keys["rsa"].public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    elif value is None:
        value = spki(keys[name])
    before = zone_snapshot(named)
    result = apply_dns(registry, dkim_public_keys={"city2026": value})
    assert result.get("failed") and why in result["msg"] and "city2026" in result["msg"], result.get("msg")
    assert result["msg"].startswith("nothing applied")
    assert zone_snapshot(named) == before


def test_a_bad_key_for_an_unused_selector_fails_too(named, registry, apply_dns, keys):
    before = zone_snapshot(named)
    result = apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"]), "spare": "AAAA"})
    assert result.get("failed") and "spare" in result["msg"]
    assert zone_snapshot(named) == before


def test_a_selector_without_a_key_names_the_variable_to_set(named, registry, apply_dns):
    before = zone_snapshot(named)
    result = apply_dns(registry, dkim_public_keys={})
    assert result.get("failed") and "city2026" in result["msg"]
    assert "city_mail__dkim_public_keys" in result["msg"] and "dkim_public_key" in result["msg"]
    assert result["missing_dkim_keys"] == ["city2026"]
    assert zone_snapshot(named) == before


def test_without_the_option_dkim_is_left_alone_with_a_note(named, registry, apply_dns, keys):
    assert not apply_dns(registry, dkim_public_keys={"city2026": spki(keys["rsa"])}).get("failed")
    result = apply_dns(registry)
    assert not result.get("failed") and not result["changed"], result.get("changes")
    assert any("DKIM records of city2026 not planned" in note for note in result["city"]["notes"])
    assert b"".join(dkim_strings(named)).decode().endswith(spki(keys["rsa"]))


# --- the filter and the lab's generator --------------------------------------------------

def _filter():
    import importlib.util
    spec = importlib.util.spec_from_file_location("dkim_filter_under_test", ROOT / "filter_plugins" / "dkim.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__
    return module.FilterModule().filters()["dkim_public_key"]


def test_the_filter_gives_the_public_key_of_the_private_key(keys):
    from ansible.errors import AnsibleFilterError
    dkim_public_key = _filter()
    assert dkim_public_key(pem(keys["rsa"])) == spki(keys["rsa"])
    assert dkim_public_key(pem(keys["ed25519"])) == spki(keys["ed25519"])
    secret = pem(keys["rsa1024"])
    with pytest.raises(AnsibleFilterError, match="RSA of 1024 bits") as caught:
        dkim_public_key(secret)
    assert secret.splitlines()[1] not in str(caught.value)
    with pytest.raises(AnsibleFilterError, match="not an unencrypted PEM private key"):
        dkim_public_key("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")


def test_the_lab_generator_makes_a_key_pair_that_matches(tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret
    passwords = {"plan": "plan-password-0123", "apply": "apply-password-4567"}
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANSIBLE_VAULT_PASSWORD_PLAN": passwords["plan"],
           "ANSIBLE_VAULT_PASSWORD_APPLY": passwords["apply"]}
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "vault-client", tmp_path / "scripts" / "vault-client")
    vault = tmp_path / "vault.yml"

    def generate():
        proc = subprocess.run([sys.executable, str(ROOT / "roles" / "lab" / "files" / "lab_secrets.py"), "--file",
                               str(vault), "--client", str(tmp_path / "scripts" / "vault-client")],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    first = generate()
    assert {"vault_mail_dkim_private_key", "vault_mail_dkim_public_key"} <= set(first["added"])
    text = vault.read_text()
    blobs = {}
    for line in text.splitlines():
        if line and not line.startswith((" ", "#", "-")):
            current = line.split(":", 1)[0]
            blobs[current] = []
        elif line.startswith(" ") and blobs:
            blobs[current].append(line.strip())
    lib = VaultLib([(k, VaultSecret(v.encode())) for k, v in passwords.items()])
    private_blob = "\n".join(blobs["vault_mail_dkim_private_key"])
    public_blob = "\n".join(blobs["vault_mail_dkim_public_key"])
    assert private_blob.startswith("$ANSIBLE_VAULT;1.2;AES256;apply")
    assert public_blob.startswith("$ANSIBLE_VAULT;1.2;AES256;plan")  # the read-only plan reads it
    private = serialization.load_pem_private_key(lib.decrypt(private_blob.encode()), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert lib.decrypt(public_blob.encode()).decode() == spki(private) == _filter()(pem(private))
    # A second run changes nothing: the pair is kept byte for byte.
    again = generate()
    assert not again["changed"] and again["added"] == [] and vault.read_text() == text


# --- the playbook: inventory variable, filter, validation first ---------------------------

def run_dns_playbook(tmp_path, registry, named, private_pem):
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "inventory" / "lab" / "group_vars" / "all" / "sms_approval.yml",
                inventory / "group_vars" / "all" / "sms_approval.yml")
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"dns_primary": {"hosts": {"dns1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    (inventory / "group_vars" / "all" / "mail.yml").write_text(yaml.safe_dump({
        "vault_mail_dkim_private_key": private_pem,
        # As an inventory writes it: the key derived from the private key, so they cannot differ.
        "city_mail__dkim_public_keys": {"city2026": "{{ vault_mail_dkim_private_key | dkim_public_key }}"}}))
    extra = {"registry_dir": str(registry), "dns_apply__server": "127.0.0.1", "dns_apply__port": named.port,
             "dns_server__tsig_key_name": UPDATE_KEY, "dns_server__tsig_secret": named.secret}
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CITY_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", CITY_STATE_DIR=str(tmp_path / "state"),
               CITY_PLAN_DIR=str(tmp_path / "plan"), CITY_OPERATOR="mail-records-test")
    tool = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(tool), "-i", str(inventory), str(ROOT / "playbooks" / "dns.yml"), "--skip-tags",
                           "city_server", "-e", "@" + str(tmp_path / "extra.json")], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout


def test_the_playbook_publishes_the_key_derived_from_the_private_key(named, registry, keys, tmp_path):
    status, output = run_dns_playbook(tmp_path, registry, named, pem(keys["rsa"]))
    assert status == 0, output[-5000:]
    assert b"".join(dkim_strings(named)).decode() == "v=DKIM1; k=rsa; p=" + spki(keys["rsa"])
    assert [rd.to_text() for rd in answer(named, ZONE, "MX")] == ["10 mail.bekasikota.go.id."]
    assert pem(keys["rsa"]).splitlines()[1] not in output  # the private key never in the output
    status, output = run_dns_playbook(tmp_path, registry, named, pem(keys["rsa"]))
    assert status == 0 and "'add': 0, 'change': 0, 'delete': 0" in output, output[-3000:]


@pytest.mark.parametrize("edit, rule, needle", [
    (Edit(F, APEX_CAA, APEX_CAA + "\n      - {type: MX, priority: 5, value: mx.bekasikota.go.id.}"),
     "E1-MAIL-EXCHANGER", "{type: MX, priority: 5"),
    (Edit(F, "{host: mail, priority: 10}", "{host: mx9, priority: 10}"), "E1-MAIL-EXCHANGER", "{host: mx9"),
    (Edit(F, "reports: [diskominfostandi@bekasikota.go.id]", "reports: [dmarc@reports.example.net]"),
     "E12-MAIL-AUTH", "reports: [dmarc@"),
    (Edit(F, "selectors: [city2026]", "selectors: [City2026]"), "E12-PATTERN", "selectors: [City2026]"),
], ids=["hand-written-mx", "exchanger-without-address", "external-rua", "bad-selector"])
def test_a_broken_mail_block_stops_the_playbook_before_the_server(named, registry, keys, tmp_path, edit, rule,
                                                                  needle):
    from mutate import line_of
    edit.apply(registry)
    before = zone_snapshot(named)
    status, output = run_dns_playbook(tmp_path, registry, named, pem(keys["rsa"]))
    assert status != 0
    line = line_of(registry, F, needle)
    assert "domain.yml:%d:" % line in output and "[%s]" % rule in output, output[-4000:]
    assert "Perwal Kota Bekasi 17/2023 Pasal" in output
    assert "Apply domain.yml (one AXFR" not in output  # the apply never ran
    assert zone_snapshot(named) == before
