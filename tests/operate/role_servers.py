"""named and slapd on 127.0.0.1, configured by the roles' own templates and variables.

``render()`` runs tests/operate/playbooks/render_roles.yml, which renders what the
roles dns_server and ldap_directory would write on a server (the TSIG keys, the
zone's update and transfer rules, the initial zone; the skeleton of cn=config with
the access rules and limits, the entries and service accounts) for the secrets of a
test's vault. RoleNamed and RoleSlapd then run the real servers from that: the
tests prove the roles' settings, not a copy of them. Only what ties a server to a
machine is replaced: paths, listening ports, the run user.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

from server_process import ServerProcess, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RENDER = HERE / "playbooks" / "render_roles.yml"
SUFFIX = "dc=bekasikota,dc=go,dc=id"
ZONE = "bekasikota.go.id"
# The tests need the behaviour of argon2, not its cost.
TEST_ARGON2 = "m=1024 t=1 p=1"


def render(out, secrets, registry_domain):
    """Render the roles' configuration into ``out`` for ``secrets`` (the vault's values)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {
        "out": str(out),
        # dns_server, as playbooks/dns_server.yml and the lab inventory set it.
        "dns_server__zone": registry_domain["name"],
        "dns_server__nameservers": registry_domain["nameservers"],
        "dns_server__default_ttl": registry_domain["default_ttl"],
        "dns_server__ns_addresses": {"ns1.bekasikota.go.id.": ["192.0.2.53"], "ns2.bekasikota.go.id.": ["198.51.100.53"]},
        "dns_server__notify": "no",
        "dns_server__tsig_key_name": "toolkit-update",
        "dns_server__tsig_secret": secrets["vault_dns_tsig_secret"],
        "dns_server__transfer_key_name": "toolkit-transfer",
        "dns_server__transfer_key_secret": secrets["vault_dns_transfer_secret"],
        "dns_server__zone_file": str(out / "db.zone"),
        "_dns_server__key_file": str(out / "keys.conf"),
        # ldap_directory, as playbooks/ldap_server.yml and the lab inventory set it.
        "ldap_directory__suffix": SUFFIX,
        "ldap_directory__admin_password": secrets["vault_ldap_admin_password"],
        "ldap_directory__toolkit_password": secrets["vault_ldap_toolkit_password"],
        "ldap_directory__mailserver_password": secrets["vault_ldap_mailserver_password"],
        "ldap_directory__reader_password": secrets["vault_ldap_reader_password"],
        "ldap_directory__db_directory": str(out / "ldap-db"),
        "ldap_directory__tls_dir": str(out / "tls"),
        "ldap_directory__argon2_parameters": TEST_ARGON2,
        "ldap_directory__log_level": "none",
    }
    path = out / "render-vars.json"
    path.write_text(json.dumps(extra))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CITY_STATE_DIR=str(out / "render-state"), CITY_PLAN_DIR=str(out / "render-plan"),
               # No vault is read here (the secrets come as extra variables): any
               # password keeps the vault client from making lab ones.
               ANSIBLE_VAULT_PASSWORD_PLAN="render-unused-plan", ANSIBLE_VAULT_PASSWORD_APPLY="render-unused-apply")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           str(RENDER), "-e", "@" + str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    path.unlink()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return out


class RoleNamed(ServerProcess):
    """named with the role's key file and zone declaration (named.conf.local)."""

    name = "named"

    def __init__(self, rendered):
        self.dir = str(rendered)
        self.port = free_port()
        self.zone = ZONE + "."
        named_conf = os.path.join(self.dir, "named.conf")
        with open(named_conf, "w") as fh:
            # The options are the machine's (paths, port); the keys and the zone's
            # update and transfer rules are the role's, included as it writes them.
            fh.write("""options {
  directory "%(dir)s";
  pid-file "%(dir)s/named.pid";
  listen-on port %(port)d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-query { any; };
  allow-transfer { none; };
  allow-update { none; };
};
controls { };
include "%(dir)s/named.conf.local";
""" % {"dir": self.dir, "port": self.port})
        self.conf = named_conf

    def command(self):
        return [shutil.which("named") or "/usr/sbin/named", "-g", "-c", self.conf, "-u", "root"]

    def ready(self):
        q = dns.message.make_query(self.zone, "SOA")
        return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=2).rcode() == dns.rcode.NOERROR


def hash_password(password):
    out = subprocess.run(["slappasswd", "-o", "module-load=argon2 " + TEST_ARGON2, "-h", "{ARGON2}",
                          "-T", "/dev/stdin"], input=password, capture_output=True, text=True, check=True,
                         timeout=30)
    return out.stdout.strip()


def self_signed(directory):
    """A certificate for 127.0.0.1 where the role keeps its own (server.crt, server.key)."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", os.path.join(directory, "server.key"), "-out", os.path.join(directory, "server.crt")],
                   check=True, capture_output=True, timeout=60)
    return os.path.join(directory, "server.crt")


def _ldif_value(name, value):
    text = str(value)
    if not text or text[0] in " :<" or text[-1] == " " or any(ord(c) < 32 or ord(c) > 126 for c in text):
        return "%s:: %s" % (name, base64.b64encode(text.encode("utf-8")).decode("ascii"))
    return "%s: %s" % (name, text)


def _entry(dn, attributes):
    lines = [_ldif_value("dn", dn)]
    for name, values in attributes.items():
        for value in values if isinstance(values, list) else [values]:
            lines.append(_ldif_value(name, value))
    return "\n".join(lines) + "\n"


class RoleSlapd(ServerProcess):
    """slapd from the role's cn=config skeleton, with the entries the role creates."""

    name = "slapd"

    def __init__(self, rendered):
        self.dir = str(rendered)
        self.port = free_port()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.socket = os.path.join(self.dir, "ldapi")
        self.ldapi = "ldapi://" + urllib.parse.quote(self.socket, safe="")
        with open(os.path.join(self.dir, "ldap_directory.json")) as fh:
            self.role = json.load(fh)
        self.ca_file = self_signed(os.path.join(self.dir, "tls"))
        os.makedirs(os.path.join(self.dir, "ldap-db"), exist_ok=True)
        with open(os.path.join(self.dir, "config.ldif")) as fh:
            config = fh.read()
        # Where this machine keeps slapd's run files; everything else is the role's.
        config = config.replace("olcArgsFile: /var/run/slapd/slapd.args",
                                "olcArgsFile: %s/slapd.args" % self.dir)
        config = config.replace("olcPidFile: /var/run/slapd/slapd.pid", "olcPidFile: %s/slapd.pid" % self.dir)
        path = os.path.join(self.dir, "config-local.ldif")
        with open(path, "w") as fh:
            fh.write(config)
        slapd_d = os.path.join(self.dir, "slapd.d")
        os.makedirs(slapd_d, exist_ok=True)
        subprocess.run(["slapadd", "-n", "0", "-F", slapd_d, "-l", path], check=True, capture_output=True,
                       timeout=60)
        self.passwords = {a["dn"]: a["password"] for a in self.role["service_accounts"]}
        entries = [_entry(e["dn"], dict(e["attributes"], objectClass=e["objectClass"]))
                   for e in self.role["base_entries"]]
        for policy in self.role["policies"]:
            values = {k: str(v).upper() if isinstance(v, bool) else str(v) for k, v in policy["values"].items()}
            entries.append(_entry(policy["dn"], dict(values, objectClass=["top", "device", "pwdPolicy"],
                                                     cn=policy["cn"], description=policy["description"],
                                                     pwdAttribute="userPassword")))
        for account in self.role["service_accounts"]:
            entries.append(_entry(account["dn"], {
                "objectClass": ["top", "organizationalRole", "simpleSecurityObject"], "cn": account["cn"],
                "description": account["description"], "userPassword": hash_password(account["password"]),
                "pwdPolicySubentry": self.role["service_policy_dn"]}))
        path = os.path.join(self.dir, "entries.ldif")
        with open(path, "w") as fh:
            fh.write("\n".join(entries))
        subprocess.run(["slapadd", "-n", "1", "-F", slapd_d, "-l", path], check=True, capture_output=True,
                       timeout=60)
        self.slapd_d = slapd_d

    def command(self):
        return [shutil.which("slapd") or "/usr/sbin/slapd", "-d", "0", "-F", self.slapd_d,
                "-h", "%s/ %s" % (self.uri, self.ldapi), "-u", "root"]

    def ready(self):
        dn = self.role["toolkit_dn"]
        return subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", dn, "-w", self.passwords[dn]],
                              capture_output=True, timeout=10, check=False).returncode == 0

    def config_values(self, dn, attribute):
        """The values of ``attribute`` of the cn=config entry ``dn``, read over ldapi as root."""
        proc = subprocess.run(["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-Y", "EXTERNAL", "-H", self.ldapi,
                               "-b", dn, "-s", "base", attribute], capture_output=True, text=True, timeout=30,
                              check=True)
        values = []
        for line in proc.stdout.splitlines():
            if line.startswith(attribute + ": "):
                values.append(line[len(attribute) + 2:])
            elif line.startswith(attribute + ":: "):
                values.append(base64.b64decode(line[len(attribute) + 3:]).decode("utf-8"))
        return values
