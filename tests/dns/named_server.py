"""A real BIND primary on 127.0.0.1 for the tests, started and stopped by fixtures."""
import base64
import os
import secrets
import shutil

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from server_process import ServerProcess, free_port  # noqa: F401 (free_port: for tests)

UPDATE_KEY = "toolkit-update"
READ_KEY = "transfer-only"


class NamedServer(ServerProcess):
    name = "named"

    def __init__(self, workdir, zone):
        self.dir = str(workdir)
        self.zone = zone.rstrip(".") + "."
        self.port = free_port()
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.read_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        os.makedirs(self.dir, exist_ok=True)
        self._write_config()

    def _write_config(self):
        named = shutil.which("named") or "/usr/sbin/named"
        self.named = named
        with open(os.path.join(self.dir, "named.conf"), "w") as fh:
            fh.write("""
options {
  directory "%(dir)s";
  pid-file "%(dir)s/named.pid";
  listen-on port %(port)d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-query { any; };
};
controls { };
key "%(uk)s" { algorithm hmac-sha256; secret "%(us)s"; };
key "%(rk)s" { algorithm hmac-sha256; secret "%(rs)s"; };
zone "%(zone)s" {
  type primary;
  file "%(dir)s/zone.db";
  allow-update { key "%(uk)s"; };
  allow-transfer { key "%(uk)s"; key "%(rk)s"; };
};
""" % {"dir": self.dir, "port": self.port, "uk": UPDATE_KEY, "us": self.secret,
       "rk": READ_KEY, "rs": self.read_secret, "zone": self.zone})
        with open(os.path.join(self.dir, "zone.db"), "w") as fh:
            fh.write("""$TTL 3600
@ IN SOA ns1.%(z)s hostmaster.%(z)s 1 3600 900 1209600 300
@ IN NS ns1.%(z)s
@ IN NS ns2.%(z)s
ns1 IN A 192.0.2.53
ns2 IN A 192.0.2.54
""" % {"z": self.zone})

    def command(self):
        return [self.named, "-g", "-c", os.path.join(self.dir, "named.conf"), "-u", "root"]

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

    def raw_update(self, *ops):
        """Apply ``(verb, name, *args)`` operations as another operator would."""
        keyring = dns.tsigkeyring.from_text({UPDATE_KEY: ("hmac-sha256", self.secret)})
        u = dns.update.UpdateMessage(self.zone, keyring=keyring, keyname=UPDATE_KEY)
        for verb, *args in ops:
            getattr(u, verb)(*args)
        r = dns.query.tcp(u, "127.0.0.1", port=self.port, timeout=5)
        assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())
