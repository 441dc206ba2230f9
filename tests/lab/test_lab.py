"""The lab, for real: playbooks/lab.yml builds and runs podman containers.

Runs a separate lab (container prefix ``citylab-test-``, host ports shifted by
10000) so that a developer's running lab is left alone, and removes it at the
end. Needs root, podman, runc and debootstrap; the first run builds the base
image (a few minutes). Select with ``pytest -m lab tests/lab``.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from registry_edit import edit as edit_registry
from registry_poison import fired, plant

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventory" / "lab"
PLAYBOOK = ROOT / "playbooks" / "lab.yml"
SECRETS = INVENTORY / "group_vars" / "all" / "vault.yml"

PREFIX = os.environ.get("LAB_TEST_PREFIX", "citylab-test-")
PORT_OFFSET = int(os.environ.get("LAB_TEST_PORT_OFFSET", "10000"))
EXTRA_VARS = ["-e", f"lab__name_prefix={PREFIX}", "-e", f"lab__port_offset={PORT_OFFSET}"]

FIRST_RUN_TIMEOUT = 1800  # may build the base image
SITE_TIMEOUT = 1800  # installs bind9, slapd and gammu in fresh containers
RUN_TIMEOUT = 600
PODMAN_TIMEOUT = 120

RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def _lab_hosts():
    """Lab hosts and their publish specs, read from inventory/lab/hosts.yml."""
    data = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    hosts = {}

    def walk(group):
        for name, hostvars in (group.get("hosts") or {}).items():
            hosts[name] = list((hostvars or {}).get("lab__ports", []))
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(data["all"]["children"]["lab_hosts"])
    return hosts


LAB_HOSTS = _lab_hosts()


def _tool(name):
    venv_tool = Path(sys.executable).parent / name
    return str(venv_tool) if venv_tool.exists() else (shutil.which(name) or name)


def _env():
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(ROOT / "lab" / "containers.conf")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env.pop("ANSIBLE_CONFIG", None)  # use the project's ansible.cfg
    return env


def _run(cmd, timeout):
    return subprocess.run(
        cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def playbook(*args, timeout=RUN_TIMEOUT):
    result = _run([_tool("ansible-playbook"), str(PLAYBOOK), *EXTRA_VARS, *args], timeout)
    assert result.returncode == 0, f"ansible-playbook failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result


def recap(result):
    return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP_RE.finditer(result.stdout)}


def podman(*args, check=True):
    result = _run(["podman", *args], PODMAN_TIMEOUT)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
    return result


def container(host):
    return f"{PREFIX}{host}"


def container_state(host):
    result = podman("container", "inspect", "--format", "{{.State.Status}}", container(host), check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def other_containers():
    """Containers that are not this test's, with their state."""
    out = podman("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()
            if line.strip() and not line.startswith(PREFIX)}


def secrets_fingerprint():
    if not SECRETS.exists():
        return None
    stat = SECRETS.stat()
    return stat.st_mtime_ns, hashlib.sha256(SECRETS.read_bytes()).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def lab_environment():
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (rootful podman, debootstrap)")
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    others = other_containers()
    yield
    # Always tear the test lab down, whatever failed.
    try:
        _run([_tool("ansible-playbook"), str(PLAYBOOK), *EXTRA_VARS, "-e", "lab__state=absent"], RUN_TIMEOUT)
    finally:
        for host in LAB_HOSTS:
            _run(["podman", "rm", "--force", "--ignore", container(host)], PODMAN_TIMEOUT)
    # Containers others start meanwhile (a molecule run) are theirs; the ones that
    # were there before must be there still, in the same state.
    after = other_containers()
    assert {name: after.get(name) for name in others} == others, \
        "the test touched containers that are not its own"


STATE = {}


def test_inventory_defines_the_lab_groups():
    assert set(LAB_HOSTS) == {"dns1", "ldap1", "sms1"}
    for specs in LAB_HOSTS.values():
        for spec in specs:
            assert spec.startswith("127.0.0.1:"), spec


def test_start():
    before = secrets_fingerprint()
    result = playbook(timeout=FIRST_RUN_TIMEOUT)
    hosts = recap(result)
    assert set(hosts) == {"localhost", *LAB_HOSTS}
    assert all(h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values())
    if before is not None:
        assert secrets_fingerprint() == before, "an existing secrets file was rewritten"
    STATE["secrets"] = secrets_fingerprint()


def test_secrets_file_is_vault_encrypted():
    """Each value on its own, with the vault id plan or apply (scripts/vault-file-check)."""
    assert SECRETS.exists()
    check = _run([str(ROOT / "scripts" / "vault-file-check"), str(SECRETS)], RUN_TIMEOUT)
    assert check.returncode == 0, check.stderr
    assert SECRETS.stat().st_mode & 0o077 == 0
    assert {"vault_dns_transfer_secret", "vault_ldap_reader_password"} <= set(_lab_vault_values())


def _lab_vault_values():
    """The lab vault's values, decrypted with the two lab passwords of scripts/vault-client."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))
    passwords = []
    for vault_id in ("plan", "apply"):
        client = _run([str(ROOT / "scripts" / "vault-client"), "--vault-id", vault_id], RUN_TIMEOUT)
        assert client.returncode == 0, client.stderr
        passwords.append((vault_id, VaultSecret(client.stdout.strip().encode())))
    lib = VaultLib(passwords)

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return lib.decrypt(value.encode()).decode()
    return plain(yaml.load(SECRETS.read_text(), Loader=Loader))  # noqa: S506


def test_start_again_changes_nothing():
    result = playbook()
    hosts = recap(result)
    assert set(hosts) == {"localhost", *LAB_HOSTS}
    for host, counts in hosts.items():
        assert counts["changed"] == 0, f"{host} changed on the second run:\n{result.stdout[-6000:]}"
    assert secrets_fingerprint() == STATE["secrets"], "the secrets file was rewritten"


@pytest.fixture(scope="module")
def operate(tmp_path_factory):
    """A registry copy to edit, and the run's own lock, trail, plan and mail files."""
    base = tmp_path_factory.mktemp("operate")
    shutil.copytree(ROOT / "inventory" / "registry", base / "registry")
    env = {"CITY_STATE_DIR": str(base / "state"), "CITY_PLAN_DIR": str(base / "plan"), "CITY_OPERATOR": "lab-test"}
    extra = ["-e", f"registry_dir={base / 'registry'}"]
    for name in ("handover", "archive", "warnings"):
        var = {"warnings": "warning_spool"}.get(name, name)
        extra += ["-e", f"mail_apply__{var}_dir={base / 'mail' / name}"]
    return {"base": base, "env": env, "extra": extra, "trail": base / "state" / "audit-trail.jsonl",
            "plan": base / "plan" / "plan.json"}


def site(operate, playbook_name, *args, timeout=SITE_TIMEOUT):
    cmd = [_tool("ansible-playbook"), str(ROOT / "playbooks" / playbook_name), *EXTRA_VARS, *operate["extra"], *args]
    result = subprocess.run(cmd, cwd=ROOT, env=dict(_env(), **operate["env"]), capture_output=True, text=True,
                            timeout=timeout, check=False)
    failures = "\n".join(line[:3000] for line in result.stdout.splitlines() if line.startswith(("fatal:", "failed:")))
    assert result.returncode == 0, \
        f"{playbook_name} failed:\n{failures}\n...\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result


def trail_changes(operate, run_id):
    records = [json.loads(line) for line in operate["trail"].read_text().splitlines()]
    return [r for r in records if r["run"] == run_id and r["event"] == "change"], records


KEY = ("module", "host", "object", "action")


def test_site_applies_the_registry_and_the_plan_after_it_is_empty(operate):
    applied = site(operate, "site.yml")
    assert "Audit trail (" in applied.stderr
    plan = site(operate, "plan.yml", "--check", "--diff")
    doc = json.loads(operate["plan"].read_text())
    assert doc["complete"] and doc["empty"], (doc["errors"], doc["changes"][:20], plan.stdout[-4000:])
    assert "Plan (no changes)" in plan.stderr


def test_plan_after_a_registry_edit_lists_exactly_what_the_apply_changes(operate):
    edited = edit_registry(operate["base"] / "registry")
    site(operate, "plan.yml", "--check", "--diff")
    plan = json.loads(operate["plan"].read_text())
    assert plan["complete"] and not plan["empty"]
    site(operate, "site.yml")
    run_id = [json.loads(line) for line in operate["trail"].read_text().splitlines()][-1]["run"]
    applied, records = trail_changes(operate, run_id)
    assert sorted(tuple(c[k] for k in KEY) for c in plan["changes"]) == \
        sorted(tuple(r[k] for k in KEY) for r in applied)
    by_module = {(r["module"], r["action"]): r for r in applied}
    assert by_module[("dns_zone", "add")]["object"] == f"{edited['dns']}.bekasikota.go.id. TXT"
    assert by_module[("mail_accounts", "deactivate")]["object"] == edited["mail"]
    # The plan (run with --diff) shows the phonebook's changed line; the apply changed that file.
    phonebook = [r for r in plan["changes"] if r["host"] == "sms1" and "phonebook" in r["object"].lower()]
    assert phonebook and any("6281829340252" in line for line in phonebook[0]["after"]), phonebook
    assert any(r["host"] == "sms1" and r["object"] == phonebook[0]["object"] for r in applied)
    for planned in plan["changes"]:
        if planned["module"] in ("dns_zone", "mail_accounts"):
            match = [r for r in applied if tuple(r[k] for k in KEY) == tuple(planned[k] for k in KEY)][0]
            assert (match["before"], match["after"]) == (planned["before"], planned["after"])
    start = [r for r in records if r["run"] == run_id and r["event"] == "run-start"][0]
    assert start["operator"] == "lab-test" and start["playbook"] == "playbooks/site.yml"
    assert [r["status"] for r in records if r["run"] == run_id and r["event"] == "run-end"] == ["ok"]
    # The targets' syslog has the summary of this run.
    logged = podman("exec", container("dns1"), "journalctl", "-t", "city-toolkit", "--no-pager").stdout
    assert f"run {run_id} by lab-test" in logged and "DNS zone applied: add 1" in logged
    # No secret of the lab reached the plan or the trail.
    written = operate["trail"].read_text() + operate["plan"].read_text()
    for value in _secret_values(_lab_vault_values()):
        assert value not in written, "a lab secret reached the plan or the trail"


def _secret_values(data):
    if isinstance(data, dict):
        for value in data.values():
            yield from _secret_values(value)
    elif isinstance(data, list):
        for value in data:
            yield from _secret_values(value)
    elif data is not None and len(str(data)) >= 8:  # a 4-digit PIN would match timestamps
        yield str(data)


# Validation bypassed: the test plays an attacker whose merge request is planned (or,
# after a careless review, applied) with a registry the validator would refuse.
BYPASS = ["-e", json.dumps({"registry_validation": {"ok": True, "summary": {}, "errors": [], "warnings": []}})]


def _run_poisoned(operate, registry, playbook_name, *args):
    cmd = [_tool("ansible-playbook"), str(ROOT / "playbooks" / playbook_name), *EXTRA_VARS, *operate["extra"],
           "-e", f"registry_dir={registry}", *BYPASS, *args]
    env = dict(_env(), **operate["env"])
    env.update(CITY_STATE_DIR=str(registry.parent / "state"), CITY_PLAN_DIR=str(registry.parent / "plan"))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SITE_TIMEOUT,
                          check=False)


def test_planted_lookups_never_run(operate, tmp_path):
    """A lookup planted in every registry file runs nowhere: not in the plan of a merge
    request, not in an apply, not in the reports, not in a blast (docs/security.md)."""
    canary = tmp_path / "canary"
    free_text = tmp_path / "free-text" / "registry"
    shutil.copytree(operate["base"] / "registry", free_text)
    # A blast to send (not archived), so that blast.yml reads and checks one.
    archived = (free_text / "blasts" / "archive" / "2026-11-001.yml").read_text()
    (free_text / "blasts" / "2026-12-900.yml").write_text(archived.replace("2026-11-001", "2026-12-900"))
    assert len(plant(free_text, canary)) >= 8  # every file of the registry, blasts included
    everything = tmp_path / "everything" / "registry"
    shutil.copytree(operate["base"] / "registry", everything)
    plant(everything, canary, everything=True)

    # Free text poisoned: every play runs to its end, so every value reaches its destination.
    checked = _run_poisoned(operate, free_text, "site.yml", "--check", "--diff")
    assert fired(canary) == [], checked.stdout[-3000:]
    hosts = recap(checked)
    assert {"dns1", "ldap1", "sms1"} <= set(hosts), checked.stdout[-3000:]
    assert all(hosts[h]["unreachable"] == 0 for h in hosts), hosts
    reported = _run_poisoned(operate, free_text, "report.yml", "-e", f"report__dir={tmp_path / 'reports'}")
    assert fired(canary) == [], reported.stdout[-3000:]
    assert reported.returncode == 0, reported.stdout[-3000:]
    blasted = _run_poisoned(operate, free_text, "blast.yml")
    assert fired(canary) == [], blasted.stdout[-3000:]
    # Identifiers poisoned too: plays fail early, but nothing is evaluated on the way.
    planned = _run_poisoned(operate, everything, "plan.yml", "--check", "--diff")
    assert fired(canary) == [], planned.stdout[-3000:]
    # The poisoned values went all the way as text (the mail plan's display names, the
    # refused blast's text): the test exercised the paths it claims to.
    assert "lookup('ansible.builtin.pipe'" in (free_text.parent / "plan" / "plan.json").read_text()
    assert "2026-12-900" in blasted.stdout


@pytest.mark.parametrize("host", sorted(LAB_HOSTS))
def test_container_runs_systemd(host):
    assert container_state(host) == "running"
    result = podman("exec", container(host), "systemctl", "is-system-running", check=False)
    assert result.stdout.strip() in ("running", "degraded"), result.stdout + result.stderr


@pytest.mark.parametrize("host", sorted(LAB_HOSTS))
def test_ports_published_on_loopback_only(host):
    expected = set()
    for spec in LAB_HOSTS[host]:
        ip, host_port, container_port = spec.split(":", 2)
        if "/" not in container_port:
            container_port += "/tcp"
        expected.add((container_port, ip, int(host_port) + PORT_OFFSET))
    published = set()
    for line in podman("port", container(host)).stdout.splitlines():
        if not line.strip():
            continue
        container_port, _, binding = line.partition(" -> ")
        ip, _, port = binding.strip().rpartition(":")
        assert ip == "127.0.0.1", f"{host}: {line!r} is not bound to 127.0.0.1 only"
        published.add((container_port.strip(), ip, int(port)))
    assert published == expected


def test_ansible_reaches_lab_hosts_through_podman():
    result = _run(
        [_tool("ansible"), "lab_hosts", "-m", "ansible.builtin.ping", *EXTRA_VARS], RUN_TIMEOUT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for host in LAB_HOSTS:
        assert re.search(rf"^{host} \| SUCCESS", result.stdout, re.MULTILINE), result.stdout
    assert result.stdout.count('"pong"') == len(LAB_HOSTS)


def test_stop():
    playbook("-e", "lab__state=stopped")
    for host in LAB_HOSTS:
        assert container_state(host) in ("exited", "stopped"), host
    hosts = recap(playbook("-e", "lab__state=stopped"))
    assert all(h["changed"] == 0 for h in hosts.values()), hosts


def test_absent():
    playbook("-e", "lab__state=absent")
    for host in LAB_HOSTS:
        assert container_state(host) is None, host
    image = podman("image", "exists", "localhost/citylab-debian:bookworm", check=False)
    assert image.returncode == 0, "the base image must be kept"
    hosts = recap(playbook("-e", "lab__state=absent"))
    assert all(h["changed"] == 0 for h in hosts.values()), hosts
