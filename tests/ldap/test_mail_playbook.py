"""The mail modules run by ansible-playbook, as AnsiballZ payloads, not in-process.

The other tests run a module's file directly; this one proves the module works
where it really runs (no controller-only import), that an agency's e-mail officer
opens their hand-over file with the age command and their own key, and that nothing
secret reaches the playbook's output.
"""
import json
import os
import subprocess
import sys

import yaml
import handover_files
from paths import ROOT

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mail_apply.yml")


def tool(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def run_playbook(slapd, registry, workdir):
    handover_files.keyring().give(registry)
    extra = workdir / "vars.json"
    extra.write_text(json.dumps({
        "test_registry": str(registry), "test_uri": slapd.uri, "test_bind_dn": slapd.toolkit_dn,
        "test_bind_password": slapd.passwords[slapd.toolkit_dn], "test_ca_file": slapd.ca_file,
        "test_dir": str(workdir)}))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([tool("ansible-playbook"), "-i", "localhost,", PLAYBOOK, "-e", "@" + str(extra)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with open(workdir / "results.json", encoding="utf-8") as fh:
        return json.load(fh), proc.stdout + proc.stderr


def test_playbook_applies_then_changes_nothing(slapd, registry, tmp_path):
    first, output = run_playbook(slapd, registry, tmp_path)
    applied = first["applied"]
    assert applied["changed"] and applied["plan"]["create"] > 100
    assert applied["handover_files"]

    # An agency's e-mail officer opens their hand-over file with the age command and their
    # own private key, nothing of Ansible's: age -d -i KEY FILE.
    with open(registry / "agencies.yml", encoding="utf-8") as fh:
        officers = {a["mail_admin"] for a in yaml.safe_load(fh)["agencies"] if a.get("mail_admin")}
    path = next(p for p in applied["handover_files"] if handover_files.recipient(p) in officers)
    person = handover_files.recipient(path)
    admin_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    view = subprocess.run([handover_files.AGE, "-d", "-i", handover_files.keyring().identity(person), path],
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=admin_env)
    assert view.returncode == 0, view.stderr
    handed = json.loads(view.stdout)["credentials"]
    assert handed and {c["agency"] for c in handed}
    # ...and a password in it really binds to its (active) account.
    with open(registry / "mail.yml", encoding="utf-8") as fh:
        active = {a["address"] for a in yaml.safe_load(fh)["accounts"] if a["status"] == "active"}
    item = next(c for c in handed if c["address"] in active)
    assert slapd.whoami("uid=%s,%s" % (item["address"].split("@")[0], slapd.base), item["password"]) == 0
    for item in handed:
        assert item["password"] not in output

    second, _ = run_playbook(slapd, registry, tmp_path)
    assert not second["applied"]["changed"]
    assert second["applied"]["plan"] == {k: 0 for k in applied["plan"]}
    assert second["unused"]["queued"] == []  # queued once per period, by the first run
    assert first["unused"]["queued"]
