"""The validator as people and CI use it: the command, the playbooks, blast signing."""
import json
import os
import subprocess
import sys

from approval_fixtures import ACTIVE_BLAST
from paths import EXAMPLE, ROOT
from mutate import Edit, line_of

VENV_BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
           ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def run(*args, timeout=300):
    return subprocess.run(list(args), cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def break_pool(registry):
    Edit("domain.yml", "value: 192.0.2.41}", "value: 203.0.113.41}").apply(registry)
    return line_of(registry, "domain.yml", "203.0.113.41")


def test_command_accepts_the_example_registry():
    proc = run(sys.executable, "bin/registry-validate", "--summary")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "registry valid: 0 error(s)" in proc.stdout
    assert '"main_domain": "bekasikota.go.id"' in proc.stdout


def test_command_rejects_with_position_rule_and_article(registry):
    line = break_pool(registry)
    proc = run(sys.executable, "bin/registry-validate", str(registry))
    assert proc.returncode == 1
    assert ":%d:" % line in proc.stdout and "error [D8-POOL] Perwal Kota Bekasi 17/2023 Pasal 24" \
        in proc.stdout
    assert "fix: " in proc.stdout and "registry INVALID: 1 error(s)" in proc.stdout


def test_command_json_for_machines(registry):
    break_pool(registry)
    proc = run(sys.executable, "bin/registry-validate", "--format", "json", str(registry))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False and report["errors"] == 1
    (finding,) = [f for f in report["findings"] if f["severity"] == "error"]
    assert finding["rule"] == "D8-POOL" and finding["requirement"] == "D8"
    assert finding["path"] == "subdomains/%s/records/0/value" % finding["path"].split("/")[1]


def test_command_usage_error():
    proc = run(sys.executable, "bin/registry-validate", "/nonexistent/registry")
    assert proc.returncode == 2


def test_site_playbook_stops_at_validation_and_applies_nothing(registry):
    line = break_pool(registry)
    proc = run("ansible-playbook", "playbooks/site.yml", "--limit", "localhost", "-e",
               "registry_dir=%s" % registry)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "registry INVALID: 1 error(s)" in out and ":%d:" % line in out and "[D8-POOL]" in out
    assert "Show the registry summary" not in out, "a play ran after validation failed"


def test_site_playbook_reports_the_summary_of_a_valid_registry():
    # The servers' plays have their own tests (tests/dns, molecule); here: the controller.
    proc = run("ansible-playbook", "playbooks/site.yml", "--limit", "localhost")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Show the registry summary" in out and "bekasikota.go.id" in out
    assert "changed=0" in out


def test_validate_playbook_in_check_mode(registry):
    break_pool(registry)
    proc = run("ansible-playbook", "--check", "playbooks/validate.yml", "-e", "registry_dir=%s" % registry)
    assert proc.returncode != 0 and "[D8-POOL]" in proc.stdout + proc.stderr


def test_blast_sign_round_trip(signed_registry, approval, tmp_path):
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "sms_approval.yml").write_text(json.dumps(
        {"sms_approval__root": approval.root}), encoding="utf-8")
    registry = signed_registry
    blast = registry / ACTIVE_BLAST
    Edit(ACTIVE_BLAST, "Terima kasih.", "Terima kasih atas perhatiannya.").apply(registry)

    def validate_rc():
        return run(sys.executable, "bin/registry-validate", "--inventory", str(inventory),
                   str(registry)).returncode

    assert validate_rc() == 1, "the old signature must not cover the new text"
    proc = run(sys.executable, "bin/blast-sign", str(blast), approval.ketua.private)
    assert proc.returncode == 0, proc.stderr
    assert validate_rc() == 0
    assert run(sys.executable, "bin/blast-sign", str(blast), approval.other.private).returncode == 0
    assert validate_rc() == 1, "a key that is not pinned must not approve"
    Edit(ACTIVE_BLAST, "    expires:", "    # expires:").apply(registry)
    proc = run(sys.executable, "bin/blast-sign", str(blast), approval.ketua.private)
    assert proc.returncode == 2 and "has no approval.expires" in proc.stderr
    assert os.path.exists(EXAMPLE)


def test_the_format_reference_lists_every_rule():
    from ansible.module_utils.city.registry import validate  # noqa: F401 (registers the rules)
    from ansible.module_utils.city.registry.rules.base import RULES
    assert len(RULES) > 40
    with open(os.path.join(ROOT, "docs", "registry-format.md"), encoding="utf-8") as fh:
        doc = fh.read()
    assert [r.id for r in RULES if "`%s`" % r.id not in doc] == []
