"""E12 through the real servers: OpenDKIM with the role's configuration signs what the domain
sends, the signature verifies (dkimpy) against the key dns_zone published on a real named,
nothing received on port 25 is signed, and a From: that is not the login's sender is refused.

Accounts of their own: disdik, distaru, damkar, dinsos (agencies).
"""
import email
import hashlib
import email.policy
import smtplib
import subprocess
import sys
from pathlib import Path

import dkim
import dns.message
import dns.query
import dns.rdatatype
import pytest

from clients import Mailbox, Refused, message, send, tls_context, wait_for
from module_runner import run_module
from test_mail_flow import OUTSIDE, ready_account

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dns"))
from named_server import UPDATE_KEY, NamedServer  # noqa: E402

SENDER = "disdik@bekasikota.go.id"
RECIPIENT = "distaru@bekasikota.go.id"


@pytest.fixture(scope="module")
def named(directory, mail, tmp_path_factory):
    """The zone on a real named, applied by dns_zone with the mail server's DKIM key."""
    server = NamedServer(tmp_path_factory.mktemp("dkim-named"), "bekasikota.go.id").start()
    result = run_module("dns_zone", dict(registry_dir=str(directory.registry), server="127.0.0.1",
                                         port=server.port, key_name=UPDATE_KEY, key_secret=server.secret,
                                         dkim_public_keys={"city2026": mail.dkim_public}))
    assert not result.get("failed"), result.get("msg")
    yield server
    server.stop()


def dns_txt(named):
    """dkimpy's DNS lookup, asked of the test's named over TCP."""
    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        response = dns.query.tcp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=named.port, timeout=timeout)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(rrset[0].strings)
        return None
    return lookup


def received(mail, directory, address, subject):
    password = ready_account(directory, address)
    assert subject in wait_for(mail, address, password, subject), mail.maillog()[-2000:]
    box = Mailbox(mail, address, password)
    try:
        box.imap.select("INBOX", readonly=True)
        nums = box.imap.search(None, "SUBJECT", '"%s"' % subject)[1][0].split()
        assert len(nums) == 1, "%d messages %r" % (len(nums), subject)
        return box.imap.fetch(nums[0], "(BODY.PEEK[])")[1][0][1]
    finally:
        box.close()


def test_submitted_mail_is_signed_and_verifies_against_the_zone(directory, mail, named):
    password = ready_account(directory, SENDER)
    send(mail, message(SENDER, RECIPIENT, "Bertanda tangan DKIM"), login=(SENDER, password))
    raw = received(mail, directory, RECIPIENT, "Bertanda tangan DKIM")
    signature = email.message_from_bytes(raw, policy=email.policy.default)["DKIM-Signature"]
    assert signature is not None, raw[:1500]
    tags = dict(part.strip().split("=", 1) for part in str(signature).replace("\r\n", "").split(";") if "=" in part)
    assert (tags["d"], tags["s"], tags["a"]) == ("bekasikota.go.id", "city2026", "rsa-sha256")
    assert dkim.verify(raw, dnsfunc=dns_txt(named))
    # The verification can fail: a changed body does not verify.
    assert not dkim.verify(raw.replace(b"Salam.", b"Salam!"), dnsfunc=dns_txt(named))


def test_mail_from_this_hosts_sendmail_is_signed(directory, mail, named):
    msg = message(SENDER, RECIPIENT, "Dari sendmail server")
    subprocess.run(["sendmail", "-C", mail.vars["mail_server__postfix_dir"], "-f", SENDER, RECIPIENT],
                   input=msg.as_bytes(), check=True, timeout=30)
    raw = received(mail, directory, RECIPIENT, "Dari sendmail server")
    assert dkim.verify(raw, dnsfunc=dns_txt(named))


def test_mail_received_on_port_25_is_not_signed(directory, mail):
    send(mail, message(OUTSIDE, RECIPIENT, "Dari luar tanpa tanda tangan"))
    raw = received(mail, directory, RECIPIENT, "Dari luar tanpa tanda tangan")
    assert b"DKIM-Signature" not in raw


@pytest.mark.parametrize("author", [
    "walikota@bekasikota.go.id",                                   # another account's address
    "Dinas Pendidikan <disdik@bekasikota.go.id>, walikota@bekasikota.go.id",  # a list of authors
    "warga@example.org",                                           # another domain
    '"walikota@bekasikota.go.id" <disdik@bekasikota.go.id>',      # a name that reads as another
])
def test_a_from_that_is_not_the_login_is_refused(directory, mail, author):
    password = ready_account(directory, SENDER)
    msg = message(SENDER, RECIPIENT, "Atas nama orang lain")
    msg.replace_header("From", author)
    with pytest.raises(Refused) as refused:
        send(mail, msg, sender=SENDER, login=(SENDER, password))
    assert (refused.value.step, refused.value.code) == ("DATA", 550), refused.value
    assert "5.7.1" in refused.value.text and "From:" in refused.value.text, refused.value.text


@pytest.mark.parametrize("author", [
    "Dinas Pendidikan <disdik@bekasikota.go.id>",
    '"Pendidikan, Dinas" <Disdik@Bekasikota.go.id>',
    "disdik@bekasikota.go.id (Dinas Pendidikan)",
])
def test_the_logins_own_address_in_any_form_is_signed(directory, mail, named, author):
    password = ready_account(directory, SENDER)
    subject = "Bentuk alamat %s" % hashlib.sha1(author.encode()).hexdigest()[:8]
    msg = message(SENDER, RECIPIENT, subject)
    msg.replace_header("From", author)
    send(mail, msg, sender=SENDER, login=(SENDER, password))
    assert dkim.verify(received(mail, directory, RECIPIENT, subject), dnsfunc=dns_txt(named))


def test_a_second_from_header_is_refused(directory, mail):
    password = ready_account(directory, SENDER)
    data = ("From: %s\r\nFrom: walikota@bekasikota.go.id\r\nTo: %s\r\nSubject: Dua pengirim\r\n\r\nSalam.\r\n"
            % (SENDER, RECIPIENT)).encode()
    with smtplib.SMTP("127.0.0.1", mail.submission_port, timeout=30) as smtp:
        smtp.starttls(context=tls_context(mail.ca_file))
        smtp.login(SENDER, password)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(SENDER, [RECIPIENT], data)
    assert refused.value.smtp_code == 550


def test_a_signer_that_is_down_defers_and_loses_nothing(directory, mail, named):
    """OpenDKIM stopped: submission answers 4xx (Postfix's milter_default_action =
    tempfail, from the first command of the session), so the client keeps the message
    and nothing leaves unsigned; back, the same message is delivered once and signed."""
    sender, recipient = "damkar@bekasikota.go.id", "dinsos@bekasikota.go.id"
    password = ready_account(directory, sender)
    msg = message(sender, recipient, "Saat penanda tangan mati")
    mail.opendkim.stop()
    try:
        with pytest.raises(Refused) as refused:
            send(mail, msg, login=(sender, password))
        assert 400 <= refused.value.code < 500, refused.value
    finally:
        mail.opendkim.start()
    send(mail, msg, login=(sender, password))
    raw = received(mail, directory, recipient, "Saat penanda tangan mati")
    assert dkim.verify(raw, dnsfunc=dns_txt(named))
