"""A full mailbox through the real servers: Postfix and Dovecot of the role with a 1 MiB
quota (their own instance on the session's directory). Refused at RCPT with 452 4.2.2
when the declared size does not fit; a message Postfix had already accepted waits in its
queue, neither bounced nor lost, and is delivered once the holder has made room.

Account: citra.kirana (personal).
"""
import os
import re
import shutil
import tempfile

import pytest

from clients import Mailbox, Refused, message, send, wait_for
from mail_servers import MailServers
from test_mail_flow import OUTSIDE, ready_account

ADDRESS = "citra.kirana@bekasikota.go.id"
KIB = 1024


@pytest.fixture(scope="module")
def small(directory):
    work = tempfile.mkdtemp(prefix="city-test-quota-")
    os.chmod(work, 0o755)
    servers = MailServers(work, directory.slapd, mail_server__quota_mb=1).start()
    yield servers
    servers.stop()
    shutil.rmtree(work, ignore_errors=True)


def test_a_full_mailbox_defers_and_loses_nothing(directory, small):
    password = ready_account(directory, ADDRESS)
    for n in (1, 2):  # 2 x 400 KiB of a 1 MiB mailbox
        send(small, message(OUTSIDE, ADDRESS, "Isi %d" % n, attachment=os.urandom(300 * KIB)))
    assert "Isi 2" in wait_for(small, ADDRESS, password, "Isi 2")
    box = Mailbox(small, ADDRESS, password)
    try:
        typ, data = box.imap.getquotaroot("INBOX")
        assert typ == "OK" and re.search(rb"STORAGE \d+ 1024\)", b" ".join(d for d in data[1] if d)), data
    finally:
        box.close()
    # Declared size over what is left: refused at RCPT, temporarily (the sender keeps it).
    with pytest.raises(Refused) as refused:
        send(small, message(OUTSIDE, ADDRESS, "Tidak muat", attachment=os.urandom(300 * KIB)))
    assert (refused.value.step, refused.value.code) == ("RCPT", 452) and "4.2.2" in refused.value.text
    # Undeclared: Postfix accepts it, Dovecot cannot store it: it waits in the queue.
    send(small, message(OUTSIDE, ADDRESS, "Menunggu ruang", attachment=os.urandom(300 * KIB)), declare_size=False)
    assert small.dovecot.wait_until(lambda: re.search(r"to=<%s>.*status=deferred.*4\.2\.2" % re.escape(ADDRESS),
                                                      small.maillog()), 30), small.maillog()[-1500:]
    assert len(small.queue()) == 1 and "bounced" not in small.maillog()
    # The holder makes room: the waiting message is delivered, once.
    box = Mailbox(small, ADDRESS, password)
    try:
        box.imap.select("INBOX")
        for num in box.imap.search(None, "SUBJECT", '"Isi"')[1][0].split():
            box.imap.store(num, "+FLAGS", "\\Deleted")
        box.imap.expunge()
    finally:
        box.close()
    assert small.dovecot.wait_until(lambda: small.flush() or not small.queue(), 60), small.maillog()[-1500:]
    assert wait_for(small, ADDRESS, password, "Menunggu ruang").count("Menunggu ruang") == 1
