"""The directory's promises of issue 13, proven on the role's own slapd (rendered templates).

* A simple bind in clear text (ldap://127.0.0.1, no StartTLS) is refused with
  confidentialityRequired before the password is looked at, for cn=admin and for
  every account; the same account binds over StartTLS.
* Root over ldapi:/// with SASL EXTERNAL is the administrator (manage on cn=config);
  cn=admin has no password at all.
* Every mail module verifies the server's certificate and host name and refuses plain
  ldap://; the server shows that nothing bound.
* A session bound before its account is locked can change nothing afterwards.
"""
import ldap3
import pytest

from module_runner import run_module
from slapd_server import SlapdServer

USER_PW = "Raha5ia-Awal1"
CONFIDENTIALITY_REQUIRED = 13
INVALID_CREDENTIALS = 49
LOCKED = "000001010000Z"


def plain_bind(slapd, dn, password):
    """A simple bind over plain ldap:// (no StartTLS): the server's LDAP result code."""
    conn = ldap3.Connection(ldap3.Server(slapd.uri), dn, password, raise_exceptions=False)
    conn.open()
    try:
        conn.bind()
        return conn.result["result"]
    finally:
        conn.unbind()


def tls_bind(slapd, dn, password, uri=None):
    """A simple bind after verified StartTLS: the server's LDAP result code."""
    import ssl
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=slapd.ca_file)
    conn = ldap3.Connection(ldap3.Server(uri or slapd.uri, tls=tls), dn, password, raise_exceptions=False)
    conn.open()
    try:
        assert conn.start_tls()
        conn.bind()
        return conn.result["result"]
    finally:
        conn.unbind()


def add_account(slapd, uid, password=USER_PW):
    toolkit = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn], raise_exceptions=True)
    dn = "uid=%s,%s" % (uid, slapd.base)
    toolkit.add(dn, ["top", "inetOrgPerson"], {"uid": uid, "mail": uid + "@bekasikota.go.id", "cn": uid,
                                               "sn": uid, "userPassword": password})
    return toolkit, dn


def read_as_root(slapd, dn, attributes):
    root = slapd.root()
    root.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
    values = root.entries[0].entry_attributes_as_dict if root.entries else {}
    root.unbind()
    return values


@pytest.fixture(scope="module")
def unverifiable(tmp_path_factory):
    """Two slapd of the role serving what no client may accept: a certificate of the test
    CA for CN=evil.example (no name of 127.0.0.1), and a self-signed one for 127.0.0.1."""
    servers = {tls: SlapdServer(tmp_path_factory.mktemp("slapd-" + tls), tls=tls).start()
               for tls in ("evil", "rogue")}
    yield servers
    for server in servers.values():
        server.stop()


def test_a_clear_text_simple_bind_is_refused_before_the_password_is_checked(slapd):
    _, dn = add_account(slapd, "cleartext")
    for who, password in ((slapd.admin_dn, "any-Password-1"), (slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn]),
                          (slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn]), (dn, USER_PW)):
        assert plain_bind(slapd, who, password) == CONFIDENTIALITY_REQUIRED, who
    # Refused before the password is looked at: wrong passwords are not even counted
    # (ppolicy would lock the account after 5), and nothing is recorded as a failure.
    for _ in range(6):
        assert plain_bind(slapd, dn, "wrong-Password-1") == CONFIDENTIALITY_REQUIRED
    assert not read_as_root(slapd, dn, ["pwdFailureTime"]).get("pwdFailureTime")
    # The OpenLDAP client says the same (ldapwhoami -x without -ZZ).
    assert slapd.whoami(dn, USER_PW, start_tls=False) == CONFIDENTIALITY_REQUIRED
    # The same account and services bind over StartTLS and over LDAPS, verified.
    assert tls_bind(slapd, dn, USER_PW) == 0
    assert slapd.whoami(dn, USER_PW) == 0
    assert slapd.whoami(slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn]) == 0
    import ssl
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=slapd.ca_file)
    conn = ldap3.Connection(ldap3.Server(slapd.ldaps_uri, tls=tls), dn, USER_PW)
    assert conn.bind(), conn.result
    conn.unbind()


def test_root_over_ldapi_with_sasl_external_manages_cn_config(slapd):
    root = slapd.root()
    assert root.extend.standard.who_am_i() == "dn:gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
    # manage on cn=config: a setting changes and changes back, at once.
    assert root.modify("cn=config", {"olcLogLevel": [(ldap3.MODIFY_REPLACE, ["stats"])]}), root.result
    assert slapd.config_values("cn=config", "olcLogLevel") == ["stats"]
    assert root.modify("cn=config", {"olcLogLevel": [(ldap3.MODIFY_REPLACE, ["none"])]}), root.result
    assert slapd.config_values("cn=config", "olcSecurity") == ["simple_bind=71"]
    root.unbind()
    # No service account reaches cn=config, even over StartTLS.
    toolkit = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])
    assert not toolkit.modify("cn=config", {"olcLogLevel": [(ldap3.MODIFY_REPLACE, ["stats"])]})
    assert not toolkit.search("cn=config", "(objectClass=*)", ldap3.BASE)


def test_cn_admin_has_no_password_at_all(slapd):
    mdb = "olcDatabase={1}mdb,cn=config"
    assert slapd.config_values(mdb, "olcRootDN") == [slapd.admin_dn]
    assert slapd.config_values(mdb, "olcRootPW") == []
    assert not read_as_root(slapd, slapd.admin_dn, ["objectClass"]), "no entry with a userPassword either"
    # No password binds, even over TLS, even the tests' former admin password.
    for password in ("admin-Secret-1", slapd.passwords[slapd.toolkit_dn], "x"):
        assert tls_bind(slapd, slapd.admin_dn, password) == INVALID_CREDENTIALS
        assert slapd.whoami(slapd.admin_dn, password) == INVALID_CREDENTIALS
    assert plain_bind(slapd, slapd.admin_dn, "admin-Secret-1") == CONFIDENTIALITY_REQUIRED


def _mail_module_args(name, slapd, registry, tmp_path):
    if name == "mail_inventory":
        return {"base": slapd.base, "timeout": 5}
    if name == "mail_unused":
        return {"registry_dir": str(registry), "spool_dir": str(tmp_path / "spool"), "today": "2027-06-01"}
    return None  # mail_accounts: through apply_mail (its hand-over arguments)


def run_mail_module(name, slapd, registry, tmp_path, apply_mail, **connection):
    args = dict(slapd.connection_args(), **connection)
    own = _mail_module_args(name, slapd, registry, tmp_path)
    if own is None:
        return apply_mail(registry, **args)
    return run_module(name, dict(args, **own))


def toolkit_bound(slapd):
    """Whether cn=toolkit ever bound to ``slapd`` (olcLastBind keeps pwdLastSuccess)."""
    return bool(read_as_root(slapd, slapd.toolkit_dn, ["pwdLastSuccess"]).get("pwdLastSuccess"))


MODULES = ("mail_accounts", "mail_unused", "mail_inventory")


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("tls", ["evil", "rogue"])
def test_every_mail_module_refuses_an_unverified_certificate(module, tls, unverifiable, slapd, registry, tmp_path,
                                                              apply_mail):
    server = unverifiable[tls]
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail, uri=server.uri, ca_file=server.ca_file)
    assert result.get("failed") and "could not be verified" in result["msg"], result.get("msg")
    assert server.uri in result["msg"]
    # ldaps:// too: TLS from the first byte, the same verification.
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail, uri=server.ldaps_uri,
                             ca_file=server.ca_file)
    assert result.get("failed") and "could not be verified" in result["msg"], result.get("msg")
    assert not toolkit_bound(server), "the password never reached a server the module could not verify"
    assert not (tmp_path / "handover").exists() and not (tmp_path / "spool").exists()


@pytest.mark.parametrize("module", MODULES)
def test_every_mail_module_refuses_plain_ldap_and_verifies_without_ca_file(module, slapd, registry, tmp_path,
                                                                           apply_mail):
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail, start_tls=False)
    assert result.get("failed") and "without TLS" in result["msg"], result.get("msg")
    assert "start_tls" in result["msg"] and "ldaps://" in result["msg"]
    # Without ca_file the system's trust store is used, still verifying: the tests' CA
    # is not in it.
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail, ca_file=None)
    assert result.get("failed") and "could not be verified" in result["msg"], result.get("msg")
    assert not toolkit_bound(slapd), "no bind reached the server"
    # The control: the same module with the server's CA binds, over StartTLS and LDAPS.
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail)
    assert not result.get("failed"), result.get("msg")
    assert toolkit_bound(slapd)
    result = run_mail_module(module, slapd, registry, tmp_path, apply_mail, uri=slapd.ldaps_uri)
    assert not result.get("failed"), result.get("msg")


def test_a_module_on_the_directory_host_may_use_ldapi(slapd):
    """ldapi:// is the host's own socket (no network): a simple bind is confidential there."""
    result = run_module("mail_inventory", dict(slapd.connection_args(), uri=slapd.ldapi, base=slapd.base))
    assert not result.get("failed"), result.get("msg")
    assert toolkit_bound(slapd)


def test_a_session_bound_before_the_lock_can_change_nothing_after_it(slapd):
    toolkit, dn = add_account(slapd, "locked.later")
    session = slapd.connect(dn, USER_PW)  # bound now, kept open across the lock
    assert session.extend.standard.modify_password(dn, USER_PW, "Kedua-Sandi2"), session.result
    assert session.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    stored = read_as_root(slapd, dn, ["userPassword"])["userPassword"]

    # The toolkit deactivates the account as the mail module does (module_utils/city/mail/directory.py).
    assert toolkit.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED])]})
    assert slapd.whoami(dn, "Kedua-Sandi2") == INVALID_CREDENTIALS, "no new session"
    assert not session.closed
    assert not session.extend.standard.modify_password(dn, "Kedua-Sandi2", "Ketiga-Sandi3")
    assert not session.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, ["Ketiga-Sandi3"])]})
    assert session.result["description"] == "insufficientAccessRights"
    assert not session.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
    assert not session.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"]), "nor read"
    after = read_as_root(slapd, dn, ["userPassword", "pwdAccountLockedTime", "description"])
    assert after["userPassword"] == stored and after["pwdAccountLockedTime"]

    # Reactivated by the toolkit: the same session may change its password again.
    assert toolkit.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
    assert session.extend.standard.modify_password(dn, "Kedua-Sandi2", "Ketiga-Sandi3"), session.result
    session.unbind()
    assert slapd.whoami(dn, "Ketiga-Sandi3") == 0
