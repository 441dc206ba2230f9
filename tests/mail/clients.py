"""Real SMTP and IMAP clients (smtplib, imaplib) for the mail tests, TLS verified against the
session's test CA, every wait bounded."""
import email
import email.policy
import imaplib
import smtplib
import ssl
import time
from email.message import EmailMessage


def tls_context(ca_file):
    return ssl.create_default_context(cafile=ca_file)


def message(sender, to, subject, body="Salam.\n", attachment=None, attachment_name="lampiran.pdf"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = email.utils.make_msgid(domain="test.invalid")
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=attachment_name)
    return msg


class Refused(Exception):
    """The server refused a step: ``code`` and ``text`` are its answer."""

    def __init__(self, step, code, text):
        super().__init__("%s: %s %s" % (step, code, text))
        self.step, self.code, self.text = step, code, text


def send(servers, msg, sender=None, recipients=None, login=None, port=None, declare_size=True):
    """Send ``msg`` over SMTP: to port 25, or with ``login`` (address, password) to submission
    after STARTTLS. Raises Refused with the server's answer at the step that failed."""
    sender = sender or msg["From"]
    recipients = recipients or [msg["To"]]
    data = msg.as_bytes(policy=email.policy.SMTP)
    port = port or (servers.submission_port if login else servers.smtp_port)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test.invalid")
        try:
            smtp.starttls(context=tls_context(servers.ca_file))
        except smtplib.SMTPResponseException as exc:
            raise Refused("STARTTLS", exc.smtp_code, exc.smtp_error.decode(errors="replace"))
        smtp.ehlo("client.test.invalid")
        if login:
            try:
                smtp.login(*login)
            except smtplib.SMTPAuthenticationError as exc:
                raise Refused("AUTH", exc.smtp_code, exc.smtp_error.decode(errors="replace"))
        options = ["SIZE=%d" % len(data)] if declare_size else []
        code, text = smtp.mail(sender, options)
        if code != 250:
            raise Refused("MAIL", code, text.decode(errors="replace"))
        for rcpt in recipients:
            code, text = smtp.rcpt(rcpt)
            if code not in (250, 251):
                raise Refused("RCPT", code, text.decode(errors="replace"))
        code, text = smtp.data(data)
        if code != 250:
            raise Refused("DATA", code, text.decode(errors="replace"))
        return text.decode(errors="replace")


class Mailbox:
    """An IMAP session of one account (STARTTLS on the IMAP port, verified)."""

    def __init__(self, servers, user, password):
        self.imap = imaplib.IMAP4("127.0.0.1", servers.imap_port, timeout=30)
        self.imap.starttls(tls_context(servers.ca_file))
        self.imap.login(user, password)

    def subjects(self, mailbox="INBOX"):
        self.imap.select(mailbox, readonly=True)
        typ, data = self.imap.search(None, "ALL")
        subjects = []
        for num in data[0].split():
            typ, parts = self.imap.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects.append(email.message_from_bytes(parts[0][1], policy=email.policy.default)["Subject"])
        return subjects

    def fetch(self, subject, mailbox="INBOX"):
        self.imap.select(mailbox, readonly=True)
        typ, data = self.imap.search(None, "SUBJECT", '"%s"' % subject)
        nums = data[0].split()
        assert len(nums) == 1, "%d messages with subject %r" % (len(nums), subject)
        typ, parts = self.imap.fetch(nums[0], "(RFC822)")
        return email.message_from_bytes(parts[0][1], policy=email.policy.default)

    def close(self):
        try:
            self.imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def login_error(servers, user, password):
    """The text of an IMAP login's refusal, None when it is accepted."""
    imap = imaplib.IMAP4("127.0.0.1", servers.imap_port, timeout=30)
    imap.starttls(tls_context(servers.ca_file))
    try:
        imap.login(user, password)
    except imaplib.IMAP4.error as exc:
        return str(exc)
    imap.logout()
    return None


def wait_for(servers, user, password, subject, timeout=30):
    """Poll the mailbox until ``subject`` is there (bounded); the subjects seen."""
    deadline = time.monotonic() + timeout
    while True:
        box = Mailbox(servers, user, password)
        try:
            seen = box.subjects()
        finally:
            box.close()
        if subject in seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.3)
