"""E8 through the real servers: the role's Postfix copies every message to or from an agency
account to its agenda (bcc maps on the directory, the pipe "agenda" running the role's
agenda-record), and bin/city-agenda makes the month's report with the numbering flagged.

Accounts of their own: dinkes and dishub (agencies), agus.wahyudi (a person) only receives.
"""
import csv
import datetime
import json
import os
import subprocess
import sys
import time
import zoneinfo

from clients import message, send, wait_for
from paths import EXAMPLE, ROOT
from test_mail_flow import OUTSIDE, ready_account

DINKES = "dinkes@bekasikota.go.id"
DISHUB = "dishub@bekasikota.go.id"
PERSON = "agus.wahyudi@bekasikota.go.id"
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def records(mail, localpart, want, timeout=60):
    """The agenda's records of ``localpart`` this month, once there are ``want`` of them."""
    month = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")
    path = mail.work / "agenda" / localpart / ("%s.jsonl" % month)
    deadline = time.monotonic() + timeout
    while True:
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        mail.flush()
        time.sleep(0.5)


def test_a_day_of_agency_mail_in_the_agenda_and_its_report(directory, mail, tmp_path):
    now = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta"))
    suffix = "/%s/%d" % (ROMAN[now.month - 1], now.year)
    password = ready_account(directory, DINKES)
    login = (DINKES, password)
    # The agency's outgoing mail: 001 with an attachment, 001 again, one without a number, 004.
    day = [("Undangan rapat", "001" + suffix, b"%PDF-1.4 undangan"), ("Undangan ulang", "001" + suffix, None),
           ("Tanpa nomor", None, None), ("Laporan bulanan", "004" + suffix, None)]
    for subject, number, attachment in day:
        body = ("%s\n\nYth. Kepala Dinas Perhubungan\n\nSalam.\n" % number) if number else "Yth. Bapak\n\nSalam.\n"
        send(mail, message(DINKES, DISHUB, subject, body=body, attachment=attachment), login=login)
    # Incoming from outside, to the agency and to a person (no agenda).
    send(mail, message(OUTSIDE, DINKES, "Surat masuk", body="12/III/2026\n\nYth. Dinas Kesehatan\n"))
    send(mail, message(OUTSIDE, PERSON, "Bukan agenda", body="Salam.\n"))

    out = [r for r in records(mail, "dinkes", 5) if r["direction"] == "out"]
    assert sorted(r["subject"] for r in out) == sorted(s for s, _n, _a in day)
    assert {r["subject"]: r["number"] for r in out}["Laporan bulanan"] == "004" + suffix
    incoming = [r for r in records(mail, "dinkes", 5) if r["direction"] == "in"]
    assert [(r["subject"], r["number"]) for r in incoming] == [("Surat masuk", "012/III/2026")]
    # The recipient agency records the same messages as incoming; the attachment's message is kept whole.
    dishub = records(mail, "dishub", 4)
    assert sorted(r["subject"] for r in dishub) == sorted(s for s, _n, _a in day)
    assert {r["direction"] for r in dishub} == {"in"}
    kept = [r for r in dishub if r["attachments"]]
    assert len(kept) == 1 and (mail.work / "agenda" / "dishub" / kept[0]["archive"]).is_file()
    assert not (mail.work / "agenda" / "agus.wahyudi").exists(), "a person's mail has no agenda"
    # The official messages themselves arrived as usual.
    assert "Undangan rapat" in wait_for(mail, DISHUB, ready_account(directory, DISHUB), "Undangan rapat")

    report = tmp_path / "agenda"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "city-agenda"), "--store",
                           str(mail.work / "agenda"), "--registry", EXAMPLE, "--month", now.strftime("%Y-%m"),
                           "--out", str(report)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with open(report / ("agenda-DINKES-%s.csv" % now.strftime("%Y-%m")), encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    by_subject = {r["Subject"]: r for r in table}
    assert by_subject["Tanpa nomor"]["Number problem"] == "missing"
    page = (report / ("agenda-DINKES-%s.html" % now.strftime("%Y-%m"))).read_text(encoding="utf-8")
    assert ("001%s on 2 messages" % suffix) in page, "the repeated number is flagged"
    assert ("no message numbered 002%s" % suffix) in page and ("no message numbered 003%s" % suffix) in page, \
        "the missing numbers are flagged"
