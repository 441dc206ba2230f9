"""The lab, for real: playbooks/lab.yml builds and runs podman containers.

Runs a separate lab (container prefix ``citylab-test-``, host ports shifted by
10000) so that a developer's running lab is left alone, and removes it at the
end. Needs root, podman, runc and debootstrap; the first run builds the base
image (a few minutes). Select with ``pytest -m lab tests/lab``.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventory" / "lab"
PLAYBOOK = ROOT / "playbooks" / "lab.yml"
SECRETS = INVENTORY / "group_vars" / "all" / "vault.yml"

PREFIX = os.environ.get("LAB_TEST_PREFIX", "citylab-test-")
PORT_OFFSET = int(os.environ.get("LAB_TEST_PORT_OFFSET", "10000"))
EXTRA_VARS = ["-e", f"lab__name_prefix={PREFIX}", "-e", f"lab__port_offset={PORT_OFFSET}"]

FIRST_RUN_TIMEOUT = 1800  # may build the base image
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
    assert SECRETS.exists()
    assert SECRETS.read_text().startswith("$ANSIBLE_VAULT")
    assert SECRETS.stat().st_mode & 0o077 == 0


def test_start_again_changes_nothing():
    result = playbook()
    hosts = recap(result)
    assert set(hosts) == {"localhost", *LAB_HOSTS}
    for host, counts in hosts.items():
        assert counts["changed"] == 0, f"{host} changed on the second run:\n{result.stdout[-6000:]}"
    assert secrets_fingerprint() == STATE["secrets"], "the secrets file was rewritten"


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
