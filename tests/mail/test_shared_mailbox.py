"""P17 Pasal 35(2): an agency's mailbox is used by its e-mail officer and its head, each with
their own login (Dovecot's master passdb on the directory, role mail_server), never with a
shared password; nobody else opens it, and nobody can grant themselves a mailbox.

Accounts: setwan (SETWAN's own), siti.nurjanah (its mail_admin), kepala.setwan (its head's
position account), yayan.sopyan (not a delegate of setwan).
"""
import imaplib
import ssl

import ldap3
import pytest

from clients import Mailbox, Refused, message, send, wait_for
from test_mail_flow import OUTSIDE, entry, ready_account

AGENCY = "setwan@bekasikota.go.id"
ADMIN = "siti.nurjanah@bekasikota.go.id"
HEAD = "kepala.setwan@bekasikota.go.id"
OTHER = "yayan.sopyan@bekasikota.go.id"


def refused_login(mail, user, password):
    with pytest.raises(imaplib.IMAP4.error):
        Mailbox(mail, user, password).close()


def test_the_delegates_open_the_agency_mailbox_with_their_own_login(directory, mail):
    agency_password = ready_account(directory, AGENCY)
    admin_password, head_password = ready_account(directory, ADMIN), ready_account(directory, HEAD)
    other_password = ready_account(directory, OTHER)
    send(mail, message(OUTSIDE, AGENCY, "Undangan rapat untuk Setwan"))
    assert "Undangan rapat untuk Setwan" in wait_for(mail, AGENCY, agency_password, "Undangan rapat untuk Setwan")
    dn = directory.dn(AGENCY)
    assert [str(v).lower() for v in entry(directory, ADMIN, "seeAlso").seeAlso] == [dn.lower()]

    # Each delegate, own password, full address or local part: the agency's mailbox.
    for login, password in (("%s*%s" % (AGENCY, ADMIN), admin_password),
                            ("setwan*kepala.setwan", head_password)):
        box = Mailbox(mail, login, password)
        try:
            assert "Undangan rapat untuk Setwan" in box.subjects(), login
        finally:
            box.close()
    opened_by = lambda: all("<by %s>: " % who in mail.dovecot_log() for who in (ADMIN, HEAD))  # noqa: E731
    assert mail.dovecot.wait_until(opened_by, 10), "the log names who opened it: " + mail.dovecot_log()[-1500:]

    # Submission: the person who sends logs in as themselves (the log must name them);
    # first: Dovecot's penalty for the failed logins below would delay it beyond Postfix's wait.
    with pytest.raises(Refused) as refused:
        send(mail, message(AGENCY, OUTSIDE, "Lewat master"), login=("%s*%s" % (AGENCY, ADMIN), admin_password))
    assert refused.value.step == "AUTH" and refused.value.code == 535, mail.maillog()[-2500:]
    # Not a delegate (with its own right password), a delegate with a wrong one: refused.
    refused_login(mail, "%s*%s" % (AGENCY, OTHER), other_password)
    refused_login(mail, "%s*%s" % (AGENCY, ADMIN), admin_password + "-salah")
    refused_login(mail, "%s*%s" % (AGENCY, "tidak.ada@bekasikota.go.id"), admin_password)
    # A delegate of the agency does not open another delegate's own mailbox.
    refused_login(mail, "%s*%s" % (HEAD, ADMIN), admin_password)


def test_nobody_grants_themselves_a_mailbox(directory):
    """seeAlso, which the master passdb reads, is written by the toolkit alone."""
    password = ready_account(directory, OTHER)  # the e-mail officer of HUKUM, not of SETWAN
    slapd = directory.slapd
    tls = ldap3.Tls(ca_certs_file=slapd.ca_file, validate=ssl.CERT_REQUIRED)
    server = ldap3.Server(slapd.uri, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, directory.dn(OTHER), password, raise_exceptions=False)
    conn.open()
    conn.start_tls()
    assert conn.bind(), conn.result
    try:
        assert not conn.modify(directory.dn(OTHER), {"seeAlso": [(ldap3.MODIFY_ADD, [directory.dn(AGENCY)])]})
        assert conn.result["description"] == "insufficientAccessRights", conn.result
    finally:
        conn.unbind()
    assert directory.dn(AGENCY).lower() not in [str(v).lower() for v in entry(directory, OTHER, "seeAlso").seeAlso]
