"""named and slapd on 127.0.0.1, configured by the roles' own templates and variables.

``render()`` runs tests/operate/playbooks/render_roles.yml, which renders what the
roles dns_server and ldap_directory would write on a server (the TSIG keys, the
zone's update policy, transfer and NOTIFY rules, the options with the rate limits,
the initial zone; render_named() the DNS part alone; the skeleton of cn=config with
the access rules and limits, the entries and service accounts) for the secrets of a
test's vault. RoleNamed and RoleSlapd then run the real servers from that: the
tests prove the roles' settings, not a copy of them. Only what ties a server to a
machine is replaced: paths, listening ports, the run user (and for slapd the
certificate: the session's test CA signs one for 127.0.0.1, test_tls()).
render_directory() renders the directory part alone, and directory_rendered() does it
once per test session for given secrets (tests/ldap/slapd_server.py's SlapdServer
runs every LDAP test's slapd from it).
"""
import atexit
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
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


def named_variables(secrets, registry_domain, **overrides):
    """The variables of the role dns_server for a named on 127.0.0.1 (``overrides`` win).

    The zone, its keys, update policy, transfer and NOTIFY rules, options and rate
    limits are the role's. Bound to the machine: every path is relative to named's
    working directory (RoleNamed runs each server in a directory of its own), it
    listens on 127.0.0.1 (its port is named's -p, per process), its control channel
    has a key of its own, and nothing is exempt from the rate limits: loopback is the
    tests' only client, which must see the limits the role sets.
    """
    variables = {
        "dns_server__zone": registry_domain["name"],
        "dns_server__nameservers": registry_domain["nameservers"],
        "dns_server__default_ttl": registry_domain["default_ttl"],
        "dns_server__ns_addresses": {"ns1.bekasikota.go.id.": ["192.0.2.53"],
                                     "ns2.bekasikota.go.id.": ["198.51.100.53"]},
        "dns_server__notify": "no",
        "dns_server__tsig_key_name": "toolkit-update",
        "dns_server__tsig_secret": secrets["vault_dns_tsig_secret"],
        "dns_server__transfer_key_name": "toolkit-transfer",
        "dns_server__transfer_key_secret": secrets["vault_dns_transfer_secret"],
        "dns_server__secondary_key_name": "toolkit-secondary",
        "dns_server__secondary_key_secret": secrets.get("vault_dns_secondary_secret", ""),
        "dns_server__zone_file": "db.zone",
        "_dns_server__key_file": "keys.conf",
        "dns_server__working_directory": ".",
        "dns_server__pid_file": "named.pid",
        "dns_server__rndc_key_file": "rndc.key",
        "dns_server__rndc_port": free_port(),
        "dns_server__listen_on": ["127.0.0.1"],
        "dns_server__listen_on_v6": ["none"],
        "dns_server__rate_limit_exempt_clients": [],
    }
    variables.update(overrides)
    return variables


def _run_render(out, variables, tags=None):
    """Run render_roles.yml for ``variables`` (extra variables: they win over the roles'
    defaults and vars), only the tasks tagged ``tags`` when given; returns ``out``."""
    path = out / "render-vars.json"
    path.write_text(json.dumps(variables))
    os.chmod(path, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CITY_STATE_DIR=str(out / "render-state"), CITY_PLAN_DIR=str(out / "render-plan"),
               # No vault is read here (the secrets come as extra variables): any
               # password keeps the vault client from making lab ones.
               ANSIBLE_VAULT_PASSWORD_PLAN="render-unused-plan", ANSIBLE_VAULT_PASSWORD_APPLY="render-unused-apply")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(RENDER),
                           *(["--tags", tags] if tags else []), "-e", "@" + str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    path.unlink()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return out


def render_named(out, variables):
    """Render the role dns_server alone (the tasks tagged dns) into ``out`` for ``variables``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return _run_render(out, dict(variables, out=str(out)), "dns")


def render(out, secrets, registry_domain):
    """Render the roles' configuration into ``out`` for ``secrets`` (the vault's values)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {
        "out": str(out),
        # dns_server, as playbooks/dns_server.yml and the lab inventory set it.
        **named_variables(secrets, registry_domain),
        # ldap_directory, as playbooks/ldap_server.yml and the lab inventory set it.
        "ldap_directory__suffix": SUFFIX,
        "ldap_directory__toolkit_password": secrets["vault_ldap_toolkit_password"],
        "ldap_directory__mailserver_password": secrets["vault_ldap_mailserver_password"],
        "ldap_directory__reader_password": secrets["vault_ldap_reader_password"],
        "ldap_directory__db_directory": str(out / "ldap-db"),
        "ldap_directory__tls_dir": str(out / "tls"),
        "ldap_directory__argon2_parameters": TEST_ARGON2,
        "ldap_directory__log_level": "none",
    }
    return _run_render(out, extra)


class RoleNamed(ServerProcess):
    """named from the role's rendered files: named.conf.options, named.conf.local, the keys, the zone.

    ``rendered`` is what render() or render_named() wrote. With ``workdir`` the server
    runs from a copy of it there (one rendering, many servers), else in ``rendered``.
    named.conf only includes the role's two files; the port is named's -p.
    """

    name = "named"
    FILES = ("named.conf.options", "named.conf.local", "keys.conf", "db.zone")

    def __init__(self, rendered, workdir=None, port=None):
        self.dir = str(workdir or rendered)
        os.makedirs(self.dir, exist_ok=True)
        if workdir is not None:
            for name in self.FILES:
                if os.path.exists(os.path.join(str(rendered), name)):
                    shutil.copy(os.path.join(str(rendered), name), os.path.join(self.dir, name))
        self.port = port or free_port()
        self.zone = ZONE + "."
        # The control channel's key, as the bind9 package makes /etc/bind/rndc.key.
        with open(os.path.join(self.dir, "rndc.key"), "w") as fh:
            subprocess.run(["tsig-keygen", "-a", "hmac-sha256", "rndc-key"], stdout=fh, check=True, timeout=30)
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as fh:
            fh.write('include "named.conf.options";\ninclude "named.conf.local";\n')

    def command(self):
        # Relative paths of the role's files resolve in self.dir: named runs there.
        return [shutil.which("env") or "/usr/bin/env", "-C", self.dir, shutil.which("named") or "/usr/sbin/named",
                "-g", "-c", self.conf, "-u", "root", "-p", str(self.port)]

    def ready(self):
        q = dns.message.make_query(self.zone, "SOA")
        return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=2).rcode() == dns.rcode.NOERROR


def _directory_variables(secrets, out):
    """The variables of the role ldap_directory for a slapd on 127.0.0.1, as the lab sets them."""
    return {
        "out": str(out),
        "ldap_directory__suffix": SUFFIX,
        "ldap_directory__toolkit_password": secrets["vault_ldap_toolkit_password"],
        "ldap_directory__mailserver_password": secrets["vault_ldap_mailserver_password"],
        "ldap_directory__reader_password": secrets["vault_ldap_reader_password"],
        "ldap_directory__db_directory": str(Path(out) / "ldap-db"),
        "ldap_directory__tls_dir": str(Path(out) / "tls"),
        "ldap_directory__argon2_parameters": TEST_ARGON2,
        "ldap_directory__log_level": "none",
    }


def render_directory(out, secrets):
    """Render the role ldap_directory alone (the tasks tagged ldap) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return _run_render(out, _directory_variables(secrets, out), "ldap")


# The secrets of the tests' directories (SlapdServer): fixed, so one rendering serves
# every test of a session.
DIRECTORY_SECRETS = {
    "vault_ldap_toolkit_password": "toolkit-Secret-1",
    "vault_ldap_mailserver_password": "mailserver-Secret-1",
    "vault_ldap_reader_password": "reader-Secret-1",
}
_SESSION = {}


def _session_dir():
    if "dir" not in _SESSION:
        _SESSION["dir"] = tempfile.mkdtemp(prefix="city-test-directory-")
        atexit.register(shutil.rmtree, _SESSION["dir"], True)
    return _SESSION["dir"]


def _role_files_digest():
    digest = hashlib.sha256()
    for top in (ROOT / "roles" / "ldap_directory", RENDER):
        for path in sorted(top.rglob("*") if top.is_dir() else [top]):
            if path.is_file() and "molecule" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def directory_rendered(secrets=None):
    """The role's rendered directory for ``secrets``, rendered once per test session.

    A rendering costs seconds (ansible-playbook); a server copies what it needs from
    it. Keyed by the role's files and the secrets, so a change of either renders again.
    """
    secrets = dict(DIRECTORY_SECRETS, **(secrets or {}))
    key = hashlib.sha256((_role_files_digest() + json.dumps(secrets, sort_keys=True)).encode()).hexdigest()[:16]
    if key not in _SESSION:
        _SESSION[key] = render_directory(Path(_session_dir()) / ("rendered-" + key), secrets)
    return _SESSION[key]


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def _issue(directory, name, subject, sans, ca=None):
    """A P-256 key and a certificate for ``subject``/``sans``, signed by ``ca`` (else by itself)."""
    key, crt = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as fh:
        fh.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                 "extendedKeyUsage=serverAuth\n" + ("subjectAltName=%s\n" % sans if sans else ""))
    if ca is None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-days", "2", "-subj", subject, "-keyout", key, "-out", crt, "-extensions", "v3",
                 "-config", _req_config(directory, name, ext))
    else:
        csr = os.path.join(directory, name + ".csr")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-subj", subject, "-keyout", key, "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", ca["crt"], "-CAkey", ca["key"], "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", crt)
    return {"crt": crt, "key": key}


def _req_config(directory, name, ext):
    path = os.path.join(directory, name + ".cnf")
    with open(ext) as fh:
        extensions = fh.read()
    with open(path, "w") as fh:
        fh.write("[req]\ndistinguished_name = dn\n[dn]\n[v3]\n" + extensions)
    return path


def test_tls():
    """The tests' TLS material, made once per session (P-256: cheap).

    ``ca``: the test CA, the ca_file of every client. ``server``: its certificate for
    127.0.0.1 and localhost, what every test slapd serves. ``evil``: signed by the
    same CA for CN=evil.example, naming neither. ``rogue``: self-signed for
    127.0.0.1, by no CA the clients know.
    """
    if "tls" not in _SESSION:
        directory = os.path.join(_session_dir(), "tls")
        os.makedirs(directory, mode=0o700)
        ca = {"crt": os.path.join(directory, "ca.crt"), "key": os.path.join(directory, "ca.key")}
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-days", "2", "-subj", "/CN=City toolkit test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", ca["key"], "-out", ca["crt"])
        _SESSION["tls"] = {
            "ca": ca,
            "server": _issue(directory, "server", "/CN=127.0.0.1", "IP:127.0.0.1,DNS:localhost", ca),
            "evil": _issue(directory, "evil", "/CN=evil.example", "", ca),
            "rogue": _issue(directory, "rogue", "/CN=127.0.0.1", "IP:127.0.0.1,DNS:localhost"),
        }
    return _SESSION["tls"]


test_tls.__test__ = False  # a helper, not a test, when a test module imports it


_HASHES = {}


def hash_password(password, argon2_parameters=TEST_ARGON2):
    """An {ARGON2} hash as slapd makes it (slappasswd with the argon2 module), once per session."""
    if (password, argon2_parameters) not in _HASHES:
        out = subprocess.run(["slappasswd", "-o", "module-load=argon2 " + argon2_parameters, "-h", "{ARGON2}",
                              "-T", "/dev/stdin"], input=password, capture_output=True, text=True, check=True,
                             timeout=30)
        _HASHES[(password, argon2_parameters)] = out.stdout.strip()
    return _HASHES[(password, argon2_parameters)]


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
    """slapd from the role's cn=config skeleton, with the entries the role creates.

    Everything slapd enforces is the role's: olcSecurity, the access rules, limits,
    ppolicy, argon2, TLS settings. Only what ties it to this machine changes: paths,
    the listeners (ldap:// on a free port of 127.0.0.1 and an ldapi socket of its
    own), the run user, and the certificate, the session's test one for 127.0.0.1
    (``tls``: "server"; "evil" or "rogue" serve the certificates no client may
    accept, see test_tls). With ``workdir`` the server runs there from a copy of
    ``rendered`` (one rendering, many servers). ``toolkit_limits=False`` and
    ``size_limit`` are variants for a test of a truncated read; ``argon2_parameters``
    for the benchmark.
    """

    name = "slapd"

    def __init__(self, rendered, workdir=None, tls="server", toolkit_limits=True, size_limit=None,
                 argon2_parameters=TEST_ARGON2):
        rendered = str(rendered)
        self.dir = str(workdir or rendered)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.ldaps_uri = "ldaps://127.0.0.1:%d" % free_port()
        self.socket = os.path.join(self.dir, "ldapi")
        self.ldapi = "ldapi://" + urllib.parse.quote(self.socket, safe="")
        with open(os.path.join(rendered, "ldap_directory.json")) as fh:
            self.role = json.load(fh)
        self.suffix = self.role.get("suffix", SUFFIX)
        self.base = self.role["accounts_dn"]
        self.toolkit_dn, self.reader_dn = self.role["toolkit_dn"], self.role["reader_dn"]
        self.mailserver_dn = self.role.get("mailserver_dn", "cn=mailserver,ou=system," + self.suffix)
        self.admin_dn = self.role.get("admin_dn", "cn=admin," + self.suffix)
        material = test_tls()
        self.ca_file = material["ca"]["crt"]
        os.makedirs(os.path.join(self.dir, "tls"), exist_ok=True)
        shutil.copy(material[tls]["crt"], os.path.join(self.dir, "tls", "server.crt"))
        shutil.copy(material[tls]["key"], os.path.join(self.dir, "tls", "server.key"))
        os.makedirs(os.path.join(self.dir, "ldap-db"), exist_ok=True)
        with open(os.path.join(rendered, "config.ldif")) as fh:
            config = fh.read()
        # Where this machine keeps slapd's files; everything else is the role's.
        config = config.replace(self.role.get("out", rendered), self.dir)
        config = config.replace("olcArgsFile: /var/run/slapd/slapd.args",
                                "olcArgsFile: %s/slapd.args" % self.dir)
        config = config.replace("olcPidFile: /var/run/slapd/slapd.pid", "olcPidFile: %s/slapd.pid" % self.dir)
        config = config.replace("argon2 " + TEST_ARGON2, "argon2 " + argon2_parameters)
        if not toolkit_limits:
            config = "\n".join(line for line in config.split("\n")
                               if not (line.startswith("olcLimits:") and self.toolkit_dn in line))
        if size_limit is not None:
            config = config.replace("olcDatabase: {1}mdb\n", "olcDatabase: {1}mdb\nolcSizeLimit: %d\n" % size_limit)
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
                "description": account["description"],
                "userPassword": hash_password(account["password"], argon2_parameters),
                "pwdPolicySubentry": self.role["service_policy_dn"]}))
        path = os.path.join(self.dir, "entries.ldif")
        with open(path, "w") as fh:
            fh.write("\n".join(entries))
        subprocess.run(["slapadd", "-n", "1", "-F", slapd_d, "-l", path], check=True, capture_output=True,
                       timeout=60)
        self.slapd_d = slapd_d

    def command(self):
        return [shutil.which("slapd") or "/usr/sbin/slapd", "-d", "0", "-F", self.slapd_d,
                "-h", "%s/ %s/ %s" % (self.uri, self.ldaps_uri, self.ldapi), "-u", "root"]

    def ready(self):
        # Over ldapi as root: no service account binds (a test may need one that never
        # did), and a server with a certificate no client accepts starts too.
        return subprocess.run(["ldapwhoami", "-Q", "-Y", "EXTERNAL", "-H", self.ldapi], capture_output=True,
                              timeout=10, check=False).returncode == 0

    def tls_environment(self):
        """The environment of the OpenLDAP tools: verify the server against the test CA."""
        return dict(os.environ, LDAPTLS_CACERT=self.ca_file, LDAPTLS_REQCERT="demand")

    def whoami(self, dn, password, start_tls=True):
        """Exit status of a real simple bind (ldapwhoami, StartTLS required and verified unless
        ``start_tls`` is false): 0 bound, 49 invalid credentials, 13 confidentiality required."""
        return subprocess.run(["ldapwhoami", "-x"] + (["-ZZ"] if start_tls else []) +
                              ["-H", self.uri, "-D", dn, "-y", "/dev/stdin"], input=password.encode("utf-8"),
                              env=self.tls_environment(), capture_output=True, timeout=10, check=False).returncode

    def connection_args(self, bind_dn=None):
        """The mail modules' connection options for this server (verified StartTLS)."""
        bind_dn = bind_dn or self.toolkit_dn
        return {"uri": self.uri, "bind_dn": bind_dn, "bind_password": self.passwords[bind_dn],
                "start_tls": True, "ca_file": self.ca_file}

    def connect(self, dn, password, **kwargs):
        """An ldap3 connection bound as ``dn`` after StartTLS, the certificate and name verified."""
        import ssl

        import ldap3
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_file)
        kwargs.setdefault("raise_exceptions", False)
        conn = ldap3.Connection(ldap3.Server(self.uri, tls=tls), dn, password, **kwargs)
        conn.open()
        if not conn.start_tls():
            raise RuntimeError("StartTLS with %s failed: %s" % (self.uri, conn.result))
        if not conn.bind():
            raise RuntimeError("bind of %s refused: %s" % (dn, conn.result))
        return conn

    def root(self, **kwargs):
        """An ldap3 connection as root over ldapi:/// with SASL EXTERNAL, as the role administers."""
        import ldap3
        # An empty authorization identity: ldap3 sends none at all for None, and slapd
        # then waits for another step (saslBindInProgress).
        conn = ldap3.Connection(ldap3.Server(self.ldapi), authentication=ldap3.SASL, sasl_mechanism=ldap3.EXTERNAL,
                                sasl_credentials="", **kwargs)
        if not conn.bind():
            raise RuntimeError("SASL EXTERNAL over %s refused: %s" % (self.ldapi, conn.result))
        return conn

    def ldap_tool(self, tool, *args, input=None, check=True):
        """Run an OpenLDAP tool (ldapsearch, ldapmodify...) as root over ldapi:/// (SASL EXTERNAL)."""
        return subprocess.run([tool, "-Q", "-Y", "EXTERNAL", "-H", self.ldapi] + list(args), input=input,
                              capture_output=True, text=True, timeout=60, check=check)

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
