"""docs/directory-design.md holds on the real slapd 2.5: states, lookup filter, ACLs."""
import ldap3
import pytest

from slapd_server import hash_password

MAIL_FILTER = "(&(objectClass=inetOrgPerson)(mail=%s)(!(pwdAccountLockedTime=000001010000Z)))"
USER_PW = "Raha5ia-Awal1"


def connect(slapd, dn, password):
    return slapd.connect(dn, password, raise_exceptions=True)


@pytest.fixture
def account(slapd):
    toolkit = connect(slapd, slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])
    dn = "uid=budi.santoso," + slapd.base
    toolkit.add(dn, ["top", "inetOrgPerson"], {
        "uid": "budi.santoso", "mail": "budi.santoso@bekasikota.go.id", "cn": "Budi Santoso",
        "sn": "Budi Santoso", "ou": "DISKOMINFOSTANDI", "employeeType": "personal",
        "employeeNumber": "198901232019061002", "userPassword": hash_password(USER_PW)})
    return toolkit, dn


def test_an_account_binds_with_its_argon2_password_and_lastbind_records_it(slapd, account):
    toolkit, dn = account
    assert slapd.whoami(dn, USER_PW) == 0
    toolkit.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["pwdLastSuccess", "userPassword"])
    entry = toolkit.entries[0]
    assert entry.pwdLastSuccess.value is not None, "lastbind (E10)"
    # The toolkit writes passwords but cannot read them back (=w); root over ldapi can.
    assert not entry.entry_attributes_as_dict.get("userPassword")
    root = slapd.root()
    root.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
    assert b"{ARGON2}" in root.entries[0].userPassword.value


def test_deactivation_locks_the_bind_and_hides_the_mail_lookup(slapd, account):
    toolkit, dn = account
    mailserver = connect(slapd, slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn])
    address = "budi.santoso@bekasikota.go.id"
    assert mailserver.search(slapd.base, MAIL_FILTER % address, attributes=["mail"])
    toolkit.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])]})
    assert slapd.whoami(dn, USER_PW) != 0
    assert not mailserver.search(slapd.base, MAIL_FILTER % address, attributes=["mail"])
    toolkit.modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
    assert slapd.whoami(dn, USER_PW) == 0, "reactivation restores the account as it was"
    assert mailserver.search(slapd.base, MAIL_FILTER % address, attributes=["mail"])


def test_lockout_after_failures_does_not_hide_the_mail_lookup(slapd, account):
    _, dn = account
    for _ in range(5):  # pwdMaxFailure
        assert slapd.whoami(dn, "wrong-Password1") != 0
    assert slapd.whoami(dn, USER_PW) != 0, "ppolicy lockout is honoured"
    mailserver = connect(slapd, slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn])
    assert mailserver.search(slapd.base, MAIL_FILTER % "budi.santoso@bekasikota.go.id", attributes=["mail"])


def test_mailserver_reads_addresses_but_no_secret_and_writes_nothing(slapd, account):
    _, dn = account
    mailserver = connect(slapd, slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn])
    mailserver.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["mail", "userPassword"])
    entry = mailserver.entries[0]
    assert entry.mail.value == "budi.santoso@bekasikota.go.id"
    assert not entry.entry_attributes_as_dict.get("userPassword")
    with pytest.raises(ldap3.core.exceptions.LDAPInsufficientAccessRightsResult):
        mailserver.modify(dn, {"cn": [(ldap3.MODIFY_REPLACE, ["x"])]})


def test_a_user_changes_its_own_password_but_reads_no_other_secret(slapd, account):
    toolkit, dn = account
    other = "uid=siti.aminah," + slapd.base
    toolkit.add(other, ["top", "inetOrgPerson"], {"uid": "siti.aminah", "cn": "Siti Aminah", "sn": "Aminah",
                                                  "mail": "siti.aminah@bekasikota.go.id",
                                                  "userPassword": hash_password("Lain-Sandi1")})
    user = slapd.connect(dn, USER_PW)
    user.search(other, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
    assert not user.entries, "another user's entry is not visible at all"
    assert user.extend.standard.modify_password(dn, USER_PW, "Baru-Sandi2")
    assert slapd.whoami(dn, "Baru-Sandi2") == 0
