"""playbooks/report.yml against real servers on loopback: a BIND primary, a slapd and a gateway's
files (reached with the local connection), plus a gateway that cannot be reached.

The run must read every server without changing any, record no change in the audit trail,
keep the state it read in reports/state/, and write every report; bin/city-report then
renders the same tables offline from that state.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from paths import LAB_INVENTORY, ROOT
from reports_helpers import BLAST, make_gateway

from ansible.module_utils.city.sms import trust

sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
from named_server import READ_KEY, UPDATE_KEY, NamedServer  # noqa: E402

PLAYBOOK = os.path.join(ROOT, "playbooks", "report.yml")


def tool(name):
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.fixture
def named(tmp_path):
    server = NamedServer(tmp_path / "named", "bekasikota.go.id").start()
    yield server
    server.stop()


def inventory(tmp_path, named, directory, gateway):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {"all": {"vars": {"sms_approval__root": trust.load_root(LAB_INVENTORY)}, "children": {
        "control": {"hosts": {"localhost": dict(local)}},
        "dns_primary": {"hosts": {"dnstest": {**local,
            "dns_apply__server": "127.0.0.1", "dns_apply__port": named.port,
            "dns_server__tsig_key_name": UPDATE_KEY, "dns_server__tsig_secret": named.secret,
            # The reports read the zone with the transfer-only key, as the inventories set it.
            "dns_apply__read_key_name": READ_KEY, "dns_apply__read_key_secret": named.read_secret}}},
        "directory": {"hosts": {"ldaptest": {**local,
            "ldap_apply__uri": directory.uri, "ldap_apply__start_tls": True,
            "ldap_apply__ca_file": directory.ca_file,
            "ldap_apply__bind_dn": directory.toolkit_dn,
            "ldap_apply__bind_password": directory.passwords[directory.toolkit_dn],
            "ldap_apply__base": directory.base}}},
        "sms_gateways": {"hosts": {
            "smstest": dict(local, sms_gateway__data_dir=gateway["data"], sms_gateway__spool_dir=gateway["spool"]),
            # Nothing listens on port 9: the read fails at once, the reports are still made.
            "smsdown": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
                        # Host keys checked as in production (playbooks/validate.yml refuses less).
                        "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes -o StrictHostKeyChecking=yes"
                                                   " -o UserKnownHostsFile=%s" % (tmp_path / "known_hosts")}}},
    }}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(hosts), encoding="utf-8")
    return path


def test_report_playbook(tmp_path, named, directory):
    # The registry deactivated sipkd; the server still answers for its www: drift.
    named.raw_update(("add", "www.sipkd", 3600, "CNAME", "sipkd.bekasikota.go.id."))
    gateway = make_gateway(tmp_path / "gateway")
    out, state_dir = tmp_path / "reports", tmp_path / "state"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CITY_STATE_DIR=str(state_dir), CITY_PLAN_DIR=str(tmp_path / "plan"))
    proc = subprocess.run([tool("ansible-playbook"), "-i", str(inventory(tmp_path, named, directory, gateway)),
                           PLAYBOOK, "-e", "report__dir=%s" % out, "-e", "report__year=2026"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert named.read_secret not in proc.stdout
    assert named.secret not in proc.stdout and directory.passwords[directory.toolkit_dn] not in proc.stdout

    # The state read is kept, a failed read with its reason.
    state = {name: json.loads((out / "state" / name).read_text()) for name in os.listdir(out / "state")}
    assert set(state) == {"dns-dnstest.json", "mail-ldaptest.json", "sms-smstest.json", "sms-smsdown.json"}
    assert "unreachable" in state["sms-smsdown.json"]["error"]
    assert not any(s.get("error") for n, s in state.items() if n != "sms-smsdown.json")
    drift = {(c["name"], c["type"]): c["action"] for c in state["dns-dnstest.json"]["changes"]}
    assert drift[("www.sipkd.bekasikota.go.id.", "CNAME")] == "delete"
    assert drift[("dinkes.bekasikota.go.id.", "A")] == "add", "the zone was never applied"
    assert {a["address"] for a in state["mail-ldaptest.json"]["accounts"]} >= {"setda@bekasikota.go.id"}
    assert [b["blast_id"] for b in state["sms-smstest.json"]["recap"]["blasts"]] == [BLAST]

    # Every report, the reads attributed to their owners.
    for name in ("index.html", "renewal.html", "renewal.csv", "mail-accounts.html", "mail-accounts.csv",
                 "sms-recap.html", "sms-blasts.csv", "domain-2026/city.html", "domain-2026/BPKAD.html",
                 "domain-2026/BPKAD-drift.csv"):
        assert (out / name).is_file(), name
    bpkad = (out / "domain-2026" / "BPKAD-drift.csv").read_text(encoding="utf-8")
    assert "www.sipkd.bekasikota.go.id." in bpkad
    assert "www.sipkd" not in (out / "domain-2026" / "DINKES-drift.csv").read_text(encoding="utf-8")
    assert "could not be read" in (out / "sms-recap.html").read_text(encoding="utf-8")

    # Reading is not changing: the run's audit trail holds its start and end, no change.
    records = [json.loads(line) for line in (state_dir / "audit-trail.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["run-start", "run-end"], records

    # Offline, from the state the run kept: the same tables.
    again = tmp_path / "again"
    cli = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "city-report"), "--output", str(again),
                          "--state", str(out / "state"), "--trail", str(state_dir / "audit-trail.jsonl"),
                          "--year", "2026"], capture_output=True, text=True, timeout=300, check=False)
    assert cli.returncode == 0, cli.stderr
    for name in ("mail-accounts.csv", "sms-blasts.csv", "sms-keywords.csv", "domain-2026/city-subdomains.csv",
                 "domain-2026/city-drift.csv", "domain-2026/BPKAD-drift.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
