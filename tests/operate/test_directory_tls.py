"""Many account changes at once over StartTLS: every one arrives, none is garbled.

ldap3's asynchronous strategy read the TLS socket in its own thread while the module
wrote it; OpenSSL does not allow that, and under load the stream came apart mid-apply
(undecodable responses, then "socket is not open"). The apply now gives each
connection to one thread. The directory is the role's (RoleSlapd, StartTLS with the
role's settings); the outcome is read back from it with a search of its own.
"""
import secrets as random
import subprocess
import sys
import types

import ldap3
import pytest

from ansible.module_utils.city.mail.directory import Directory
from ansible.module_utils.city.mail.plan import CREATE, DELETE, MODIFY
from role_servers import SUFFIX, RoleSlapd, directory_rendered

BASE = "ou=accounts," + SUFFIX
ACCOUNTS = 600


class Op:
    """An operation as Directory.apply sends it: on a DN, for an account (its lane)."""

    def __init__(self, action, uid, changes=None):
        self.action, self.dn, self.changes = action, "uid=%s,%s" % (uid, BASE), changes or {}
        self.account = types.SimpleNamespace(address="%s@example.invalid" % uid)


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    values = {k: random.token_hex(12) for k in (
        "vault_ldap_mailserver_password", "vault_ldap_reader_password", "vault_ldap_toolkit_password")}
    slapd = RoleSlapd(directory_rendered(values), workdir=tmp_path_factory.mktemp("tls-apply")).start()
    yield slapd
    slapd.stop()


def on_server(slapd):
    """{uid: title} of the accounts the server holds, read over its own StartTLS connection."""
    dn = "cn=reader,ou=system," + SUFFIX
    tls = ldap3.Tls(ca_certs_file=slapd.ca_file, validate=2)
    conn = ldap3.Connection(ldap3.Server(slapd.uri, tls=tls), dn, slapd.passwords[dn], raise_exceptions=True)
    conn.open()
    conn.start_tls()
    conn.bind()
    found = {}
    for item in conn.extend.standard.paged_search(BASE, "(objectClass=inetOrgPerson)", ldap3.LEVEL,
                                                  attributes=["uid", "title"], paged_size=500, generator=True):
        if item.get("type") == "searchResEntry":
            found[item["attributes"]["uid"][0]] = (item["attributes"].get("title") or [None])[0]
    conn.unbind()
    return found


def test_many_changes_in_parallel_over_starttls_all_arrive(directory):
    toolkit = "cn=toolkit,ou=system," + SUFFIX
    client = Directory(directory.uri, toolkit, directory.passwords[toolkit], ca_file=directory.ca_file)
    uids = ["tls%04d" % i for i in range(ACCOUNTS)]
    # Keep the other core busy, as CI does: the race showed under load.
    load = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 60\nwhile time.time() < end: pass"])
    try:
        creates = [Op(CREATE, uid, {"objectClass": ["top", "inetOrgPerson"], "uid": [uid], "cn": [uid],
                                    "sn": [uid], "mail": [uid + "@bekasikota.go.id"]}) for uid in uids]
        # Each account is created and then changed: the two must apply in this order.
        ops = [op for pair in zip(creates, [Op(MODIFY, uid, {"title": ["t-" + uid]}) for uid in uids])
               for op in pair]
        done, failures = client.apply(ops, {id(op): "Aa1" + random.token_hex(8) for op in creates})
        assert failures == [] and len(done) == len(ops)
        assert on_server(directory) == {uid: "t-" + uid for uid in uids}

        done, failures = client.apply([Op(DELETE, uid) for uid in uids], {})
        assert failures == [] and len(done) == ACCOUNTS
        assert on_server(directory) == {}
    finally:
        load.kill()
        load.wait()
