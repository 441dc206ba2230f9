"""E10 through the real servers: mail_unused's warnings handed to the role's notice-deliver
reach the holder's mailbox and the agency admin's, signed, with a Message-ID on the main
domain, each exactly once whatever happens to the files; nobody else may send that id.

Accounts: setda (its warning and its admin's copy); the rest only receive a warning.
"""
import datetime
import email
import email.policy
import re
import shutil
from pathlib import Path

import pytest

from clients import Mailbox, Refused, message, send, wait_for
from module_runner import run_module
from test_mail_flow import OUTSIDE, ready_account

HOLDER = "setda@bekasikota.go.id"
SUBJECT = "Peringatan: akun e-mail tidak digunakan"


@pytest.fixture(scope="module")
def warnings(directory, mail, tmp_path_factory):
    """mail_unused run as playbooks/mail.yml runs it, 40 days on: its spool and the result."""
    spool = tmp_path_factory.mktemp("warnings")
    later = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()
    args = dict(registry_dir=str(directory.registry), **directory.slapd.connection_args(),
                spool_dir=str(spool), today=later)
    result = run_module("mail_unused", args)
    assert not result.get("failed") and result["queued"], result.get("msg")
    mine = next(q for q in result["queued"] if q.endswith("-setda.eml"))
    return dict(spool=spool, args=args, result=result, file=Path(mine),
                message=email.message_from_bytes(Path(mine).read_bytes(), policy=email.policy.default))


def hand_over(mail, spool):
    """What playbooks/mail.yml does: this period's files into the server's new/, kept if there."""
    new = Path(mail.vars["mail_server__notice_spool"]) / "new"
    for path in Path(spool).glob("*.eml"):
        if not (new / path.name).exists():
            shutil.copy(path, new / path.name)
            shutil.chown(new / path.name, "nobody", "nogroup")


def copies(mail, directory, address, message_id):
    """How many messages with ``message_id`` the mailbox of ``address`` holds."""
    box = Mailbox(mail, address, ready_account(directory, address))
    try:
        box.imap.select("INBOX", readonly=True)
        return len(box.imap.search(None, "HEADER", "Message-ID", message_id)[1][0].split())
    finally:
        box.close()


def test_a_warning_reaches_the_holder_and_the_admin_once(directory, mail, warnings):
    msg = warnings["message"]
    admin = msg["Cc"].addresses[0].addr_spec
    assert msg["To"].addresses[0].addr_spec == HOLDER and admin.endswith("@bekasikota.go.id")
    assert msg["Message-ID"].endswith("@bekasikota.go.id>"), "a Message-ID on the main domain"
    hand_over(mail, warnings["spool"])
    run = mail.deliver_notices()
    assert run.returncode == 0, run.stderr
    assert "%s sent" % warnings["file"].name in run.stdout
    for address in (HOLDER, admin):
        found = wait_for(mail, address, ready_account(directory, address), SUBJECT)
        assert any(s.startswith(SUBJECT) for s in found), mail.maillog()[-1500:]
        assert copies(mail, directory, address, msg["Message-ID"]) == 1
    box = Mailbox(mail, HOLDER, ready_account(directory, HOLDER))
    try:
        received = box.fetch(SUBJECT)
    finally:
        box.close()
    assert "d=bekasikota.go.id" in received["DKIM-Signature"].replace(" ", ""), "signed as the city's mail"
    assert not list((Path(mail.vars["mail_server__notice_spool"]) / "new").glob("*.eml"))


def test_once_whatever_happens_to_the_files(directory, mail, warnings):
    """Handed over again, the spool's sent/ keeps it from sendmail; re-sent after a crash
    (left in sending/), Dovecot drops the copy; the module queues nothing again even
    when the control node's files were removed."""
    msg = warnings["message"]
    spool = Path(mail.vars["mail_server__notice_spool"])
    name = warnings["file"].name
    assert (spool / "sent" / name).exists(), "the first test sent it"
    hand_over(mail, warnings["spool"])
    again = mail.deliver_notices()
    assert again.returncode == 0 and "%s sent" % name not in again.stdout, again.stdout
    # A run killed after sendmail took the message, before it was moved to sent/.
    shutil.copy(spool / "sent" / name, spool / "sending" / name)
    shutil.chown(spool / "sending" / name, "nobody", "nogroup")
    resent = mail.deliver_notices()
    assert resent.returncode == 0 and "%s sent" % name in resent.stdout, resent.stderr
    assert mail.dovecot.wait_until(lambda: not mail.queue(), 30), mail.queue()
    assert copies(mail, directory, HOLDER, msg["Message-ID"]) == 1, "Dovecot dropped the copy"
    assert re.search(r"sieve: msgid=%s.*discard" % re.escape(msg["Message-ID"]), mail.dovecot_log()), \
        mail.dovecot_log()[-1500:]
    for path in Path(warnings["spool"]).glob("*.eml"):
        path.unlink()
    rerun = run_module("mail_unused", warnings["args"])
    assert rerun["queued"] == [] and not rerun["changed"]


@pytest.mark.parametrize("how", ["port 25", "submission"])
def test_nobody_else_sends_a_notices_message_id(directory, mail, warnings, how):
    """A forged notice would make Dovecot drop the real one as its duplicate."""
    forged = message(OUTSIDE, HOLDER, "Pemberitahuan palsu")
    forged.replace_header("Message-ID", warnings["message"]["Message-ID"].replace("setda", "damkar"))
    if how == "submission":
        sender = "disdik@bekasikota.go.id"
        forged.replace_header("From", sender)
        with pytest.raises(Refused) as refused:
            send(mail, forged, sender=sender, login=(sender, ready_account(directory, sender)))
    else:
        with pytest.raises(Refused) as refused:
            send(mail, forged)
    assert (refused.value.step, refused.value.code) == ("DATA", 550), refused.value
    assert "reserved" in refused.value.text
