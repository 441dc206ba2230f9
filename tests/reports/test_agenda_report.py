"""E8: the monthly control agenda of an agency, from a day of traffic recorded by the real
recorder (roles/mail_server/files/agenda-record, run as Postfix's pipe runs it), read back
and written as HTML and CSV; the numbering problems flagged, hostile values made harmless."""
import csv
import email.policy
import json
import os
import shutil
import subprocess
import sys
from email.message import EmailMessage

import pytest

from paths import EXAMPLE, ROOT

from ansible.module_utils.city.reports import agenda

SCRIPT = os.path.join(ROOT, "roles", "mail_server", "files", "agenda-record")
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
HOSTILE = "=cmd|' /C calc'!A0 <script>alert(1)</script>"
PDF = b"%PDF-1.4\n%%EOF\n"

# A day of setda's mail: (direction, sender, body's first line, subject, attachment?).
DAY = [
    ("out", "setda@bekasikota.go.id", "001/XII/2026", "Undangan rapat koordinasi", True),
    ("out", "setda@bekasikota.go.id", "002/XII/2026", "Surat edaran", False),
    ("out", "setda@bekasikota.go.id", "Nomor: 004/XII/2026", HOSTILE, False),          # 003 is missing
    ("out", "setda@bekasikota.go.id", "002/XII/2026", "Nota dinas", False),            # 002 again
    ("out", "setda@bekasikota.go.id", "Nomor: 5/XIII/2026", "Pengumuman", False),      # malformed
    ("out", "setda@bekasikota.go.id", "Bekasi, 4 Desember 2026", "Tanpa nomor", False),  # no number
    ("out", "setda@bekasikota.go.id", "006/XI/2026", "Laporan", False),                # November's number
    ("in", "inspektorat@bekasikota.go.id", "Nomor: 007/XII/2026", "Laporan hasil pemeriksaan", True),
    ("in", "inspektorat@bekasikota.go.id", "007/XII/2026", "Laporan (ulang)", False),  # repeated by its sender
    ("in", "dinkes@bekasikota.go.id", "007/XII/2026", "Data kesehatan", False),        # another sender's 007
    ("in", "warga@example.org", "Selamat pagi", "Pertanyaan warga", False),             # no number
]


def message(i, direction, sender, first_line, subject, attach):
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = "setda@bekasikota.go.id" if direction == "in" else "umum@bekasikota.go.id"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 04 Dec 2026 %02d:%02d:00 +0700" % (8 + i // 6, (i * 7) % 60)
    msg["Message-ID"] = "<day-%d@bekasikota.go.id>" % i
    msg.set_content("%s\n\nYth. Bapak/Ibu\n\nDengan hormat, ...\n" % first_line)
    if attach:
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="surat-%d.pdf" % i)
    return msg.as_bytes()


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "agenda"
    path.mkdir()
    for i, (direction, sender, first, subject, attach) in enumerate(DAY):
        data = message(i, direction, sender, first, subject, attach)
        result = subprocess.run([PYTHON, SCRIPT, "--store", str(path), "%s.setda@agenda.invalid" % direction],
                                input=data, stderr=subprocess.PIPE, timeout=60)
        assert result.returncode == 0, result.stderr
    # A repeated delivery of the first message and a line torn by a crash: neither shows twice.
    result = subprocess.run([PYTHON, SCRIPT, "--store", str(path), "out.setda@agenda.invalid"],
                            input=message(0, *DAY[0]), stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 0
    with open(path / "setda" / "2026-12.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"key": "out message-id <torn@x>", "dire\n')
    return path


def kinds(problems, direction):
    return sorted((p["kind"], p["number"]) for p in problems if p["direction"] == direction)


def test_the_month_is_read_once_per_message(store):
    rows, skipped = agenda.read_agenda(str(store), "setda", 2026, 12)
    assert skipped == 1
    assert agenda.agenda_rows(str(store), "setda", 2026, 12) == rows
    assert [r["subject"] for r in rows] == [d[3] for d in DAY]
    assert [r["agenda_no"] for r in rows if r["direction"] == "out"] == ["%03d/XII/2026" % n for n in range(1, 8)]
    assert [r["agenda_no"] for r in rows if r["direction"] == "in"] == ["%03d/XII/2026" % n for n in range(1, 5)]
    assert agenda.agenda_rows(str(store), "setda", 2026, 11) == []
    with pytest.raises(agenda.AgendaError):
        agenda.agenda_rows(str(store), "../setda", 2026, 12)


def test_the_problems_of_each_sequence(store):
    rows = agenda.agenda_rows(str(store), "setda", 2026, 12)
    problems = agenda.agenda_problems(rows, 2026, 12)
    assert kinds(problems, "out") == [
        ("gap", "003/XII/2026"), ("malformed", "5/XIII/2026"), ("no-number", None),
        ("repeated", "002/XII/2026"), ("wrong-month", "006/XI/2026")]
    # Incoming numbers are their senders': a repeat by one sender is flagged, the same number
    # from another sender is not, and their gaps are none of this agency's business.
    assert kinds(problems, "in") == [("no-number", None), ("repeated", "007/XII/2026")]
    repeated = [p for p in problems if p["kind"] == "repeated" and p["direction"] == "in"][0]
    assert repeated["agenda_no"] == ["001/XII/2026", "002/XII/2026"]
    assert "inspektorat@bekasikota.go.id" in repeated["detail"]
    wrong = [p for p in problems if p["kind"] == "wrong-month"][0]
    assert "2026-11" in wrong["detail"] and "2026-12" in wrong["detail"]
    # Asked for, incoming gaps are listed per sender (inspektorat's 001 to 006).
    with_in = agenda.agenda_problems([dict(r, problems=[]) for r in rows], 2026, 12, gap_directions=("in", "out"))
    assert len([p for p in with_in if p["kind"] == "gap" and p["direction"] == "in"]) == 12


def test_a_long_gap_is_one_range_and_a_lost_record_is_seen(store):
    rows = agenda.agenda_rows(str(store), "setda", 2026, 12)
    outgoing = [r for r in rows if r["direction"] == "out"]
    outgoing[1]["number"] = "900/XII/2026"
    del outgoing[2:4]  # agenda 003 and 004 lost
    problems = agenda.agenda_problems(outgoing, 2026, 12)
    assert ("gap", "002/XII/2026 to 899/XII/2026") in kinds(problems, "out")
    assert ("agenda-gap", "3 to 4") in kinds(problems, "out")


def test_the_report_files(store, tmp_path, ctx):
    rows, skipped = agenda.read_agenda(str(store), "setda", 2026, 12)
    out = tmp_path / "reports" / "agenda"
    paths = agenda.write_agenda_report(str(out), "SETDA", "Sekretariat Daerah", 2026, 12, rows, ctx=ctx,
                                       skipped=skipped)
    assert paths == [str(out / "agenda-SETDA-2026-12.html"), str(out / "agenda-SETDA-2026-12.csv")]
    page = (out / "agenda-SETDA-2026-12.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sekretariat Daerah (SETDA)" in page and "December 2026" in page
    assert "Perwal Kota Bekasi 17/2023 Pasal 33-34" in page  # E8's article, from city.yml
    for text in ("no message numbered 003/XII/2026", "5/XIII/2026", "002/XII/2026 on 2 messages",
                 "007/XII/2026 on 2 messages from inspektorat@bekasikota.go.id",
                 "no number at the top of the body", "1 line(s) of the agenda store could not be read",
                 "archived: <span class=\"mono\">archive/2026-12/", "surat-0.pdf (application/pdf, 15 bytes"):
        assert text in page, text

    with open(out / "agenda-SETDA-2026-12.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(DAY) + 1  # every message, and the gap's row
    by_subject = {r["Subject"]: r for r in table}
    assert by_subject["'" + HOSTILE]["Number"] == "004/XII/2026"  # the formula neutralised
    assert HOSTILE not in by_subject
    assert by_subject["Pengumuman"]["Number as typed"] == "5/XIII/2026"
    assert by_subject["Pengumuman"]["Number problem"].startswith("malformed: ")
    assert by_subject["Tanpa nomor"]["Number problem"] == "missing"
    assert "repeated: 002/XII/2026 on 2 messages" in by_subject["Nota dinas"]["Problems"]
    assert by_subject["Laporan"]["Problems"].startswith("wrong-month: 006/XI/2026")
    [gap] = [r for r in table if r["Problems"].startswith("gap:")]
    assert gap["Direction"] == "out" and gap["Number"] == "003/XII/2026" and gap["Subject"] == ""
    first = by_subject["Undangan rapat koordinasi"]
    assert first["Attachments"].startswith("surat-0.pdf (application/pdf, 15 bytes, sha256 ")
    assert first["Archive copy"].startswith("archive/2026-12/") and first["Agenda no."] == "001/XII/2026"


def test_a_hostile_agency_code_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        agenda.write_agenda_report(str(tmp_path / "out"), "../SETDA", "x", 2026, 12, [])
    assert not (tmp_path / "out").exists()


def test_the_command_writes_one_report_per_agency_account_of_the_store(store, tmp_path):
    (store / "notanagency").mkdir()
    shutil.copytree(store / "setda", store / "inspektorat")
    out = tmp_path / "reports" / "agenda"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "city-agenda"), "--store", str(store),
                             "--registry", EXAMPLE, "--month", "2026-12", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["agenda-INSPEKTORAT-2026-12.csv", "agenda-INSPEKTORAT-2026-12.html",
                                       "agenda-SETDA-2026-12.csv", "agenda-SETDA-2026-12.html"]
    assert "'notanagency' in the store is not an agency account" in result.stderr
    assert "Inspektorat" in (out / "agenda-INSPEKTORAT-2026-12.html").read_text(encoding="utf-8")
    bad = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "city-agenda"), "--store", str(store),
                          "--registry", EXAMPLE, "--month", "2026-13", "--out", str(out)],
                         stderr=subprocess.PIPE, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "not YYYY-MM" in bad.stderr


def test_records_are_json_lines_the_report_reads_tolerantly(tmp_path):
    store = tmp_path / "agenda"
    (store / "umum").mkdir(parents=True)
    lines = [json.dumps({"key": "in x", "direction": "in", "agenda_seq": True, "from": "not a list",
                         "attachments": "oops", "number": 14, "date": "garbage"}),
             json.dumps(["not", "a", "record"]), json.dumps({"key": "y", "direction": "sideways"}), ""]
    (store / "umum" / "2026-12.jsonl").write_text("\n".join(lines), encoding="utf-8")
    rows, skipped = agenda.read_agenda(str(store), "umum", 2026, 12)
    assert skipped == 2 and len(rows) == 1
    assert rows[0]["from"] == ["not a list"] and rows[0]["agenda_seq"] is None and rows[0]["attachments"] == []
    problems = agenda.agenda_problems(rows, 2026, 12)
    assert [p["kind"] for p in problems] == ["malformed"]
    out = tmp_path / "out"
    agenda.write_agenda_report(str(out), "UMUM", "Bagian Umum", 2026, 12, rows)
    with open(out / "agenda-UMUM-2026-12.csv", encoding="utf-8", newline="") as fh:
        text = fh.read()
    assert text.count("\r\n") == 2 and "is not a valid number" in text
