#!/usr/bin/env python3
"""Send and read mail through the molecule container's published ports (real clients).

Run by verify.yml with the venv's python, the mail server's certificate and the DKIM
private key of the run (prepare.yml) as arguments.
Prints a JSON list of {"name", "ok", "detail"}. Every connection has a timeout and every
wait a bound: the script ends by itself.
"""
import base64
import email
import imaplib
import json
import smtplib
import ssl
import sys
import time

import dkim
from cryptography.hazmat.primitives import serialization

# TEST ONLY: the test account of verify.yml.
USER, PASSWORD = "molecule-mail@bekasikota.go.id", "Molecule-Mail-1"
SMTP, SUBMISSION, IMAP = 25525, 25587, 25143


def dkim_dns(private_key_file):
    """The TXT record dns_zone publishes for city2026, from the run's key (dkimpy's dnsfunc)."""
    with open(private_key_file, "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        if name.rstrip(".") == "city2026._domainkey.bekasikota.go.id":
            return ("v=DKIM1; k=rsa; p=" + public).encode()
        return None
    return lookup


def read(context, subject):
    """The one message with ``subject`` in the test account's INBOX, waiting up to 30 s."""
    for _attempt in range(30):
        imap = imaplib.IMAP4("127.0.0.1", IMAP, timeout=30)
        imap.starttls(context)
        imap.login("molecule-mail", PASSWORD)
        imap.select("INBOX", readonly=True)
        nums = imap.search(None, "SUBJECT", subject)[1][0].split()
        raw = imap.fetch(nums[-1], "(BODY.PEEK[])")[1][0][1] if nums else None
        imap.logout()
        if raw:
            return raw
        time.sleep(1)
    return None


def main(cert, dkim_key):
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False  # the certificate names mail.<domain>; the port is 127.0.0.1
    results = []

    def check(name, ok, detail=""):
        results.append({"name": name, "ok": bool(ok), "detail": str(detail)[:300]})

    with smtplib.SMTP("127.0.0.1", SMTP, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.ehlo("molecule.test.invalid")
        smtp.mail("warga@example.org")
        code, text = smtp.rcpt(USER)
        check("an active account receives", code == 250, text)
        smtp.data(b"Subject: molecule\r\n\r\nSalam.\r\n")
        smtp.rset()
        smtp.mail("warga@example.org")
        code, text = smtp.rcpt("tidak.ada@bekasikota.go.id")
        check("an unknown address gets 550 5.1.1", code == 550 and b"5.1.1" in text, text)
    with smtplib.SMTP("127.0.0.1", SUBMISSION, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(USER, PASSWORD)
        smtp.mail("walikota@bekasikota.go.id")
        code, text = smtp.rcpt(USER)
        check("submission refuses another's sender", code == 553, text)
        smtp.rset()
        signed = ("From: %s\r\nTo: %s\r\nSubject: molecule-dkim\r\nMessage-ID: <molecule-dkim@molecule.invalid>"
                  "\r\n\r\nSalam.\r\n" % (USER, USER)).encode()
        refused = smtp.sendmail(USER, [USER], signed)
        check("submission accepts the login's own mail", refused == {}, refused)
    check("the message is read over IMAP with the local part as login", read(context, "molecule"))
    check("the notice sent by notice-deliver arrived", read(context, "molecule-notice"))
    imap = imaplib.IMAP4("127.0.0.1", IMAP, timeout=30)
    imap.starttls(context)
    imap.login("molecule-mail", PASSWORD)
    quota = imap.getquotaroot("INBOX")
    imap.logout()
    check("the mailbox has its 50 MiB quota", b"51200)" in b" ".join(d for d in quota[1][1] if d), quota)
    raw = read(context, "molecule-dkim")
    header = email.message_from_bytes(raw or b"")["DKIM-Signature"] or ""
    check("submitted mail is signed by city2026", "s=city2026" in header.replace(" ", ""), header)
    check("its signature verifies with the published key",
          raw is not None and dkim.verify(raw, dnsfunc=dkim_dns(dkim_key)), header)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
