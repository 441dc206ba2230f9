#!/usr/bin/env python3
"""Check the directory of docs/directory-design.md from the controller (ldap3).

Run by verify.yml with the venv's python. Reads its settings as JSON on stdin
(never on the command line: they hold passwords) and prints a JSON list of
{"name", "ok", "detail"}, one per check, in order. Every connection has a
timeout and every loop a fixed count: the script ends by itself.

The accounts uid=molecule-* are test data: they are removed and created again
at each run.
"""

import json
import ssl
import sys

import ldap3
from ldap3.core.exceptions import LDAPException

# TEST ONLY: passwords of the test accounts, never used outside this scenario.
ALICE_PW = "Molecule-Alice-1"
ALICE_NEW_PW = "Molecule-Alice-2"
ALICE_LOCKED_PW = "Molecule-Alice-3"
BOB_PW = "Molecule-Bob-1"
CAROL_PW = "Molecule-Carol-1"
WRONG_PW = "Wrong-Password-9"

DEACTIVATED = "000001010000Z"
MAIL_FILTER = "(&(objectClass=inetOrgPerson)(mail={})(!(pwdAccountLockedTime=000001010000Z)))"
MAX_FAILURE = 5  # pwdMaxFailure of the default policy

CONFIG = json.load(sys.stdin)
SUFFIX = CONFIG["suffix"]
BASE = "ou=accounts," + SUFFIX
TOOLKIT = "cn=toolkit,ou=system," + SUFFIX
MAILSERVER = "cn=mailserver,ou=system," + SUFFIX
ADMIN = "cn=admin," + SUFFIX
DOMAIN = ".".join(rdn.split("=", 1)[1] for rdn in SUFFIX.split(","))
TLS = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=CONFIG["ca_file"])

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append({"name": name, "ok": bool(ok), "detail": str(detail)})
    return ok


def server(uri):
    return ldap3.Server(uri, tls=TLS, connect_timeout=5, get_info=ldap3.NONE)


def connect(dn=None, password=None, uri=None, start_tls=True):
    """A bound connection, or None with the reason when the bind fails."""
    conn = ldap3.Connection(server(uri or CONFIG["uri"]), dn, password, receive_timeout=10,
                            raise_exceptions=False, auto_referrals=False)
    try:
        conn.open()
        if start_tls and not conn.server.ssl and not conn.start_tls():
            return None, "StartTLS failed: %s" % conn.result
        if dn is not None and not conn.bind():
            return None, conn.result.get("description", conn.result)
    except LDAPException as exc:
        return None, repr(exc)
    return conn, "bound"


def binds(dn, password):
    conn, why = connect(dn, password)
    if conn:
        conn.unbind()
    return conn is not None, why


def account(uid):
    return "uid=%s,%s" % (uid, BASE)


def read(conn, dn, attrs):
    """The attributes of one entry as {name: [values]} ({} when unreadable)."""
    if not conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attrs):
        return {}
    return {k: v for k, v in conn.response[0]["attributes"].items() if v not in ([], None, "")}


def find_mail(conn, address):
    conn.search(BASE, MAIL_FILTER.format(address), ldap3.SUBTREE, attributes=["mail", "uid", "ou"])
    return [e for e in conn.response if e.get("type") == "searchResEntry"]


def main():
    # --- TLS and the service accounts
    toolkit, why = connect(TOOLKIT, CONFIG["toolkit_password"])
    whoami = toolkit.extend.standard.who_am_i() if toolkit else None
    if not check("StartTLS with a verified certificate, the toolkit binds", whoami == "dn:" + TOOLKIT,
                 whoami or why):
        return
    conn, why = connect(TOOLKIT, CONFIG["toolkit_password"], uri=CONFIG["ldaps_uri"], start_tls=False)
    check("LDAPS on 636 with a verified certificate, the toolkit binds", conn, why)
    for who, password in ((TOOLKIT, CONFIG["toolkit_password"]), (ADMIN, CONFIG["toolkit_password"])):
        conn, why = connect(who, password, start_tls=False)
        check("A clear-text simple bind of %s is refused with confidentialityRequired" % who,
              conn is None and why == "confidentialityRequired", why)
    for password in (CONFIG["toolkit_password"], CONFIG["mailserver_password"], "admin"):
        conn, why = connect(ADMIN, password)
        check("cn=admin has no password: a bind over StartTLS is refused", conn is None and
              why == "invalidCredentials", why)
    mailserver, why = connect(MAILSERVER, CONFIG["mailserver_password"])
    if not check("StartTLS, the mail server binds", mailserver, why):
        return
    anonymous, why = connect()
    anonymous.search(BASE, "(objectClass=*)", ldap3.SUBTREE, attributes=["mail"])
    check("Anonymous reads no account", not anonymous.response, anonymous.response)

    # --- The toolkit writes accounts (test data, removed first)
    people = {"molecule-alice": CONFIG["alice_hash"], "molecule-bob": CONFIG["bob_hash"],
              "molecule-carol": CAROL_PW}
    for uid, password in people.items():
        toolkit.delete(account(uid))
        toolkit.add(account(uid), ["top", "inetOrgPerson"], {
            "uid": uid, "mail": "%s@%s" % (uid, DOMAIN), "cn": uid, "sn": uid,
            "ou": "DISKOMINFOSTANDI", "employeeType": "personal", "userPassword": password})
        check("The toolkit adds %s" % account(uid), toolkit.result["result"] == 0, toolkit.result)

    alice, bob = account("molecule-alice"), account("molecule-bob")
    ok, why = binds(alice, ALICE_PW)
    check("An account binds with its {ARGON2} password", ok, why)
    ok, why = binds(account("molecule-carol"), CAROL_PW)
    check("An account whose clear-text password the server hashed binds", ok, why)
    attrs = read(toolkit, alice, ["pwdLastSuccess", "userPassword"])
    check("lastbind: pwdLastSuccess is written at the bind, the toolkit reads it", "pwdLastSuccess" in attrs,
          attrs)
    check("The toolkit does not read userPassword", "userPassword" not in attrs, attrs)

    # --- The mail server reads accounts, never passwords, writes nothing
    found = find_mail(mailserver, "molecule-alice@" + DOMAIN)
    got = found[0]["attributes"] if found else {}
    check("The mail server finds the account with the lookup filter and reads mail, uid, ou",
          got.get("mail") == ["molecule-alice@" + DOMAIN] and got.get("uid") == ["molecule-alice"]
          and got.get("ou") == ["DISKOMINFOSTANDI"], got)
    attrs = read(mailserver, alice, ["userPassword", "pwdHistory", "pwdFailureTime", "pwdLastSuccess"])
    check("The mail server reads no password nor pwd* secret", not attrs, attrs)
    mailserver.modify(alice, {"cn": [(ldap3.MODIFY_REPLACE, ["changed by the mail server"])]})
    check("The mail server cannot modify an account", mailserver.result["description"] == "insufficientAccessRights",
          mailserver.result)
    mailserver.add(account("molecule-mallory"), ["inetOrgPerson"], {"uid": "molecule-mallory", "cn": "m", "sn": "m"})
    check("The mail server cannot add an account", mailserver.result["description"] == "insufficientAccessRights",
          mailserver.result)

    # --- A user changes its own password, reads no one else's
    user, why = connect(alice, ALICE_PW)
    if check("The account binds with StartTLS", user, why):
        attrs = read(user, alice, ["mail", "uid"])
        check("A user reads its own entry", attrs.get("uid") == ["molecule-alice"], attrs)
        attrs = read(user, bob, ["userPassword", "mail"])
        check("A user cannot read another user's userPassword", "userPassword" not in attrs, attrs)
        changed = user.extend.standard.modify_password(alice, ALICE_PW, ALICE_NEW_PW)
        check("A user changes its own password", changed is True, user.result)
        ok_new, why_new = binds(alice, ALICE_NEW_PW)
        ok_old, unused_why_old = binds(alice, ALICE_PW)
        check("The new password binds, the old one no longer", ok_new and not ok_old, why_new)
        # A session bound before the lock (this one) can change nothing after it.
        toolkit.modify(alice, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [DEACTIVATED])]})
        changed = user.extend.standard.modify_password(alice, ALICE_NEW_PW, ALICE_LOCKED_PW)
        check("A session bound before the lock cannot change its password", changed is not True, user.result)
        attrs = read(user, alice, ["mail", "uid"])
        check("...nor read its own entry any more", not attrs, attrs)
        toolkit.modify(alice, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
        ok, why = binds(alice, ALICE_NEW_PW)
        check("Unlocked, the password set before the lock binds", ok, why)
        user.unbind()

    # --- Deactivation (E9, E11) and reactivation
    toolkit.modify(bob, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [DEACTIVATED])]})
    check("The toolkit deactivates an account", toolkit.result["result"] == 0, toolkit.result)
    ok, why = binds(bob, BOB_PW)
    check("A deactivated account cannot bind", not ok, why)
    found = find_mail(mailserver, "molecule-bob@" + DOMAIN)
    check("The lookup filter no longer finds a deactivated account", not found, found)
    toolkit.modify(bob, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
    ok, why = binds(bob, BOB_PW)
    check("A reactivated account binds again and is found",
          ok and len(find_mail(mailserver, "molecule-bob@" + DOMAIN)) == 1, why)

    # --- ppolicy lockout after pwdMaxFailure wrong passwords (bounded)
    for dummy in range(MAX_FAILURE):
        binds(bob, WRONG_PW)
    ok, why = binds(bob, BOB_PW)
    check("After %d wrong passwords the right one is refused (lockout)" % MAX_FAILURE, not ok, why)
    attrs = read(toolkit, bob, ["pwdAccountLockedTime"])
    found = find_mail(mailserver, "molecule-bob@" + DOMAIN)
    check("A temporarily locked account is still found by the lookup filter",
          len(found) == 1 and attrs.get("pwdAccountLockedTime") not in (None, [DEACTIVATED]), attrs)
    toolkit.modify(bob, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
    ok, why = binds(bob, BOB_PW)
    check("The toolkit unlocks it", ok, why)

    # --- pwdReset: a password set by the toolkit must be changed first
    toolkit.modify(bob, {"pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
    check("The toolkit sets pwdReset", toolkit.result["result"] == 0, toolkit.result)
    user, why = connect(bob, BOB_PW)
    if check("An account with pwdReset binds", user, why):
        attrs = read(user, bob, ["mail"])
        check("...but may only change its password", not attrs and user.result["result"] != 0, user.result)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # pylint: disable=broad-except
        check("The checks ran to the end", False, repr(exc))
    json.dump(RESULTS, sys.stdout, indent=1)
