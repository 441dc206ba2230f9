"""Apply what was reviewed (issue 14, item 3): a plan carries a checksum, and an apply given
the reviewed plan changes nothing when the registry or the servers no longer give that plan.

The unit part proves plan_check on records; the end-to-end part runs the real named on
loopback with the role dns_server's configuration (role_servers.py) and the lab's
group_vars and vault generator, as tests/operate/test_readonly_plan.py does, and runs the
very command `make site PLAN=...` runs (scripts/apply-reviewed, read from `make -n`):

* the registry changed again after the review: refused, the new record named, nothing applied;
* the zone changed by hand after the review: refused, the record named, nothing applied;
* nothing changed since the review: applied, the DNS answers show the reviewed record;
* the module itself (``reviewed_plan``, module_utils/city/service/base.py) refuses a zone
  changed after the review, after its read and before any UPDATE.
"""
import copy
import json
import os
import secrets as random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest
import yaml

from ansible.module_utils.city.operate import plan_check, plan_doc
from ansible.module_utils.city.operate.masking import MASK
from module_runner import run_module
from role_servers import ZONE, RoleNamed, named_variables, render_named

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LAB = ROOT / "inventory" / "lab"
SKIP = ["--skip-tags", "city_server,city_sms_blast"]


def record(obj="dinkes.%s. TXT" % ZONE, action="add", before=(), after=('"v=spf1 -all"',), **extra):
    out = {"module": "dns_zone", "host": "dns1", "task": "Apply domain.yml", "object": obj, "action": action,
           "before": list(before) if isinstance(before, tuple) else before,
           "after": list(after) if isinstance(after, tuple) else after, "status": "ok"}
    out.update(extra)
    return out


# The sections the toolkit's modules declare (their result's city.section), with the part of
# the plan that covers each (None: every plan).
SECTIONS = {"dns_zone": {"title": "DNS records", "what": "records", "object": "Record set", "part": None},
            "mail_accounts": {"title": "Mail accounts", "what": "accounts", "object": "Account", "part": None},
            "mail_unused": {"title": "Warnings", "what": "warnings", "object": "Warning", "part": None},
            "sms_blast": {"title": "SMS blasts", "what": "blasts", "object": "Blast", "part": "city_sms_blast"}}


def write_plan(directory, records, errors=(), not_planned=(), run="20261204T010000Z-0123abcd"):
    doc = plan_doc.document({"run": run, "started": "2026-12-04T01:00:00+00:00", "operator": "test",
                             "playbook": "playbooks/plan.yml", "inventory": ["inventory/lab"],
                             "not_planned": plan_doc.not_planned(not_planned)}, records, errors=errors,
                            sections=SECTIONS)
    plan_doc.write(str(directory), doc)
    return Path(directory) / "plan.json", doc


# -------------------------------------------------------------------- unit ---

def test_checksum_ignores_what_differs_from_run_to_run():
    one = [record(), record("setda.%s. TXT" % ZONE, "change", ['"a"'], ['"b"'])]
    other = [dict(r, task="Apply domain.yml (run 20261204T020000Z-89abcdef)", status="failed", run="x",
                  created="now") for r in reversed(copy.deepcopy(one))]
    assert plan_check.checksum(one) == plan_check.checksum(other)
    assert plan_check.checksum(one).startswith("sha256:") and len(plan_check.checksum(one)) == 7 + 64
    # A run id inside a generic task's name (its object) does not count either.
    generic = [record("Write config (run 20261204T010000Z-0123abcd)", "change", module="template")]
    again = [record("Write config (run 20261205T101010Z-fedcba98)", "change", module="template")]
    assert plan_check.checksum(generic) == plan_check.checksum(again)
    # Tuples and lists, key order: the JSON a plan file holds is what counts.
    assert plan_check.checksum([dict(record(), after=('"v=spf1 -all"',))]) == plan_check.checksum([record()])


@pytest.mark.parametrize("field, value", [("after", ['"v=spf1 ~all"']), ("before", ['"x"']), ("action", "change"),
                                          ("object", "www.%s. TXT" % ZONE), ("host", "dns2"),
                                          ("target", "zone %s. on 127.0.0.1:53" % ZONE), ("module", "other")])
def test_checksum_covers_what_an_apply_does(field, value):
    assert plan_check.checksum([dict(record(), **{field: value})]) != plan_check.checksum([record()])


def test_masked_values_stay_masked():
    one = record("kepala@%s" % ZONE, "reset", {}, {}, module="mail_accounts")
    one["after"] = {"password": "(handed over)", "ticket": "T-1"}
    two = dict(one, after={"password": "another", "ticket": "T-1"})
    assert plan_check.canonical([one])[0]["after"]["password"] == MASK
    assert plan_check.checksum([one]) == plan_check.checksum([two])
    text = json.dumps(plan_check.canonical([dict(record(), after=["password = hunter2-secret"])]))
    assert "hunter2" not in text and MASK in text


def test_differences_say_what_is_new_gone_and_changed():
    reviewed = [record(), record("setda.%s. TXT" % ZONE, "change", ['"a"'], ['"b"']),
                record("old.%s. A" % ZONE, "delete", ["192.0.2.1"], [])]
    now = [record(), record("setda.%s. TXT" % ZONE, "change", ['"by hand"'], ['"b"']),
           record("extra.%s. TXT" % ZONE, "add", [], ['"second"'])]
    lines = plan_check.differences(reviewed, now)
    assert len(lines) == 3, lines
    new = [line for line in lines if line.startswith("new since the review")]
    gone = [line for line in lines if line.startswith("gone since the review")]
    changed = [line for line in lines if line.startswith("changed since the review")]
    assert new == ['new since the review: dns_zone on dns1: extra.%s. TXT: add - -> ["second"]' % ZONE]
    assert gone and "old.%s. A: delete [192.0.2.1] -> -" % ZONE in gone[0]
    assert changed and 'reviewed change ["a"] -> ["b"]; now change ["by hand"] -> ["b"]' in changed[0]
    assert plan_check.differences(reviewed, list(reversed(reviewed))) == []
    # Long values are cut; many differences are counted, not listed.
    long = [record("x%d.%s. TXT" % (i, ZONE), after=['"%s"' % ("y" * 500)]) for i in range(30)]
    lines = plan_check.differences([], long, limit=5)
    assert len(lines) == 6 and lines[-1] == "... and 25 more difference(s)"
    assert all(len(line) < 200 for line in lines)
    # A registry value cannot drive the operator's terminal.
    hostile = plan_check.differences([], [record("evil.%s. TXT" % ZONE, after=['"\x1b[2Jcleared"'])])
    assert "\x1b" not in hostile[0] and "\\x1b[2Jcleared" in hostile[0]
    # The same record twice on one side, once on the other.
    assert plan_check.differences([record()], [record(), record()])[0].startswith("new since the review")


def test_a_plan_carries_its_checksum_and_says_how_to_apply_it(tmp_path):
    path, doc = write_plan(tmp_path, [record()])
    assert doc["checksum"] == plan_check.checksum([record()])
    assert json.loads(path.read_text())["checksum"] == doc["checksum"]
    markdown = (tmp_path / "plan.md").read_text()
    assert doc["checksum"] in markdown and "make site PLAN=" in markdown
    assert plan_check.load_reviewed(str(path))["checksum"] == doc["checksum"]


def test_load_reviewed_refuses_what_cannot_be_applied_as_reviewed(tmp_path):
    good, _ = write_plan(tmp_path / "good", [record()])
    cases = {}
    cases["missing"] = tmp_path / "none.json"
    (tmp_path / "junk.json").write_text("{not json")
    cases["junk"] = tmp_path / "junk.json"
    (tmp_path / "other.json").write_text(json.dumps({"v": 1, "changes": "x"}))
    cases["other"] = tmp_path / "other.json"
    doc = json.loads(good.read_text())
    del doc["checksum"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    cases["old"] = tmp_path / "old.json"
    cases["incomplete"], _ = write_plan(tmp_path / "incomplete", [record()], errors=[
        {"host": "dns1", "task": "Apply domain.yml", "msg": "timed out"}])
    doc = json.loads(good.read_text())
    doc["changes"][0]["after"] = ['"edited after the review"']
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    cases["edited"] = tmp_path / "edited.json"
    messages = {}
    for name, path in cases.items():
        with pytest.raises(plan_check.PlanCheckError) as caught:
            plan_check.load_reviewed(str(path))
        messages[name] = str(caught.value)
    assert "cannot be read" in messages["missing"] and "cannot be read" in messages["junk"]
    assert "not a plan of this toolkit" in messages["other"]
    assert "carries no checksum" in messages["old"]
    assert "incomplete" in messages["incomplete"] and "Apply domain.yml on dns1" in messages["incomplete"]
    assert "changed after it was made" in messages["edited"]


def test_section_is_one_module_and_target_whatever_the_host():
    here, there = "zone %s. on 127.0.0.1:53" % ZONE, "zone other. on 127.0.0.1:53"
    doc = {"changes": [record(target=here), record("a.other. A", target=there), record("b.%s. A" % ZONE),
                       record("kepala@%s" % ZONE, "create", module="mail_accounts")],
           "not_planned": plan_doc.not_planned(["city_server", "city_sms_blast"]), "sections": SECTIONS}
    # Records with no target (plans made before modules named one) belong to every target.
    assert [r["object"] for r in plan_check.section(doc, "dns_zone", here)] == \
        ["dinkes.%s. TXT" % ZONE, "b.%s. A" % ZONE]
    assert len(plan_check.section(doc, "dns_zone")) == 3
    assert plan_check.section(doc, "mail_unused", "x") == []
    assert plan_check.section(doc, "sms_blast", "x") is None, "the read-only plan left the blasts out"
    assert plan_check.section(doc, "template", "x") is None
    # What a module builds at apply time: no host, no task, its own masking.
    own = [{"object": "dinkes.%s. TXT" % ZONE, "action": "add", "before": [], "after": ['"v=spf1 -all"']},
           {"object": "b.%s. A" % ZONE, "action": "add", "before": [], "after": ['"v=spf1 -all"']}]
    assert plan_check.compare_section(doc, "dns_zone", here, own) == []
    lines = plan_check.compare_section(doc, "dns_zone", here, own[:1])
    assert len(lines) == 1 and lines[0].startswith("gone since the review") and "b.%s. A" % ZONE in lines[0]
    assert plan_check.compare_section(doc, "sms_blast", here, own) is None
    # As the module base does it: its records with module and target, no host.
    mine = [dict(r, module="dns_zone", target=here) for r in own]
    reviewed = plan_check.section(doc, "dns_zone", here)
    assert all("host" not in r and r["target"] == here for r in reviewed)
    assert plan_check.differences(reviewed, mine) == []
    assert plan_check.checksum(reviewed) == plan_check.checksum(mine)
    moved = plan_check.differences(reviewed, [dict(mine[0], after=['"v=spf1 ~all"']), mine[1]])
    assert len(moved) == 1 and moved[0].startswith("changed since the review: dns_zone (%s)" % here)
    # A part the reviewed plan left out: nothing to hold the module to.
    assert plan_check.differences(plan_check.section(doc, "sms_blast", "x"), mine) == []


def test_compare_covers_what_both_plans_cover(tmp_path):
    server = record("Write named.conf", "change", module="template")
    _, reviewed = write_plan(tmp_path / "r", [record()], not_planned=["city_server", "city_sms_blast"])
    _, full = write_plan(tmp_path / "f", [record(), server])
    same, lines = plan_check.compare(reviewed, full)
    assert same, lines
    _, moved = write_plan(tmp_path / "m", [record(after=['"v=spf1 ~all"']), server])
    same, lines = plan_check.compare(reviewed, moved)
    assert not same and any("changed since the review" in line for line in lines)
    _, narrower = write_plan(tmp_path / "n", [record()], not_planned=["city_server", "city_sms_blast"])
    same, lines = plan_check.compare(full, narrower)
    assert same and any("not compared" in line and "city_server" in line for line in lines)


def plan_check_command(*args):
    return subprocess.run([sys.executable, str(ROOT / "bin" / "plan-check"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_plan_check_command_exit_status(tmp_path):
    reviewed, _ = write_plan(tmp_path / "r", [record()])
    same, _ = write_plan(tmp_path / "s", [dict(record(), task="another name")], run="20261204T020000Z-89abcdef")
    moved, _ = write_plan(tmp_path / "m", [record(), record("extra.%s. TXT" % ZONE)])
    proc = plan_check_command(reviewed, same)
    assert proc.returncode == 0 and "the same changes as reviewed" in proc.stdout, proc.stdout + proc.stderr
    proc = plan_check_command(reviewed, moved)
    assert proc.returncode == 1 and "new since the review" in proc.stdout and "extra.%s. TXT" % ZONE in proc.stdout
    proc = plan_check_command(tmp_path / "nothing.json", moved)
    assert proc.returncode == 2 and "refused" in proc.stderr


# ------------------------------------------------------------- end to end ---

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """named on loopback from the role's configuration, holding the example registry; an
    inventory of the lab's group_vars and vault (a DNS primary only: the apply of this test
    is the registry's DNS records)."""
    tmp = tmp_path_factory.mktemp("reviewed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CITY_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_VAULT_PASSWORD_PLAN="plan-" + random.token_hex(16),
               ANSIBLE_VAULT_PASSWORD_APPLY="apply-" + random.token_hex(16),
               CITY_STATE_DIR=str(tmp / "state"), CITY_OPERATOR="reviewed-plan-test")
    registry = tmp / "inv" / "registry"
    shutil.copytree(ROOT / "inventory" / "registry", registry)
    inventory = tmp / "inv" / "test"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(LAB / "group_vars" / "dns_primary.yml", inventory / "group_vars" / "dns_primary.yml")
    for path in (LAB / "group_vars" / "all").iterdir():
        if path.name != "vault.yml":
            shutil.copy(path, inventory / "group_vars" / "all" / path.name)
    vault = inventory / "group_vars" / "all" / "vault.yml"
    made = subprocess.run([sys.executable, str(ROOT / "roles" / "lab" / "files" / "lab_secrets.py"), "--file",
                           str(vault), "--client", str(ROOT / "scripts" / "vault-client")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    secrets = decrypt(vault, env)
    # The module runs on the control node (delegate_to); the primary's syslog summary
    # goes to this machine's syslog: no SSH in this test.
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "control": {"hosts": {"localhost": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable}}},
        "dns_primary": {"hosts": {"dns1": {"ansible_connection": "local",
                                           "ansible_python_interpreter": sys.executable}}}}}}))
    domain = yaml.safe_load((registry / "domain.yml").read_text())["domain"]
    rendered = render_named(tmp / "named", named_variables(secrets, domain))
    named = RoleNamed(rendered).start()
    overrides = tmp / "overrides.json"
    overrides.write_text(json.dumps({"registry_dir": str(registry), "dns_apply__port": named.port}))
    state = {"tmp": tmp, "env": env, "registry": registry, "inventory": inventory, "secrets": secrets,
             "named": named, "overrides": overrides, "original": (registry / "domain.yml").read_text()}
    try:
        result = run_module("dns_zone", dict(dns_args(state), registry_dir=str(registry)))
        assert not result.get("failed"), result.get("msg")
        yield state
    finally:
        named.stop()


def decrypt(vault, env):
    from ansible.parsing.vault import VaultLib, VaultSecret

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))
    lib = VaultLib([(k, VaultSecret(env["ANSIBLE_VAULT_PASSWORD_" + k.upper()].encode())) for k in ("plan", "apply")])
    values = yaml.load(vault.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader plus !vault
    return {k: lib.decrypt(v.encode()).decode() for k, v in values.items() if isinstance(v, str)}


def dns_args(state):
    # The DKIM key as playbooks/dns.yml passes it (the lab's group_vars/all/mail.yml).
    return dict(server="127.0.0.1", port=state["named"].port, key_name="toolkit-update",
                key_secret=state["secrets"]["vault_dns_tsig_secret"],
                dkim_public_keys={"city2026": state["secrets"]["vault_mail_dkim_public_key"]})


def txt(state, name):
    """The TXT strings at ``name`` in the zone, as the real named answers."""
    query = dns.message.make_query("%s.%s." % (name, ZONE), dns.rdatatype.TXT)
    answer = dns.query.tcp(query, "127.0.0.1", port=state["named"].port, timeout=5)
    return sorted(b"".join(rdata.strings).decode() for rrset in answer.answer for rdata in rrset)


def update(state, *ops):
    """An UPDATE signed with the test's update key, as someone changing the zone by hand."""
    keyring = dns.tsigkeyring.from_text({"toolkit-update": ("hmac-sha256", state["secrets"]["vault_dns_tsig_secret"])})
    message = dns.update.UpdateMessage(ZONE + ".", keyring=keyring, keyname="toolkit-update")
    for verb, *rest in ops:
        getattr(message, verb)(*rest)
    assert dns.query.tcp(message, "127.0.0.1", port=state["named"].port, timeout=5).rcode() == 0


def add_txt(state, value, name="dinkes"):
    """The registry change: a TXT record for the subdomain ``name``."""
    path = state["registry"] / "domain.yml"
    text = path.read_text()
    anchor = {"dinkes": "      - {type: A, value: 192.0.2.41}\n"}[name]
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + '      - {type: TXT, value: "%s"}\n' % value, 1))


def make_lines(target, **variables):
    proc = subprocess.run(["make", "-s", "-n", target] + ["%s=%s" % kv for kv in variables.items()], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return proc.stdout.replace("\\\n", " ").splitlines()


def reviewed_plan(state, name):
    """The plan the reviewers read: `make plan-readonly`, as the merge request's plan job runs it."""
    plan_dir = state["tmp"] / ("reviewed-" + name)
    shutil.rmtree(plan_dir, ignore_errors=True)
    lines = [line for line in make_lines("plan-readonly", INVENTORY=state["inventory"]) if "ansible-playbook" in line]
    assert len(lines) == 1, lines
    command = [str(Path(sys.executable).parent / "ansible-playbook")] + shlex.split(lines[0])[1:]
    proc = subprocess.run(command + ["-e", "@" + str(state["overrides"])], cwd=ROOT,
                          env=dict(state["env"], CITY_PLAN_DIR=str(plan_dir)), capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    return plan_dir / "plan.json"


def apply_reviewed(state, plan):
    """What `make site PLAN=<plan>` runs to apply (read from the Makefile), with the test's
    servers and registry, and without the server configuration (it would configure this machine)."""
    lines = [line for line in make_lines("site", PLAN=plan, INVENTORY=state["inventory"])
             if "scripts/apply-reviewed" in line]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    assert "ansible-playbook" not in lines[0] and words[0] == "scripts/apply-reviewed"
    command = [sys.executable, str(ROOT / words[0])] + words[1:] + ["-e", "@" + str(state["overrides"])] + SKIP
    env = dict(state["env"], CITY_PLAN_DIR=str(state["tmp"] / "after-apply"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    return proc, proc.stdout + proc.stderr


def applies(state):
    """The applies recorded in the audit trail (a plan records none)."""
    path = state["tmp"] / "state" / "audit-trail.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r["run"] for r in map(json.loads, lines) if r["event"] == "run-start"]


@pytest.fixture
def fresh(lab):
    """The registry as the servers hold it, and the zone back to the registry."""
    (lab["registry"] / "domain.yml").write_text(lab["original"])
    result = run_module("dns_zone", dict(dns_args(lab), registry_dir=str(lab["registry"]), force=True))
    assert not result.get("failed"), result.get("msg")
    assert txt(lab, "dinkes") == []
    return lab


def test_a_registry_changed_after_the_review_is_not_applied(fresh):
    add_txt(fresh, "v=spf1 -all")
    plan = reviewed_plan(fresh, "registry")
    doc = json.loads(plan.read_text())
    assert doc["checksum"] == plan_check.checksum(doc["changes"]) and doc["readonly"]
    assert [(r["object"], r["action"]) for r in doc["changes"]] == [("dinkes.%s. TXT" % ZONE, "add")]
    # Another merge after the review: a second TXT record.
    add_txt(fresh, "google-site-verification=abc123")
    before = applies(fresh)
    proc, output = apply_reviewed(fresh, plan)
    assert proc.returncode == 1, output[-6000:]
    assert "NOT the plan that was reviewed" in output and "refused, nothing applied" in output
    assert "changed since the review" in output and "google-site-verification=abc123" in output
    assert proc.stdout.count("PLAY [Apply the registry") == 1, "the plan's play, never the apply's"
    assert applies(fresh) == before, "no apply started"
    assert txt(fresh, "dinkes") == [], "nothing applied"
    assert not (fresh["tmp"] / "after-apply").exists()


def test_a_zone_changed_after_the_review_is_not_applied(fresh):
    add_txt(fresh, "v=spf1 -all")
    plan = reviewed_plan(fresh, "server")
    # Someone changes an owned record on the server after the review.
    update(fresh, ("replace", "setda", 3600, "TXT", '"changed by hand"'))
    before = applies(fresh)
    proc, output = apply_reviewed(fresh, plan)
    assert proc.returncode == 1, output[-6000:]
    assert "NOT the plan that was reviewed" in output
    lines = [line.strip() for line in output.splitlines()
             if line.strip().startswith(("new since", "gone since", "changed since"))]
    assert len(lines) == 1 and "setda.%s. TXT" % ZONE in lines[0] and "changed by hand" in lines[0], lines
    assert txt(fresh, "dinkes") == [], "nothing applied"
    assert txt(fresh, "setda") == ["changed by hand"], "not even the hand change was undone"
    assert applies(fresh) == before, "no apply started"


def test_a_tampered_plan_is_not_applied(fresh):
    add_txt(fresh, "v=spf1 -all")
    plan = reviewed_plan(fresh, "tampered")
    doc = json.loads(plan.read_text())
    doc["changes"][0]["after"] = ['"v=spf1 +all"']
    plan.write_text(json.dumps(doc))
    proc, output = apply_reviewed(fresh, plan)
    assert proc.returncode == 2 and "changed after it was made" in output, output[-4000:]
    assert "PLAY [" not in proc.stdout, "not even a plan was made"
    assert txt(fresh, "dinkes") == []


def test_the_reviewed_plan_is_applied_when_nothing_changed(fresh):
    add_txt(fresh, "v=spf1 -all")
    plan = reviewed_plan(fresh, "unchanged")
    proc, output = apply_reviewed(fresh, plan)
    assert proc.returncode == 0, output[-8000:]
    assert "the same changes as reviewed" in output
    assert txt(fresh, "dinkes") == ["v=spf1 -all"]
    # The apply was the reviewed one: its trail records the reviewed change and no other.
    trail = [json.loads(line) for line in (fresh["tmp"] / "state" / "audit-trail.jsonl").read_text().splitlines()]
    run = [r for r in trail if r["event"] == "run-start"][-1]["run"]
    assert [(r["module"], r["object"], r["action"]) for r in trail if r["run"] == run and r["event"] == "change"] \
        == [("dns_zone", "dinkes.%s. TXT" % ZONE, "add")]
    # And there is nothing left to change.
    result = run_module("dns_zone", dict(dns_args(fresh), registry_dir=str(fresh["registry"])), check=True)
    assert result["changes"] == []


def test_the_module_itself_holds_to_the_reviewed_plan(fresh):
    """The check inside the module, after it read the zone and before it changes it: what
    happens between bin/plan-check and the apply is caught there."""
    add_txt(fresh, "v=spf1 -all")
    plan = reviewed_plan(fresh, "module")
    update(fresh, ("replace", "setda", 3600, "TXT", '"changed by hand"'))
    args = dict(dns_args(fresh), registry_dir=str(fresh["registry"]), reviewed_plan=str(plan))
    refused = run_module("dns_zone", args)
    assert refused.get("failed") and "nothing applied" in refused["msg"], refused.get("msg")
    assert "setda.%s. TXT" % ZONE in refused["msg"] and "changed by hand" in refused["msg"]
    assert txt(fresh, "dinkes") == [] and txt(fresh, "setda") == ["changed by hand"]
    # The plan of this state, reviewed, is applied by the module.
    plan = reviewed_plan(fresh, "module-again")
    applied = run_module("dns_zone", dict(args, reviewed_plan=str(plan)))
    assert not applied.get("failed"), applied.get("msg")
    assert txt(fresh, "dinkes") == ["v=spf1 -all"] and txt(fresh, "setda") != ["changed by hand"]
