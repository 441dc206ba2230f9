"""The registry is data: no playbook, role or inventory evaluates a registry string.

The fast half of docs/security.md's first promise (the lab half, every playbook
against the real servers, is tests/lab/test_lab.py::test_planted_lookups_never_run):

* a positive control: the payloads of tests/registry_poison.py do run when a file is
  read the way Ansible trusts (``include_vars``), so a test that finds no canary
  proves something;
* the project's lookup ``city_registry`` returns the same file as inert data;
* no playbook, role, inventory or molecule file reads the registry any other way.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paths import EXAMPLE, ROOT
from registry_poison import fired, plant

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def _play(tmp_path, tasks):
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                 "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(book)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def poisoned(tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLE, registry)
    canary = tmp_path / "canary"
    assert plant(registry, canary)
    return registry, canary


def test_include_vars_would_run_the_payload(poisoned, tmp_path):
    registry, canary = poisoned
    result = _play(tmp_path, [
        {"ansible.builtin.include_vars": {"file": str(registry / "sms.yml"), "name": "r"}},
        {"ansible.builtin.debug": {"msg": "{{ r.groups[0].description }}"}},
    ])
    assert len(fired(canary)) == 3, "the payloads must be live for the other tests to mean anything:\n" \
        + result.stdout[-3000:]


def test_city_registry_returns_the_payload_as_text(poisoned, tmp_path):
    registry, canary = poisoned
    result = _play(tmp_path, [
        {"ansible.builtin.set_fact": {
            "r": "{{ lookup('city_registry', 'sms.yml', registry_dir='%s') }}" % registry,
            "blasts": "{{ query('city_registry', 'blasts/*.yml', registry_dir='%s', with_names=true) }}"
                      % registry,
            "raw": "{{ lookup('city_registry', 'domain.yml', registry_dir='%s', raw=true) }}" % registry}},
        {"ansible.builtin.debug": {"msg": "{{ r.groups[0].description }} {{ raw[:20] }}"}},
        {"ansible.builtin.copy": {"content": "{{ r | to_nice_json }}", "dest": str(tmp_path / "out.json"),
                                  "mode": "0600"}},
        {"ansible.builtin.template": {"src": str(tmp_path / "t.j2"), "dest": str(tmp_path / "out.txt"),
                                      "mode": "0600"}},
    ]) if (tmp_path / "t.j2").write_text("{{ r.groups[0].description }}\n") else None
    assert result.returncode == 0, result.stdout[-3000:]
    assert fired(canary) == []
    written = json.loads((tmp_path / "out.json").read_text())
    assert "lookup('ansible.builtin.pipe'" in written["groups"][0]["description"]
    assert "lookup('ansible.builtin.pipe'" in (tmp_path / "out.txt").read_text()


def test_city_registry_stays_inside_the_registry(tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLE, registry)
    (registry / "outside.yml").symlink_to("/etc/hostname")
    result = _play(tmp_path, [{"ansible.builtin.debug": {
        "msg": "{{ lookup('city_registry', 'outside.yml', registry_dir='%s') }}" % registry}}])
    assert result.returncode != 0 and "leaves the registry directory" in result.stdout
    result = _play(tmp_path, [{"ansible.builtin.debug": {
        "msg": "{{ lookup('city_registry', '../registry/sms.yml', registry_dir='%s') }}" % registry}}])
    assert result.returncode != 0 and "not a name inside the registry" in result.stdout


# Reading a file the trusted way: include_vars / vars_files, or the text of a file
# turned into data by from_yaml / from_json (data a reviewer reads as YAML, not code).
TRUSTED_READ = re.compile(r"include_vars|vars_files|from_yaml|from_json|lookup\(\s*['\"](?:ansible\.builtin\.)?file['\"]")
# The lab role reads its own generated secrets file: not registry data.
ALLOWED = {("roles/lab/tasks/secrets.yml", "include_vars")}


def _yaml_files():
    for top in ("playbooks", "roles", "inventory", "examples"):
        for path in sorted(Path(ROOT, top).rglob("*")):
            if path.suffix in (".yml", ".yaml", ".j2") and path.is_file():
                yield path


def test_nothing_reads_the_registry_but_city_registry():
    offenders = []
    for path in _yaml_files():
        rel = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for match in TRUSTED_READ.finditer(line):
                if (rel, match.group(0)) in ALLOWED:
                    continue
                if not match.group(0).startswith(("include_vars", "vars_files")) and "registry" not in line:
                    continue  # a command's output or an inventory file, not the registry
                offenders.append("%s:%d: %s" % (rel, number, line.strip()))
                break
    assert offenders == [], "read the registry with lookup('city_registry', ...) only:\n" + "\n".join(offenders)
