"""An unreviewed plan holds no power (issue 11, item 5), against real servers on loopback.

named and slapd run with the configuration the roles dns_server and ldap_directory
write (their templates, access rules and limits: role_servers.py); the inventory is
a copy of the lab's group_vars with the lab's own vault generator
(roles/lab/files/lab_secrets.py), so the variables `make site` and `make plan-readonly`
use are the ones under test. Proven here:

* the transfer-only DNS key reads the zone (the plan with it is the plan with the
  update key) and an UPDATE signed with it is REFUSED;
* the directory's reader reads the accounts (the plan of mail_accounts in check
  mode, the reads of mail_unused and mail_inventory equal the toolkit's), cannot
  read userPassword, cannot write, add or delete;
* `make plan-readonly`, given the vault password of the vault id plan alone,
  succeeds, says it is read-only and what it left out, and its records are the
  full plan's; using an apply secret in that mode fails and changes nothing.
"""
import datetime
import json
import os
import re
import secrets as random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import ldap3
import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from module_runner import run_module
from role_servers import SUFFIX, ZONE, RoleNamed, RoleSlapd, render

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from registry_edit import edit as edit_registry  # noqa: E402

LAB = ROOT / "inventory" / "lab"
BASE = "ou=accounts," + SUFFIX
REGISTRY_MODULES = ("dns_zone", "mail_accounts", "mail_unused")


class Blob(str):
    pass


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!vault", lambda loader, node: Blob(loader.construct_scalar(node)))


def decrypt_all(path, passwords):
    lib = VaultLib([(k, VaultSecret(v.encode())) for k, v in passwords.items()])

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return lib.decrypt(value.encode()).decode()
    with open(path, encoding="utf-8") as fh:
        return {k: plain(v) for k, v in yaml.load(fh, Loader=_Loader).items()}  # noqa: S506


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The servers, the inventory, and a directory and zone holding the example registry."""
    tmp = tmp_path_factory.mktemp("readonly")
    passwords = {"plan": "plan-" + random.token_hex(16), "apply": "apply-" + random.token_hex(16)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CITY_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_VAULT_PASSWORD_PLAN=passwords["plan"], ANSIBLE_VAULT_PASSWORD_APPLY=passwords["apply"],
               CITY_STATE_DIR=str(tmp / "state"), CITY_OPERATOR="readonly-test")

    # The inventory: the lab's group_vars for the DNS primary and the directory, its
    # vault made by the lab's generator; the registry next to it, as in the project.
    registry = tmp / "inv" / "registry"
    shutil.copytree(ROOT / "inventory" / "registry", registry)
    inventory = tmp / "inv" / "test"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    for name in ("dns_primary.yml", "directory.yml"):
        shutil.copy(LAB / "group_vars" / name, inventory / "group_vars" / name)
    for path in (LAB / "group_vars" / "all").iterdir():  # the inventory's pins (SMS approval), not its vault
        if path.name != "vault.yml":
            shutil.copy(path, inventory / "group_vars" / "all" / path.name)
    vault = inventory / "group_vars" / "all" / "vault.yml"
    made = subprocess.run([sys.executable, str(ROOT / "roles" / "lab" / "files" / "lab_secrets.py"), "--file",
                           str(vault), "--client", str(ROOT / "scripts" / "vault-client")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    values = decrypt_all(vault, passwords)
    # A server host the plan must never reach: nothing listens on port 9.
    unreachable = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
                   # Host keys checked as in production (playbooks/validate.yml refuses less).
                   "ansible_ssh_common_args": "-o ConnectTimeout=3 -o BatchMode=yes -o StrictHostKeyChecking=yes"
                                              " -o UserKnownHostsFile=%s" % (tmp / "known_hosts")}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "control": {"hosts": {"localhost": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable}}},
        "dns_primary": {"hosts": {"dns1": dict(unreachable)}},
        "directory": {"hosts": {"ldap1": dict(unreachable)}},
        "sms_gateways": {"hosts": {"sms1": dict(unreachable)}}}}}))

    domain = yaml.safe_load((registry / "domain.yml").read_text())["domain"]
    rendered = render(tmp / "servers", values, domain)
    named = RoleNamed(rendered).start()
    slapd = RoleSlapd(rendered).start()
    state = {"tmp": tmp, "env": env, "passwords": passwords, "registry": registry, "inventory": inventory,
             "secrets": values, "named": named, "slapd": slapd}
    try:
        # The servers hold the example registry (applied with the apply's credentials)...
        result = run_module("dns_zone", dict(dns_args(state, "update"), registry_dir=str(registry)))
        assert not result.get("failed"), result.get("msg")
        result = run_module("mail_accounts", dict(
            ldap_args(state, "toolkit"), registry_dir=str(registry), handover_dir=str(tmp / "handover"),
            archive_dir=str(tmp / "archive")))
        assert not result.get("failed"), result.get("msg")
        # ...then the registry and the zone move apart, so that the plans have something to say.
        edit_registry(registry)
        update(state, "update", ("replace", "setda", 3600, "TXT", '"changed by hand"'))
        yield state
    finally:
        named.stop()
        slapd.stop()


def dns_args(state, key):
    name, secret = {"update": ("toolkit-update", state["secrets"]["vault_dns_tsig_secret"]),
                    "transfer": ("toolkit-transfer", state["secrets"]["vault_dns_transfer_secret"])}[key]
    return dict(server="127.0.0.1", port=state["named"].port, key_name=name, key_secret=secret)


def ldap_args(state, who):
    dn = "cn=%s,ou=system,%s" % (who, SUFFIX)
    return dict(uri=state["slapd"].uri, start_tls=True, ca_file=state["slapd"].ca_file, bind_dn=dn,
                bind_password=state["slapd"].passwords[dn])


def update(state, key, *ops):
    """Send one UPDATE signed with ``key``; return its rcode."""
    args = dns_args(state, key)
    keyring = dns.tsigkeyring.from_text({args["key_name"]: ("hmac-sha256", args["key_secret"])})
    message = dns.update.UpdateMessage(ZONE + ".", keyring=keyring, keyname=args["key_name"])
    for verb, *rest in ops:
        getattr(message, verb)(*rest)
    return dns.query.tcp(message, "127.0.0.1", port=state["named"].port, timeout=5).rcode()


def connect(state, who):
    args = ldap_args(state, who)
    server = ldap3.Server(args["uri"], tls=ldap3.Tls(ca_certs_file=args["ca_file"], validate=2))
    conn = ldap3.Connection(server, args["bind_dn"], args["bind_password"], raise_exceptions=False)
    conn.open()
    assert conn.start_tls() and conn.bind(), conn.result
    return conn


# --------------------------------------------------------------------- DNS ---

def test_the_role_gives_the_transfer_key_transfers_and_no_updates(setup):
    text = Path(setup["named"].dir, "named.conf.local").read_text()
    # The update key alone is granted updates (tests/security/test_dns_hardening.py: which ones).
    policy = re.search(r'update-policy \{(.*?)\};', text, re.S).group(1)
    assert re.findall(r'grant "([^"]+)"', policy) == ["toolkit-update"]
    assert "allow-update" not in text
    assert re.search(r'allow-transfer \{ key "toolkit-update"; key "toolkit-transfer";( key "toolkit-secondary";)? \};',
                     text)


def test_transfer_key_plans_what_the_update_key_plans(setup):
    common = dict(registry_dir=str(setup["registry"]), force=True)
    with_update = run_module("dns_zone", dict(dns_args(setup, "update"), **common), check=True, diff=True)
    with_transfer = run_module("dns_zone", dict(dns_args(setup, "transfer"), **common), check=True, diff=True)
    assert not with_transfer.get("failed"), with_transfer.get("msg")
    assert with_transfer["changes"] and with_transfer["changes"] == with_update["changes"]
    actions = {(c["name"], c["action"]) for c in with_transfer["changes"]}
    assert ("setda.%s." % ZONE, "change") in actions and ("dinkes.%s." % ZONE, "add") in actions
    assert with_transfer["messages"] == 0


def test_an_update_signed_with_the_transfer_key_is_refused(setup):
    rcode = update(setup, "transfer", ("add", "intruder", 300, "A", "192.0.2.66"))
    assert rcode == dns.rcode.REFUSED
    # The module says so too, and changes nothing, when asked to apply with it.
    result = run_module("dns_zone", dict(dns_args(setup, "transfer"), registry_dir=str(setup["registry"]),
                                         force=True))
    assert result["failed"] and "REFUSED" in result["msg"]
    assert update(setup, "update", ("present", "intruder")) == dns.rcode.NXDOMAIN


# ---------------------------------------------------------------- directory ---

def test_the_role_gives_the_reader_its_access_rules_and_no_limit(setup):
    """What slapd holds is what the role would compare on its next run: no churn."""
    slapd = setup["slapd"]
    access = [re.sub(r"\s+", " ", rule).strip() for rule in slapd.role["mdb_access"]]
    held = [re.sub(r"^\{\d+\}", "", rule) for rule in slapd.config_values("olcDatabase={1}mdb,cn=config",
                                                                             "olcAccess")]
    assert held == access
    assert any(slapd.role["reader_dn"] in rule for rule in held)
    limits = [re.sub(r"^\{\d+\}", "", v) for v in slapd.config_values("olcDatabase={1}mdb,cn=config", "olcLimits")]
    assert 'dn.exact="%s" time=unlimited size=unlimited' % slapd.role["reader_dn"] in limits


def test_reader_plans_what_the_toolkit_plans(setup):
    common = dict(registry_dir=str(setup["registry"]), handover_dir=str(setup["tmp"] / "never"),
                  archive_dir=str(setup["tmp"] / "never"))
    toolkit = run_module("mail_accounts", dict(ldap_args(setup, "toolkit"), **common), check=True, diff=True)
    reader = run_module("mail_accounts", dict(ldap_args(setup, "reader"), **common), check=True, diff=True)
    assert not reader.get("failed"), reader.get("msg")
    assert reader["operations"] and reader["operations"] == toolkit["operations"]
    assert reader["plan"]["deactivate"] == 1
    assert not (setup["tmp"] / "never").exists(), "a plan writes no hand-over file nor archive"
    # A plan holds no key of any kind (hand-overs are encrypted to public keys): the reader
    # trying to apply is stopped by the directory itself, and no password is made.
    applied = run_module("mail_accounts", dict(ldap_args(setup, "reader"), **common))
    assert applied["failed"] and "insufficientAccessRights" in applied["msg"], applied.get("msg")
    assert applied["handover_files"] == [] and not (setup["tmp"] / "never").exists()


def test_reader_reads_usage_like_the_toolkit(setup):
    for module, extra in (("mail_inventory", {"base": BASE}),
                          ("mail_unused", {"registry_dir": str(setup["registry"]),
                                           "spool_dir": str(setup["tmp"] / "spool"),
                                           # Two months on, every account is unused.
                                           "today": str(datetime.date.today() + datetime.timedelta(days=61))})):
        by_toolkit = run_module(module, dict(ldap_args(setup, "toolkit"), **extra), check=True)
        by_reader = run_module(module, dict(ldap_args(setup, "reader"), **extra), check=True)
        assert not by_reader.get("failed"), by_reader.get("msg")
        key = "accounts" if module == "mail_inventory" else "unused"
        assert by_reader[key] and by_reader[key] == by_toolkit[key], module
    assert all(a["last_used"] for a in by_reader["unused"]), "pwdLastSuccess or createTimestamp is readable"


def test_reader_reads_no_password_and_changes_nothing(setup):
    reader = connect(setup, "reader")
    assert reader.search(BASE, "(objectClass=inetOrgPerson)", ldap3.LEVEL,
                         attributes=["mail", "userPassword", "pwdAccountLockedTime", "pwdHistory"])
    entries = reader.entries
    assert len(entries) > 100, "no size limit cuts the reader short"
    assert not any(e.entry_attributes_as_dict.get("userPassword") for e in entries)
    assert any(e.entry_attributes_as_dict.get("pwdAccountLockedTime") for e in entries)
    dn = entries[0].entry_dn
    # Not even a compare of the password.
    assert not reader.compare(dn, "userPassword", "anything")
    assert reader.result["description"] in ("insufficientAccessRights", "noSuchAttribute", "compareFalse")
    assert not reader.modify(dn, {"cn": [(ldap3.MODIFY_REPLACE, ["x"])]})
    assert reader.result["description"] == "insufficientAccessRights"
    assert not reader.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])]})
    assert not reader.add("uid=intruder," + BASE, ["top", "inetOrgPerson"],
                          {"uid": "intruder", "cn": "x", "sn": "x", "userPassword": "Intruder-Pass1"})
    assert not reader.delete(dn)
    assert not reader.modify("cn=toolkit,ou=system," + SUFFIX, {"userPassword": [(ldap3.MODIFY_REPLACE, ["x"])]})
    toolkit = connect(setup, "toolkit")
    toolkit.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    assert toolkit.entries[0].cn.value != "x"
    assert not toolkit.search(BASE, "(uid=intruder)", ldap3.LEVEL)


# ----------------------------------------------------------------- playbook ---

def make_command(target, inventory):
    """The ansible-playbook command of a Makefile target, as make would run it."""
    proc = subprocess.run(["make", "-s", "-n", target, "INVENTORY=%s" % inventory], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    lines = proc.stdout.replace("\\\n", " ").splitlines()
    command = [line for line in lines if "ansible-playbook" in line]
    assert len(command) == 1, proc.stdout
    words = shlex.split(command[0])
    return [str(Path(sys.executable).parent / "ansible-playbook")] + words[1:]


def run_plan(setup, target, name, *extra, passwords=("plan", "apply")):
    plan_dir = setup["tmp"] / ("plan-" + name)
    shutil.rmtree(plan_dir, ignore_errors=True)
    env = dict(setup["env"], CITY_PLAN_DIR=str(plan_dir))
    for vault_id in ("plan", "apply"):
        if vault_id not in passwords:
            env.pop("ANSIBLE_VAULT_PASSWORD_" + vault_id.upper())
    overrides = setup["tmp"] / "overrides.json"
    overrides.write_text(json.dumps({
        "registry_dir": str(setup["registry"]), "dns_apply__port": setup["named"].port,
        "ldap_apply__uri": setup["slapd"].uri, "ldap_apply__ca_file": setup["slapd"].ca_file}))
    command = make_command(target, setup["inventory"]) + ["-e", "@" + str(overrides), *extra]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    plan = json.loads((plan_dir / "plan.json").read_text()) if (plan_dir / "plan.json").exists() else None
    markdown = (plan_dir / "plan.md").read_text() if (plan_dir / "plan.md").exists() else ""
    return proc, plan, markdown


def registry_part(plan):
    return sorted((json.dumps(r, sort_keys=True) for r in plan["changes"] if r["module"] in REGISTRY_MODULES))


@pytest.fixture(scope="module")
def full_plan(setup):
    """The plan with every credential, the server configuration and the blasts left out
    (their plays reach the servers over SSH and would configure this machine)."""
    proc, plan, _ = run_plan(setup, "plan", "full", "--skip-tags", "city_server,city_sms_blast")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert plan["complete"] and not plan["readonly"]
    return plan


def test_readonly_plan_with_the_plan_password_alone_plans_the_registry(setup, full_plan):
    proc, plan, markdown = run_plan(setup, "plan-readonly", "readonly", passwords=("plan",))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "did not find a secret for vault-id=apply" in output, "the run had no apply password"
    assert plan["readonly"] and plan["complete"] and not plan["errors"]
    assert [p["tag"] for p in plan["not_planned"]] == ["city_server", "city_sms_blast"]
    assert registry_part(plan) and registry_part(plan) == registry_part(full_plan)
    assert {r["module"] for r in plan["changes"]} <= set(REGISTRY_MODULES)
    head = markdown.split("## ", 1)[0]
    assert "**Read-only plan.**" in head and "Server configuration" in head and "SMS blasts" in head
    assert "planned only after approval" in head
    # No server host was reached (none is reachable: the plan would be incomplete).
    assert "UNREACHABLE" not in output
    written = output + markdown + json.dumps(plan)
    for value in (setup["secrets"]["vault_dns_tsig_secret"], setup["secrets"]["vault_dns_transfer_secret"],
                  setup["secrets"]["vault_ldap_reader_password"], setup["passwords"]["plan"]):
        assert value not in written


def test_readonly_plan_that_reaches_for_an_apply_secret_fails_and_changes_nothing(setup):
    before = run_module("dns_zone", dict(dns_args(setup, "transfer"), registry_dir=str(setup["registry"]),
                                         force=True), check=True)
    # A merge request's code that swaps the read key for the update key.
    proc, plan, markdown = run_plan(setup, "plan-readonly", "reaching",
                                    "-e", '{"dns_apply__read_key_secret": "{{ dns_server__tsig_secret }}"}',
                                    passwords=("plan",))
    assert proc.returncode != 0
    assert "undecryptable" in proc.stdout + proc.stderr
    assert plan and not plan["complete"] and plan["errors"]
    assert "The plan is incomplete" in markdown
    after = run_module("dns_zone", dict(dns_args(setup, "transfer"), registry_dir=str(setup["registry"]),
                                        force=True), check=True)
    assert after["changes"] == before["changes"], "the zone did not change"


def test_readonly_plan_refuses_to_run_the_server_plays(setup):
    proc, _, _ = run_plan(setup, "plan", "no-skip", "-e", "city_plan__readonly=true", passwords=("plan",))
    assert proc.returncode != 0
    assert "--skip-tags city_server,city_sms_blast" in proc.stdout


def test_reports_need_the_plan_password_alone(setup):
    """The reports read the zone and the directory with the read-only credentials."""
    out = setup["tmp"] / "reports"
    env = dict(setup["env"], CITY_PLAN_DIR=str(setup["tmp"] / "plan-report"))
    env.pop("ANSIBLE_VAULT_PASSWORD_APPLY")
    overrides = {"registry_dir": str(setup["registry"]), "dns_apply__port": setup["named"].port,
                 "ldap_apply__uri": setup["slapd"].uri, "ldap_apply__ca_file": setup["slapd"].ca_file,
                 "report__dir": str(out)}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(setup["inventory"]),
                           str(ROOT / "playbooks" / "report.yml"), "-e", json.dumps(overrides)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    state = {p.name: json.loads(p.read_text()) for p in (out / "state").iterdir()}
    assert not state["dns-dns1.json"].get("error") and state["dns-dns1.json"]["changes"]
    assert not state["mail-ldap1.json"].get("error") and len(state["mail-ldap1.json"]["accounts"]) > 100
