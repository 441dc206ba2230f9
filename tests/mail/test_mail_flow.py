"""Mail that flows: the real Postfix and Dovecot of the role mail_server on the role
ldap_directory's slapd, accounts made by mail_accounts from the registry, and real SMTP and
IMAP clients. Every outcome is read from the servers: an SMTP answer, an IMAP login, a
message in a mailbox, a file on disk."""
import contextlib
import os
import re
import subprocess
import time

import ldap3
import pytest

from clients import Mailbox, Refused, login_error, message, send, wait_for

OUTSIDE = "warga@example.org"
# Where the delegates' mail goes: inside the domain (the tests resolve no name outside).
INSIDE = "umum@bekasikota.go.id"
NEW_PASSWORD = "Sandi-Baru-2026"


def change_password(directory, address, old, new=NEW_PASSWORD):
    """What a user does once (the webmail's password change): the LDAP password-modify
    operation bound as the account itself, under verified StartTLS."""
    conn = directory.slapd.connect(directory.dn(address), old)
    assert conn.extend.standard.modify_password(directory.dn(address), old, new), conn.result
    conn.unbind()
    directory.passwords[address] = new
    return new


def ready_account(directory, address):
    """An account whose handed-over password has been changed: it logs in."""
    if directory.passwords[address] != NEW_PASSWORD:
        change_password(directory, address, directory.passwords[address])
    return directory.passwords[address]


def set_status(directory, address, status):
    """Edit the registry as an admin would (E9, E11) and apply it with mail_accounts."""
    edit_status(directory, address, status)
    return directory.apply()


def edit_status(directory, address, status):
    """Edit the registry as an admin would (E9, E11): the account's status and its papers."""
    path = directory.registry / "mail.yml"
    text = path.read_text()
    start = text.index("  - address: %s\n" % address)
    end = text.find("\n  - address:", start + 5)
    end = len(text) if end < 0 else end + 1
    block = re.sub(r"\n    (status|deactivation|reactivation):.*?(?=\n    [a-z_]+:|\n?$)", "", text[start:end],
                   flags=re.S).rstrip("\n") + "\n"
    deactivation = ("    deactivation:\n      reason: moved\n      request: Surat 1\n"
                    "      validated_by: \"198212122008101001\"\n      validation_ref: Surat BKPSDM 1\n"
                    "      date: 2026-11-01\n")
    if status == "active":
        block += "    status: active\n"
        if "deactivated" in text[start:end]:
            block += deactivation + ("    reactivation:\n      request: Surat 2\n      minutes: Berita Acara 2\n"
                                     "      statement: Surat Pernyataan 2\n"
                                     "      approved_by: \"196803091998031004\"\n      date: 2026-11-10\n")
    else:
        block += "    status: %s\n" % status + deactivation
    path.write_text(text[:start] + block + text[end:])


@contextlib.contextmanager
def registry_kept_on_failure(directory):
    """The shared registry as it was if the test fails: one failure is not every later one's."""
    path = directory.registry / "mail.yml"
    text = path.read_text()
    try:
        yield
    except BaseException:
        path.write_text(text)
        raise


def entry(directory, address, *attributes):
    conn = directory.slapd.root()
    conn.search(directory.dn(address), "(objectClass=*)", ldap3.BASE, attributes=list(attributes) or ["*", "+"])
    return conn.entries[0] if conn.entries else None


def test_active_account_receives_and_reads(directory, mail):
    address = "agus.wahyudi@bekasikota.go.id"
    handed_over = directory.passwords[address]
    send(mail, message(OUTSIDE, address, "Undangan rapat koordinasi"))
    # E6: the handed-over password must be changed first; IMAP says where.
    refused = login_error(mail, address, handed_over)
    assert refused and "Change the password handed over to you first" in refused, refused
    assert login_error(mail, address, "wrong-Password-1") and "Change" not in login_error(
        mail, address, "wrong-Password-2"), "a wrong password learns nothing"
    new = change_password(directory, address, handed_over)
    # Both login forms: the full address and its local part.
    assert "Undangan rapat koordinasi" in wait_for(mail, address, new, "Undangan rapat koordinasi")
    box = Mailbox(mail, "agus.wahyudi", new)
    try:
        assert box.fetch("Undangan rapat koordinasi").get_content().strip() == "Salam."
    finally:
        box.close()
    # The login is a bind as the account: slapd records it (E10 reads it).
    assert entry(directory, address, "pwdLastSuccess").pwdLastSuccess.value is not None


def test_deactivated_refused_then_reactivated_with_its_mail(directory, mail):
    address = "rina.marlina@bekasikota.go.id"
    password = ready_account(directory, address)
    send(mail, message(OUTSIDE, address, "Sebelum dinonaktifkan"))
    assert "Sebelum dinonaktifkan" in wait_for(mail, address, password, "Sebelum dinonaktifkan")
    uuid = entry(directory, address, "entryUUID").entryUUID.value
    home = os.path.join(mail.vars["mail_server__mail_root"], uuid)
    assert os.path.isdir(os.path.join(home, "Maildir")), "the mailbox is named by the entry's entryUUID"

    set_status(directory, address, "deactivated")
    with pytest.raises(Refused) as refused:
        send(mail, message(OUTSIDE, address, "Sesudah dinonaktifkan"))
    assert (refused.value.step, refused.value.code) == ("RCPT", 550) and "5.1.1" in refused.value.text
    assert login_error(mail, address, password), "IMAP login refused"
    with pytest.raises(Refused) as refused:
        send(mail, message(address, INSIDE, "Kirim"), login=(address, password))
    assert refused.value.step == "AUTH" and refused.value.code == 535
    assert os.listdir(os.path.join(home, "Maildir", "new")) or os.listdir(os.path.join(home, "Maildir", "cur")), \
        "the mailbox is kept"

    set_status(directory, address, "active")
    assert "Sebelum dinonaktifkan" in wait_for(mail, address, password, "Sebelum dinonaktifkan")


def test_deleted_and_unknown_recipients_get_550(directory, mail):
    for address in ("nur.aini.rahmawati@bekasikota.go.id", "tidak.ada@bekasikota.go.id"):
        with pytest.raises(Refused) as refused:
            send(mail, message(OUTSIDE, address, "Halo"))
        assert refused.value.code == 550 and "5.1.1" in refused.value.text, refused.value


def test_attachment_limit(directory, mail):
    """E7: a 5 MB attachment passes encoded; 6 MB is refused with the regulation's advice."""
    address = "fajar.nugroho@bekasikota.go.id"
    password = ready_account(directory, address)
    mib = 1024 * 1024
    for size, subject in ((4 * mib, "Lampiran 4 MB"), (5 * mib, "Lampiran 5 MB")):
        send(mail, message(OUTSIDE, address, subject, attachment=os.urandom(size)))
    for declare in (True, False):  # refused at MAIL FROM (SIZE=) and, undeclared, after DATA
        with pytest.raises(Refused) as refused:
            send(mail, message(OUTSIDE, address, "Lampiran 6 MB", attachment=os.urandom(6 * mib)),
                 declare_size=declare)
        assert refused.value.code == 552 and "5.3.4" in refused.value.text
        assert "several messages" in refused.value.text and "document service" in refused.value.text
    seen = wait_for(mail, address, password, "Lampiran 5 MB")
    assert "Lampiran 4 MB" in seen and "Lampiran 5 MB" in seen and "Lampiran 6 MB" not in seen


def test_nobody_sends_in_anothers_name(directory, mail):
    sender = "dewi.anggraeni@bekasikota.go.id"
    other = "yayan.sopyan@bekasikota.go.id"
    password = ready_account(directory, sender)
    other_password = ready_account(directory, other)
    with pytest.raises(Refused) as refused:
        send(mail, message(other, INSIDE, "Atas nama orang lain"), login=(sender, password))
    # Postfix answers the sender's restrictions at RCPT (smtpd_delay_reject).
    assert refused.value.step == "RCPT" and refused.value.code == 553 and "5.7.1" in refused.value.text
    assert "not owned by user" in refused.value.text
    # port 25 has no login: the domain's own addresses are not accepted there
    with pytest.raises(Refused) as refused:
        send(mail, message(sender, other, "Tanpa login"))
    assert (refused.value.step, refused.value.code) == ("RCPT", 554) and "logged-in sender" in refused.value.text
    # submission needs a login
    with pytest.raises(Refused) as refused:
        send(mail, message(sender, other, "Tanpa login"), port=mail.submission_port)
    assert refused.value.code in (530, 554), refused.value
    send(mail, message(sender, other, "Dengan nama sendiri"), login=(sender, password))
    assert "Dengan nama sendiri" in wait_for(mail, other, other_password, "Dengan nama sendiri")
    assert "Atas nama orang lain" not in wait_for(mail, other, other_password, "Tanpa login", timeout=1)


def test_delegates_send_as_the_agency_and_the_position(directory, mail):
    """P17 Pasal 35(2)-(3): an agency's e-mail officer and head send as the agency, a position's
    holder as the position, each logged in with their own account; nobody else does."""
    admin = "siti.nurjanah@bekasikota.go.id"    # SETWAN's mail_admin
    head = "kepala.setwan@bekasikota.go.id"      # SETWAN's head's position account
    password = ready_account(directory, admin)
    head_password = ready_account(directory, head)
    for login in ((admin, password), (head, head_password)):
        send(mail, message("setwan@bekasikota.go.id", INSIDE, "Surat dinas"), login=login)
    with pytest.raises(Refused) as refused:
        send(mail, message("inspektorat@bekasikota.go.id", INSIDE, "Surat lain"), login=(admin, password))
    assert refused.value.code == 553
    with pytest.raises(Refused):
        send(mail, message(head, INSIDE, "Atas nama kepala"), login=(admin, password))
    # The holder of a position account gets a personal account: it may send as the position.
    path = directory.registry / "mail.yml"
    text = path.read_text()
    holder = re.search(r"  - address: sekda@\S+\n(?:    .*\n)*?    holder: \"?([^\"\n]+)\"?\n", text).group(1)
    path.write_text(text.replace("  # --- Personal accounts of ASN (E2, E4)\n",
                                 "  # --- Personal accounts of ASN (E2, E4)\n"
                                 "  - address: y.hermawan@bekasikota.go.id\n    kind: personal\n"
                                 "    owner: SETDA\n    holder: \"%s\"\n    status: active\n" % holder))
    directory.apply()
    personal = ready_account(directory, "y.hermawan@bekasikota.go.id")
    send(mail, message("sekda@bekasikota.go.id", INSIDE, "Sebagai Sekda"),
         login=("y.hermawan@bekasikota.go.id", personal))
    with pytest.raises(Refused):
        send(mail, message("walikota@bekasikota.go.id", INSIDE, "Sebagai Wali Kota"),
             login=("y.hermawan@bekasikota.go.id", personal))


def test_directory_down_defers_and_loses_nothing(directory, mail):
    """A directory that does not answer: Postfix answers 451 (try later), never "unknown";
    mail already queued waits in the queue and is delivered once the directory is back."""
    address = "yayan.sopyan@bekasikota.go.id"
    password = ready_account(directory, address)
    directory.slapd.stop()
    try:
        with pytest.raises(Refused) as refused:
            send(mail, message(OUTSIDE, address, "Saat direktori mati"))
        assert (refused.value.step, refused.value.code) == ("RCPT", 451) and "4.3.0" in refused.value.text
        # Accepted before the outage (here: submitted locally), delivered during it: it waits
        # in the queue (Dovecot's LMTP cannot look the account up), neither bounced nor lost.
        msg = message(OUTSIDE, address, "Antre saat direktori mati")
        subprocess.run(["sendmail", "-C", mail.vars["mail_server__postfix_dir"], "-f", OUTSIDE, address],
                       input=msg.as_bytes(), check=True, timeout=30)
        assert mail.dovecot.wait_until(lambda: len(mail.queue()) == 1, 30), mail.maillog()[-1500:]
        queue_id = mail.queue()[0]["queue_id"]
        time.sleep(5)
        assert [m["queue_id"] for m in mail.queue()] == [queue_id], "still queued"
        assert not re.search(r"%s: .*status=(bounced|sent)" % queue_id, mail.maillog())
    finally:
        directory.slapd.start()
    # Dovecot gives the lookup up after its 60 s; Postfix defers and, asked again, delivers.
    assert mail.dovecot.wait_until(lambda: mail.flush() or not mail.queue(), timeout=150), mail.dovecot_log()[-2500:]
    # Delivered under this queue id or, if cleanup could not yet read the agenda's bcc maps
    # (the directory) when it was submitted, under the one cleanup gave it later: never bounced.
    assert re.search(r": to=<%s>.*status=sent" % re.escape(address), mail.maillog())
    assert not re.search(r": to=<%s>.*status=bounced" % re.escape(address), mail.maillog())
    box = Mailbox(mail, address, password)
    try:
        assert box.subjects().count("Antre saat direktori mati") == 1
    finally:
        box.close()
