"""The role dns_server's promises, against a real primary and a real secondary named.

Both are configured from the role's own templates (tests/operate/role_servers.py,
render_named): the primary with the update key, the transfer-only key and the
secondaries' key, notifying the secondary; the secondary with the secondaries' key
alone, transferring from the primary. They run on 127.0.0.1, each on its own port.

* The secondaries' key (and the plans' transfer-only key) cannot update anything;
  the secondaries' key transfers the zone, and the secondary receives NOTIFY signed
  with it and transfers the change.
* The toolkit's update key changes every type the registry owns, at the apex and
  below, and nothing else: no NS (the apex's or a delegation), no SOA, no DNSSEC
  record, no name outside the zone.
* UDP answers are rate limited: a bounded burst of identical queries gets truncated
  or no answers beyond the limit, while a normal rate is answered.
After every refused update the whole zone, read by AXFR, is what it was.
"""
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import dns.xfr
import dns.zone
import pytest
import yaml

from paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))
from named_server import READ_KEY, SECONDARY_KEY, UPDATE_KEY, registry_domain  # noqa: E402
from role_servers import ZONE, RoleNamed, named_variables, render_named  # noqa: E402
from server_process import free_port  # noqa: E402

from ansible.module_utils.city.dns.desired import MANAGED_TYPES  # noqa: E402

ORIGIN = dns.name.from_text(ZONE)
# Bounded waits: NOTIFY and the transfer it starts take well under a second here.
NOTIFY_WAIT = 15
# The role's defaults, which the servers here run with.
RATE, WINDOW, SLIP = 10, 5, 2
BURST = 200


def secret():
    return base64.b64encode(secrets.token_bytes(32)).decode()


class Pair:
    """The role's primary and secondary, rendered once for this module."""

    def __init__(self, tmp):
        self.keys = {"vault_dns_tsig_secret": secret(), "vault_dns_transfer_secret": secret(),
                     "vault_dns_secondary_secret": secret()}
        self.primary_port, self.secondary_port = free_port(), free_port()
        domain = registry_domain()
        primary = named_variables(self.keys, domain, dns_server__notify="explicit",
                                  dns_server__secondaries=[{"address": "127.0.0.1", "port": self.secondary_port}])
        # A secondary holds the secondaries' key alone: no update or plan secret is given to it.
        secondary = named_variables({"vault_dns_tsig_secret": "", "vault_dns_transfer_secret": "",
                                     "vault_dns_secondary_secret": self.keys["vault_dns_secondary_secret"]},
                                    domain, dns_server__role="secondary", dns_server__notify="no",
                                    dns_server__primaries=[{"address": "127.0.0.1", "port": self.primary_port}])
        self.rendered = {"primary": tmp / "render-primary", "secondary": tmp / "render-secondary"}
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(render_named, [self.rendered["primary"], self.rendered["secondary"]],
                          [primary, secondary]))
        self.primary = RoleNamed(self.rendered["primary"], tmp / "primary", port=self.primary_port)
        self.secondary = RoleNamed(self.rendered["secondary"], tmp / "secondary", port=self.secondary_port)

    def secret_of(self, key):
        return {UPDATE_KEY: self.keys["vault_dns_tsig_secret"], READ_KEY: self.keys["vault_dns_transfer_secret"],
                SECONDARY_KEY: self.keys["vault_dns_secondary_secret"]}[key]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    servers = Pair(tmp_path_factory.mktemp("dns-hardening"))
    servers.primary.start()
    try:
        servers.secondary.start()
        yield servers
    finally:
        servers.secondary.stop()
        servers.primary.stop()


def keyring(pair, key):
    return dns.tsigkeyring.from_text({key: ("hmac-sha256", pair.secret_of(key))})


def update(pair, key, *ops, zone=ORIGIN):
    message = dns.update.UpdateMessage(zone, keyring=keyring(pair, key), keyname=key)
    for verb, *args in ops:
        getattr(message, verb)(*args)
    return dns.query.tcp(message, "127.0.0.1", port=pair.primary.port, timeout=5).rcode()


def axfr(pair, key, server=None):
    """The whole zone as sorted text lines, transferred with ``key``."""
    zone = dns.zone.Zone(ORIGIN)
    query, _ = dns.xfr.make_query(zone, keyring=keyring(pair, key), keyname=key)
    port = (server or pair.primary).port
    dns.query.inbound_xfr("127.0.0.1", zone, query=query, port=port, timeout=10, lifetime=20)
    return sorted(zone.to_text(relativize=False).splitlines())


def answer(port, name, rdtype, udp=False):
    q = dns.message.make_query(dns.name.from_text(name, ORIGIN), rdtype)
    send = dns.query.udp if udp else dns.query.tcp
    response = send(q, "127.0.0.1", port=port, timeout=5)
    return response, sorted(rd.to_text() for rrset in response.answer for rd in rrset
                            if rrset.rdtype == dns.rdatatype.from_text(rdtype))


EVIL_NS = "ns1.evil.example."
DNSKEY = "257 3 13 " + base64.b64encode(b"k" * 64).decode()
DS = "12345 13 2 " + "ab" * 32
REFUSED_UPDATES = {
    "add-ns-at-apex": [("add", "@", 300, "NS", EVIL_NS)],
    "replace-ns-at-apex": [("replace", "@", 300, "NS", EVIL_NS)],
    "delete-one-ns-at-apex": [("delete", "@", "NS", "ns2.%s." % ZONE)],
    "delete-ns-rrset-at-apex": [("delete", "@", "NS")],
    "delegate-a-subdomain": [("add", "dinkes", 300, "NS", EVIL_NS)],
    "replace-soa": [("replace", "@", 300, "SOA", "%s hostmaster.evil.example. 99 3600 900 1209600 300" % EVIL_NS)],
    "delete-soa": [("delete", "@", "SOA")],
    "add-dnskey-at-apex": [("add", "@", 300, "DNSKEY", DNSKEY)],
    "add-cdnskey-at-apex": [("add", "@", 300, "CDNSKEY", DNSKEY)],
    "add-ds-at-a-child": [("add", "dinkes", 300, "DS", DS)],
    "add-cds-at-apex": [("add", "@", 300, "CDS", DS)],
    # Allowed and refused types in one message: nothing of it is applied.
    "a-with-ns-in-one-message": [("add", "www", 300, "A", "192.0.2.77"), ("add", "@", 300, "NS", EVIL_NS)],
}


@pytest.mark.parametrize("ops", REFUSED_UPDATES.values(), ids=REFUSED_UPDATES.keys())
def test_update_key_cannot_touch_ns_soa_or_dnssec(pair, ops):
    before = axfr(pair, UPDATE_KEY)
    assert update(pair, UPDATE_KEY, *ops) == dns.rcode.REFUSED
    assert axfr(pair, UPDATE_KEY) == before
    assert answer(pair.primary.port, "@", "NS")[1] == ["ns1.%s." % ZONE, "ns2.%s." % ZONE]


def test_update_key_deleting_everything_at_the_apex_leaves_soa_and_ns(pair):
    """Deleting every RRset of the apex removes only what the key may change."""
    assert update(pair, UPDATE_KEY, ("add", "@", 300, "TXT", '"apex-probe"')) == dns.rcode.NOERROR
    soa, ns = answer(pair.primary.port, "@", "SOA")[1], answer(pair.primary.port, "@", "NS")[1]
    rcode = update(pair, UPDATE_KEY, ("delete", "@"))
    assert rcode in (dns.rcode.NOERROR, dns.rcode.REFUSED)
    assert answer(pair.primary.port, "@", "NS")[1] == ns
    new_soa = answer(pair.primary.port, "@", "SOA")[1]
    assert [s.split()[:2] for s in new_soa] == [s.split()[:2] for s in soa]
    if rcode == dns.rcode.NOERROR:
        assert answer(pair.primary.port, "@", "TXT")[1] == []
    else:
        update(pair, UPDATE_KEY, ("delete", "@", "TXT"))


@pytest.mark.parametrize("name", ["www.evil.example.", "bekasikota.go.id.evil.example.", "go.id."])
def test_update_key_cannot_update_outside_the_zone(pair, name):
    before = axfr(pair, UPDATE_KEY)
    rcode = update(pair, UPDATE_KEY, ("add", dns.name.from_text(name), 300, "A", "192.0.2.66"))
    assert rcode == dns.rcode.NOTZONE
    # Nor by naming the parent zone, which this server does not serve.
    parent = dns.name.from_text("go.id.")
    assert update(pair, UPDATE_KEY, ("add", dns.name.from_text(name), 300, "A", "192.0.2.66"),
                  zone=parent) == dns.rcode.NOTAUTH
    assert axfr(pair, UPDATE_KEY) == before


VALUES = {"A": "192.0.2.99", "AAAA": "2001:db8::99", "CNAME": "target.%s." % ZONE,
          # Targets outside the zone: named's integrity check wants in-zone targets to have addresses.
          "MX": "10 mx.example.net.", "TXT": '"hardening-probe"', "SRV": "0 5 443 srv.example.net.",
          "CAA": '0 issue "ca.example.net"'}


# A CNAME cannot sit next to the apex's SOA and NS (RFC 1034 3.6.2), whatever the key.
@pytest.mark.parametrize("where,rdtype", [(where, rdtype) for where in ("apex", "below")
                                          for rdtype in sorted(dns.rdatatype.to_text(t) for t in MANAGED_TYPES)
                                          if (where, rdtype) != ("apex", "CNAME")])
def test_update_key_changes_every_managed_type_at_the_apex_and_below(pair, rdtype, where):
    name = "@" if where == "apex" else "probe-%s.dinkes" % rdtype.lower()
    assert update(pair, UPDATE_KEY, ("add", name, 300, rdtype, VALUES[rdtype])) == dns.rcode.NOERROR
    assert VALUES[rdtype] in answer(pair.primary.port, name, rdtype)[1]
    assert update(pair, UPDATE_KEY, ("delete", name, rdtype, VALUES[rdtype])) == dns.rcode.NOERROR
    assert VALUES[rdtype] not in answer(pair.primary.port, name, rdtype)[1]


@pytest.mark.parametrize("key", [SECONDARY_KEY, READ_KEY])
def test_transfer_keys_cannot_update_anything(pair, key):
    before = axfr(pair, UPDATE_KEY)
    for ops in ([("add", "www", 300, "A", "192.0.2.78")], [("add", "@", 300, "NS", EVIL_NS)],
                [("delete", "ns1", "A")], [("replace", "@", 300, "TXT", '"defaced"')]):
        assert update(pair, key, *ops) == dns.rcode.REFUSED, ops
    assert axfr(pair, UPDATE_KEY) == before
    assert answer(pair.primary.port, "www", "A")[1] == []


def test_secondary_key_transfers_the_zone_and_an_unsigned_transfer_is_refused(pair):
    zone = axfr(pair, SECONDARY_KEY)
    assert zone == axfr(pair, UPDATE_KEY)
    assert any(" SOA " in line for line in zone) and sum(" NS " in line for line in zone) == 2
    with pytest.raises(dns.xfr.TransferError):
        dns.query.inbound_xfr("127.0.0.1", dns.zone.Zone(ORIGIN), port=pair.primary.port, timeout=5, lifetime=10)


def test_secondary_holds_only_its_key(pair):
    files = {name: open(os.path.join(pair.secondary.dir, name), encoding="utf-8").read()
             for name in ("keys.conf", "named.conf.local", "named.conf.options")}
    assert 'key "%s"' % SECONDARY_KEY in files["keys.conf"]
    for name, text in files.items():
        assert UPDATE_KEY not in text and READ_KEY not in text, name
        assert pair.keys["vault_dns_tsig_secret"] not in text and pair.keys["vault_dns_transfer_secret"] not in text


def test_secondary_transfers_with_its_key_and_gets_signed_notify(pair):
    # Transferred at start: the secondary is ready when it answers the zone's SOA.
    assert answer(pair.secondary.port, "@", "SOA")[1]
    assert update(pair, UPDATE_KEY, ("add", "notify-probe", 300, "A", "192.0.2.88")) == dns.rcode.NOERROR
    # The SOA refresh is an hour: only NOTIFY (sent after named's notify-delay) brings
    # the change within the wait.
    deadline = time.monotonic() + NOTIFY_WAIT
    while time.monotonic() < deadline and answer(pair.secondary.port, "notify-probe", "A")[1] != ["192.0.2.88"]:
        time.sleep(0.2)
    assert answer(pair.secondary.port, "notify-probe", "A")[1] == ["192.0.2.88"]
    # It serves the primary's zone, every record of it, and transfers it on with the same key.
    assert axfr(pair, SECONDARY_KEY, server=pair.secondary) == axfr(pair, UPDATE_KEY)
    log = pair.secondary.log()
    assert "/key %s: received notify for zone '%s'" % (SECONDARY_KEY, ZONE) in log, log
    assert "TSIG %s" % SECONDARY_KEY in log, log
    # The secondary is no way in either: it refuses updates, whatever the key.
    message = dns.update.UpdateMessage(ORIGIN, keyring=keyring(pair, SECONDARY_KEY), keyname=SECONDARY_KEY)
    message.add("www", 300, "A", "192.0.2.79")
    assert dns.query.tcp(message, "127.0.0.1", port=pair.secondary.port, timeout=5).rcode() in (
        dns.rcode.REFUSED, dns.rcode.NOTAUTH)
    assert update(pair, UPDATE_KEY, ("delete", "notify-probe", "A")) == dns.rcode.NOERROR


def burst(port, name, rdtype, count):
    """``count`` identical UDP queries sent at once: (full answers, truncated, unanswered)."""
    wire = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        for i in range(count):
            q = dns.message.make_query(dns.name.from_text(name, ORIGIN), rdtype)
            q.id = i
            wire[i] = q
            sock.sendto(q.to_wire(), ("127.0.0.1", port))
        full = truncated = 0
        seen = set()
        deadline = time.monotonic() + 5
        while len(seen) < count and time.monotonic() < deadline:
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                break
            response = dns.message.from_wire(data)
            if response.id in seen or response.id not in wire:
                continue
            seen.add(response.id)
            if response.flags & dns.flags.TC:
                truncated += 1
            else:
                full += 1
    return full, truncated, count - len(seen)



def test_udp_answers_are_rate_limited_and_a_normal_rate_is_answered(pair):
    start = time.monotonic()
    full, truncated, dropped = burst(pair.primary.port, "@", "NS", BURST)
    elapsed = time.monotonic() - start
    # At most the rate over the time the burst took (and the window's first second), never the burst.
    assert 0 < full <= RATE * (int(elapsed) + 2), (full, truncated, dropped, elapsed)
    assert truncated > 0 and dropped > 0, (full, truncated, dropped)
    # slip 2: about one limited answer in two is sent truncated, the others dropped.
    limited = truncated + dropped
    assert abs(truncated - limited / SLIP) <= limited / 4, (truncated, dropped)
    # The same names over TCP are never limited.
    assert answer(pair.primary.port, "@", "NS")[1] == ["ns1.%s." % ZONE, "ns2.%s." % ZONE]
    # Another answer at a normal rate (4 a second) is answered, fully, every time.
    for _ in range(8):
        response, soa = answer(pair.primary.port, "@", "SOA", udp=True)
        assert soa and not response.flags & dns.flags.TC
        time.sleep(0.25)


UPDATE_TYPE_CASES = {
    "default": (None, True),
    "two-types": (["A", "TXT"], True),
    "empty-would-grant-every-type": ([], False),
    "ns": (["A", "NS"], False),
    "soa": (["SOA"], False),
    "dnskey": (["DNSKEY"], False),
    "ds": (["DS", "A"], False),
    "cds": (["CDS"], False),
    "rrsig": (["RRSIG"], False),
    "numeric-form-of-ns": (["TYPE2"], False),
    "any": (["ANY"], False),
    "lower-case": (["a"], False),
    "closes-the-statement": (["A; }; grant evil zonesub NS"], False),
    "a-string-not-a-list": ("A", False),
    "a-number": ([1], False),
}


def test_the_role_refuses_update_types_other_than_safe_mnemonics(tmp_path):
    """The role's own check of dns_server__update_types, run as the role runs it, case by case."""
    tasks = yaml.safe_load(open(os.path.join(ROOT, "roles", "dns_server", "tasks", "main.yml"), encoding="utf-8"))
    check = [t for t in tasks if t.get("name", "").endswith("Check the record types the update key may change")]
    assert len(check) == 1
    out = tmp_path / "results"
    out.mkdir()
    play = [{"name": "the role's check of the update types", "hosts": "cases", "gather_facts": False,
             "vars_files": [os.path.join(ROOT, "roles", "dns_server", "vars", "main.yml")],
             "tasks": [dict(check[0], ignore_errors=True, register="_t_check"),
                       # One file for all the cases: a module run per case would cost seconds.
                       {"name": "results", "run_once": True, "ansible.builtin.copy": {
                           "content": "{% set r = {} %}{% for h in ansible_play_hosts_all %}"
                                      "{% set _ = r.update({h: 'refused' if hostvars[h]._t_check is failed"
                                      " else 'accepted'}) %}{% endfor %}{{ r | to_json }}",
                           "dest": str(out / "results.json"), "mode": "0600"}}]}]
    defaults = yaml.safe_load(open(os.path.join(ROOT, "roles", "dns_server", "defaults", "main.yml"),
                                   encoding="utf-8"))
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "dns_server__role": "primary"}
    hosts = {case: dict(local, dns_server__update_types=defaults["dns_server__update_types"] if value is None
                        else value) for case, (value, _) in UPDATE_TYPE_CASES.items()}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"cases": {"hosts": hosts}}}}))
    (tmp_path / "check.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS="4")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           str(tmp_path / "hosts.yml"), str(tmp_path / "check.yml")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    got = json.loads((out / "results.json").read_text())
    assert got == {case: "accepted" if ok else "refused" for case, (_, ok) in UPDATE_TYPE_CASES.items()}
