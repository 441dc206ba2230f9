"""Production reaches its hosts only after checking their SSH host keys against the inventory.

A real sshd on 127.0.0.1 plays a production host: the tests connect to it with
Ansible, the project's ansible.cfg and inventory/production's own SSH settings
(group_vars/all/main.yml copied as it is), and a known_hosts that pins its key, pins
another key (an impersonated host), pins nothing, or trusts a host certificate
authority. Where the key is not the pinned one, nothing reaches the host: the task's
file is not written, sshd logs no authentication, and known_hosts learns nothing.
"""
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from paths import ROOT
from server_process import ServerProcess, free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HOST = "ns1.example.org"
pytestmark = pytest.mark.skipif(not os.path.exists(SSHD), reason="openssh-server is in debian-packages.txt")


def keygen(path, *extra):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", os.path.basename(path), "-f", str(path),
                    *extra], check=True, capture_output=True, timeout=30)
    return str(path)


class Sshd(ServerProcess):
    """sshd in the foreground on a loopback port, root logging in with the test's key only."""

    name = "sshd"

    def __init__(self, workdir, host_key, client_public_key, certificate=None):
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copy(client_public_key, authorized)
        lines = ["Port %d" % self.port, "ListenAddress 127.0.0.1", "HostKey %s" % host_key,
                 "PidFile %s/sshd.pid" % self.dir, "AuthorizedKeysFile %s" % authorized,
                 "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                 "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel VERBOSE",
                 "Subsystem sftp internal-sftp"]
        if certificate:
            lines.append("HostCertificate %s" % certificate)
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        # sshd's privilege separation needs its directory, as the package's service makes it.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    def command(self):
        return [SSHD, "-D", "-e", "-f", self.config]

    def ready(self):
        return subprocess.run(["ssh-keyscan", "-T", "2", "-p", str(self.port), "127.0.0.1"], capture_output=True,
                              timeout=10, check=False).stdout.strip() != b""

    def authentications(self):
        return self.log().count("Accepted publickey")


@pytest.fixture
def keys(tmp_path):
    folder = tmp_path / "keys"
    folder.mkdir()
    return {"host": keygen(folder / "host"), "impostor": keygen(folder / "impostor"),
            "client": keygen(folder / "client"), "ca": keygen(folder / "host_ca")}


def inventory(tmp_path, port, client_key, known_hosts):
    """inventory/production's settings for every host (group_vars/all), its one host at 127.0.0.1:port."""
    inv = tmp_path / "inventory"
    inv.mkdir()
    shutil.copytree(os.path.join(ROOT, "inventory", "production", "group_vars", "all"), inv / "group_vars" / "all")
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {HOST: {
        "ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "root", "ansible_become": False,
        "ansible_ssh_private_key_file": client_key, "ansible_python_interpreter": sys.executable}}}}))
    (inv / "known_hosts").write_text(known_hosts)
    return inv


def ansible(tmp_path, inv, marker, **env_extra):
    """Ansible writes a file on the host: proof that it connected and ran a module there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               # No master connection: none outlives the case or serves the next one.
               ANSIBLE_SSH_ARGS="-o ControlMaster=no -o ControlPersist=no", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "remote-tmp"), **env_extra)
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "-i", str(inv), HOST,
                           "-m", "ansible.builtin.copy", "-a", "dest=%s content=a-secret-of-the-vault" % marker],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def public(path):
    with open(path + ".pub") as fh:
        return " ".join(fh.read().split()[:2])


def run_case(tmp_path, keys, known_hosts, host_key=None, certificate=None, **env_extra):
    server = Sshd(tmp_path / "sshd", host_key or keys["host"], keys["client"] + ".pub", certificate).start()
    try:
        inv = inventory(tmp_path, server.port, keys["client"], known_hosts)
        marker = tmp_path / "marker"
        proc = ansible(tmp_path, inv, marker, **env_extra)
        return proc, marker.exists(), server.authentications(), (inv / "known_hosts").read_text()
    finally:
        server.stop()


def test_the_pinned_host_key_lets_ansible_in(tmp_path, keys):
    proc, written, auths, _ = run_case(tmp_path, keys, "%s %s\n" % (HOST, public(keys["host"])))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert written and auths >= 1


def test_an_impersonated_host_receives_nothing(tmp_path, keys):
    """The host answers at the right address with another key: refused before authentication."""
    pinned = "%s %s\n" % (HOST, public(keys["host"]))
    proc, written, auths, after = run_case(tmp_path, keys, pinned, host_key=keys["impostor"])
    assert proc.returncode != 0
    assert "Host key verification failed" in proc.stdout + proc.stderr
    assert not written and auths == 0
    assert after == pinned


def test_an_unknown_host_is_refused_and_not_learned(tmp_path, keys):
    proc, written, auths, after = run_case(tmp_path, keys, "")
    assert proc.returncode != 0
    assert "Host key verification failed" in proc.stdout + proc.stderr
    assert not written and auths == 0
    assert after == ""


def test_the_address_alone_is_not_trusted(tmp_path, keys):
    """The key is checked under the inventory name: a key pinned for the address does not count."""
    proc, written, auths, _ = run_case(tmp_path, keys, "127.0.0.1 %s\n" % public(keys["host"]))
    assert proc.returncode != 0 and not written and auths == 0


def _certificate(keys, principal):
    subprocess.run(["ssh-keygen", "-q", "-s", keys["ca"], "-h", "-I", "test-host", "-n", principal, "-V", "-5m:+1h",
                    keys["host"] + ".pub"], check=True, capture_output=True, timeout=30)
    return keys["host"] + "-cert.pub"


def test_a_host_certificate_authority_vouches_for_its_hosts(tmp_path, keys):
    certificate = _certificate(keys, HOST)
    proc, written, auths, _ = run_case(tmp_path, keys, "@cert-authority *.example.org %s\n" % public(keys["ca"]),
                                       certificate=certificate)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert written and auths >= 1


def test_a_certificate_for_another_host_is_refused(tmp_path, keys):
    certificate = _certificate(keys, "ldap1.example.org")
    proc, written, auths, _ = run_case(tmp_path, keys, "@cert-authority *.example.org %s\n" % public(keys["ca"]),
                                       certificate=certificate)
    assert proc.returncode != 0 and not written and auths == 0


def _validate(tmp_path, keys, **env_extra):
    inv = inventory(tmp_path, 22, keys["client"], "")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", **env_extra)
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv),
                           os.path.join(ROOT, "playbooks", "validate.yml")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("env_extra", [{"ANSIBLE_HOST_KEY_CHECKING": "False"},
                                       {"ANSIBLE_SSH_ARGS": "-o StrictHostKeyChecking=no"}],
                         ids=["checking-off", "ssh-args-say-no"])
def test_a_run_with_host_key_checking_off_stops_before_any_host(tmp_path, keys, env_extra):
    """Turning the check off (a tired operator's environment variable) stops every playbook's first play."""
    proc = _validate(tmp_path, keys, **env_extra)
    assert proc.returncode != 0
    assert "SSH host keys would not be verified" in proc.stdout
    assert HOST in proc.stdout


def test_the_production_settings_pass_the_check(tmp_path, keys):
    proc = _validate(tmp_path, keys)
    assert proc.returncode == 0, proc.stdout[-3000:]
