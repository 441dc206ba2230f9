"""A real BIND primary on 127.0.0.1 for the tests, configured by the role dns_server.

The role's templates are rendered once per process (tests/operate/role_servers.py,
render_named: a rendering costs seconds) with keys made for this process; every
NamedServer runs from a copy of them in a directory of its own. The zone's update
policy, its transfer rules, the options and the rate limits are the role's: what a
test proves of this server, it proves of the role.
"""
import atexit
import base64
import os
import secrets
import shutil
import sys
import tempfile

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import yaml

from server_process import free_port  # noqa: F401 (free_port: for tests)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests", "operate") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests", "operate"))
from role_servers import ZONE, RoleNamed, named_variables, render_named  # noqa: E402

UPDATE_KEY = "toolkit-update"
READ_KEY = "toolkit-transfer"
SECONDARY_KEY = "toolkit-secondary"
DOMAIN = os.path.join(ROOT, "inventory", "registry", "domain.yml")

_RENDERED = {}


def tsig_secret():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def registry_domain():
    """The example registry's zone, NS names and default TTL, as playbooks/dns_server.yml passes them."""
    with open(DOMAIN, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["domain"]


def rendered_role():
    """(directory, secrets) of the role's files for this process, rendered on first use."""
    if not _RENDERED:
        out = tempfile.mkdtemp(prefix="city-test-named-role-")
        atexit.register(shutil.rmtree, out, True)
        keys = {"vault_dns_tsig_secret": tsig_secret(), "vault_dns_transfer_secret": tsig_secret(),
                "vault_dns_secondary_secret": tsig_secret()}
        render_named(out, named_variables(keys, registry_domain()))
        _RENDERED.update(dir=out, keys=keys)
    return _RENDERED["dir"], _RENDERED["keys"]


class NamedServer(RoleNamed):
    """The role's primary for the zone, in ``workdir``, on a port of its own."""

    def __init__(self, workdir, zone):
        if zone.rstrip(".") != ZONE:
            raise ValueError("the role is rendered for %s, not %s" % (ZONE, zone))
        rendered, keys = rendered_role()
        super().__init__(rendered, workdir)
        self.secret = keys["vault_dns_tsig_secret"]
        self.read_secret = keys["vault_dns_transfer_secret"]
        self.secondary_secret = keys["vault_dns_secondary_secret"]

    def ready(self):
        return bool(self.query(self.zone, "SOA"))

    def query(self, name, rdtype):
        """Sorted rdata texts of (name, type) as the server answers them; [] for none."""
        if not name.endswith("."):
            name = name + "." + self.zone if name != "@" else self.zone
        q = dns.message.make_query(name, rdtype)
        r = dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=5)
        if r.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise RuntimeError(dns.rcode.to_text(r.rcode()))
        out = []
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                out.extend(rd.to_text() for rd in rrset)
        return sorted(out)

    def ttl(self, name, rdtype):
        q = dns.message.make_query(name, rdtype)
        r = dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=5)
        return r.answer[0].ttl if r.answer else None

    def update(self, *ops, key=UPDATE_KEY, secret=None):
        """The rcode of one UPDATE of ``(verb, name, *args)`` operations signed with ``key``."""
        keyring = dns.tsigkeyring.from_text({key: ("hmac-sha256", secret or self.secret)})
        u = dns.update.UpdateMessage(self.zone, keyring=keyring, keyname=key)
        for verb, *args in ops:
            getattr(u, verb)(*args)
        return dns.query.tcp(u, "127.0.0.1", port=self.port, timeout=5).rcode()

    def raw_update(self, *ops):
        """Apply ``(verb, name, *args)`` operations as another operator would."""
        rcode = self.update(*ops)
        assert rcode == dns.rcode.NOERROR, dns.rcode.to_text(rcode)
