#!/usr/bin/env python3
"""Send and read mail through the molecule container's published ports (real clients).

Run by verify.yml with the venv's python, the mail server's certificate as argument.
Prints a JSON list of {"name", "ok", "detail"}. Every connection has a timeout and every
wait a bound: the script ends by itself.
"""
import imaplib
import json
import smtplib
import ssl
import sys
import time

# TEST ONLY: the test account of verify.yml.
USER, PASSWORD = "molecule-mail@bekasikota.go.id", "Molecule-Mail-1"
SMTP, SUBMISSION, IMAP = 25525, 25587, 25143


def main(cert):
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
    found = False
    for _attempt in range(30):
        imap = imaplib.IMAP4("127.0.0.1", IMAP, timeout=30)
        imap.starttls(context)
        imap.login("molecule-mail", PASSWORD)
        imap.select("INBOX", readonly=True)
        found = imap.search(None, "SUBJECT", "molecule")[1][0].split() != []
        imap.logout()
        if found:
            break
        time.sleep(1)
    check("the message is read over IMAP with the local part as login", found)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
