"""The agenda recorder (E8, roles/mail_server/files/agenda-record) run as Postfix's pipe runs it:
the real script in a subprocess of the system's python3, a message built with the email
package on stdin, the outcome read from the agenda store on disk."""
import concurrent.futures
import fcntl
import email.policy
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from email.message import EmailMessage

import pytest

from paths import ROOT

from ansible.module_utils.city.registry import numbering

SCRIPT = os.path.join(ROOT, "roles", "mail_server", "files", "agenda-record")
# The server's interpreter: no venv there, standard library only.
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
RECEIVED = ("from kominfo.bekasikota.go.id (kominfo.bekasikota.go.id [192.0.2.10]) by mail.bekasikota.go.id "
            "(Postfix) with ESMTPS id 4AbCd; Tue, 1 Dec 2026 08:00:00 +0700 (WIB)")


def message(body="014/XII/2026\n\nYth. Inspektur\n\nDengan hormat, ...", subject="Undangan rapat",
            sender="Sekretariat Daerah <setda@bekasikota.go.id>", to="inspektorat@bekasikota.go.id",
            cc=None, date="Fri, 04 Dec 2026 09:15:00 +0700", message_id="<agenda-1@bekasikota.go.id>",
            html=None, attachments=(), received=RECEIVED):
    msg = EmailMessage(policy=email.policy.SMTP)
    if received:
        msg["Received"] = received
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if date:
        msg["Date"] = date
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    # What pipe's flags=R puts first.
    return b"Return-Path: <setda@bekasikota.go.id>\r\n" + msg.as_bytes()


def record(store, data, recipient="out.setda@agenda.invalid", *options):
    return subprocess.run([PYTHON, SCRIPT, "--store", str(store), *options, recipient], input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


def records(store, account="setda", month="2026-12"):
    path = os.path.join(str(store), account, month + ".jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "agenda"
    path.mkdir()
    return path


def test_plain_message_is_recorded_with_its_number(store):
    data = message(body="                                        014/XII/2026\n\nYth. Inspektur Kota\n\n"
                        "Nomor: 999/XII/2026 is further down and not read\n", cc="Umum <umum@bekasikota.go.id>")
    result = record(store, data)
    assert result.returncode == 0, result.stderr
    [rec] = records(store)
    assert rec["direction"] == "out" and rec["account"] == "setda"
    assert rec["date"] == "2026-12-04T09:15:00+07:00" and rec["date_source"] == "Date"
    assert rec["from"] == ["Sekretariat Daerah <setda@bekasikota.go.id>"]
    assert rec["to"] == ["inspektorat@bekasikota.go.id"] and rec["cc"] == ["Umum <umum@bekasikota.go.id>"]
    assert rec["subject"] == "Undangan rapat" and rec["message_id"] == "<agenda-1@bekasikota.go.id>"
    assert rec["number"] == "014/XII/2026" and rec["number_text"] == "014/XII/2026"
    assert rec["number_problem"] is None and rec["number_line"] == "014/XII/2026"
    assert rec["agenda_seq"] == 1 and rec["agenda_no"] == "001/XII/2026"
    assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["size"] == len(data)
    assert rec["attachments"] == [] and rec["archive"] is None and rec["truncated"] is False
    assert not os.path.exists(store / "setda" / "archive")


def test_html_body_label_and_spaces_around_slashes(store):
    html = ('<html><head><style>p {color: red}</style></head><body>'
            '<p style="text-align: right">Nomor&nbsp;: 02 / XII / 2026</p><p>Yth. Kepala Dinas</p></body></html>')
    # An HTML-only message: no text/plain part to read first.
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "setda@bekasikota.go.id", "dinkes@bekasikota.go.id", "HTML"
    msg["Date"], msg["Message-ID"] = "Fri, 04 Dec 2026 10:00:00 +0700", "<agenda-html@x>"
    msg.set_content(html, subtype="html")
    result = record(store, msg.as_bytes(), "in.setda@agenda.invalid")
    assert result.returncode == 0, result.stderr
    [rec] = records(store)
    assert rec["direction"] == "in"
    assert rec["number"] == "002/XII/2026" and rec["number_text"] == "02 / XII / 2026"
    assert rec["number_line"] == "Nomor : 02 / XII / 2026" and rec["number_problem"] is None


def test_attachments_are_listed_and_the_message_archived_whole(store):
    data = message(attachments=[("Undangan Rapat.pdf", PDF, "application", "pdf"),
                                ("daftar.csv", b"nama,nip\n", "text", "csv")])
    result = record(store, data)
    assert result.returncode == 0, result.stderr
    [rec] = records(store)
    digest = hashlib.sha256(data).hexdigest()
    assert rec["attachments"] == [
        {"filename": "Undangan Rapat.pdf", "content_type": "application/pdf", "size": len(PDF),
         "sha256": hashlib.sha256(PDF).hexdigest()},
        {"filename": "daftar.csv", "content_type": "text/csv", "size": 9,
         "sha256": hashlib.sha256(b"nama,nip\n").hexdigest()}]
    assert rec["archive"] == "archive/2026-12/%s.eml" % digest
    archived = store / "setda" / rec["archive"]
    assert archived.read_bytes() == data
    assert oct(archived.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in archived.parent.iterdir()] == [archived.name]  # no temporary file left


@pytest.mark.parametrize("body, problem", [
    ("Yth. Inspektur\n014/XII/2026 after the salutation\n", "missing"),
    ("Dengan hormat,\nNomor: 014/XII/2026\n", "missing"),
    ("Bekasi, 4 Desember 2026\nKepada\nYth. Inspektur\n", "missing"),
    ("one\ntwo\nthree\nfour\nfive\n014/XII/2026\n", "missing"),  # past the first 5 non-empty lines
])
def test_no_number(store, body, problem):
    assert record(store, message(body=body)).returncode == 0
    [rec] = records(store)
    assert rec["number"] is None and rec["number_problem"] == problem and rec["number_text"] is None


@pytest.mark.parametrize("body, typed, why", [
    ("14-XII-2026\n", None, None),  # no slash group: not a candidate at all
    ("Nomor: 14-XII-2026\n", "14-XII-2026", "is not a mail number"),
    ("014/13/2026\n", "014/13/2026", "is not a mail number"),
    ("014/IIII/2026\n", "014/IIII/2026", "is not a month in Roman numerals"),
    ("014/xii/2026\n", "014/xii/2026", "is not a mail number"),
    ("000/XII/2026\n", "000/XII/2026", "sequence number must be 1 or more"),
    ("No. 014/XII/26\n", "014/XII/26", "is not a mail number"),
    ("Nomor:\n", "", "nothing after the label"),
])
def test_malformed_numbers(store, body, typed, why):
    assert record(store, message(body=body)).returncode == 0
    [rec] = records(store)
    assert rec["number"] is None
    if why is None:
        assert rec["number_problem"] == "missing"
    else:
        assert rec["number_text"] == typed
        assert rec["number_problem"].startswith("malformed: ") and why in rec["number_problem"]


def test_a_date_is_the_first_lone_group_and_the_number_is_still_found(store):
    assert record(store, message(body="04/12/2026\n014/XII/2026\nYth. Bapak\n")).returncode == 0
    [rec] = records(store)
    assert rec["number"] == "014/XII/2026" and rec["number_problem"] is None


def test_a_repeated_delivery_is_recorded_once(store):
    data = message(attachments=[("a.pdf", PDF, "application", "pdf")])
    for _attempt in range(3):
        result = record(store, data)
        assert result.returncode == 0, result.stderr
    assert len(records(store)) == 1
    assert b"already recorded" in result.stderr
    # Without a Message-ID the key is the message's SHA-256.
    bare = message(message_id=None, body="015/XII/2026\n")
    for _attempt in range(2):
        assert record(store, bare).returncode == 0
    recs = records(store)
    assert len(recs) == 2 and recs[1]["key"] == "out sha256 " + hashlib.sha256(bare).hexdigest()
    # The same message seen in the other direction is another record, in its own sequence.
    assert record(store, data, "in.setda@agenda.invalid").returncode == 0
    recs = records(store)
    assert [(r["direction"], r["agenda_no"]) for r in recs] == [
        ("out", "001/XII/2026"), ("out", "002/XII/2026"), ("in", "001/XII/2026")]


@pytest.mark.parametrize("recipient", [
    "setda@agenda.invalid", "in.setda@bekasikota.go.id", "IN.setda@agenda.invalid", "in.Setda@agenda.invalid",
    "in.../etc@agenda.invalid", "in.a/b@agenda.invalid", "in..hidden@agenda.invalid", "x.setda@agenda.invalid",
    "in.setda@agenda.invalid\n", "in.%s@agenda.invalid" % ("a" * 65), "in.@agenda.invalid", "",
])
def test_a_bad_recipient_is_a_usage_error(store, recipient):
    result = record(store, message(), recipient)
    assert result.returncode == 64, result.stderr
    assert b"not in.<account>@agenda.invalid" in result.stderr
    assert os.listdir(store) == []


def test_what_cannot_be_done_now_is_retried(store, tmp_path):
    assert record(tmp_path / "nowhere", message()).returncode == 75
    assert record(store, message(), "out.setda@agenda.invalid", "--timezone", "Mars/Olympus").returncode == 75
    assert record(store, message(), "out.setda@agenda.invalid", "--no-such-option").returncode == 75
    assert record(store, message(), "out.setda@agenda.invalid", "--max-bytes", "0").returncode == 75
    assert os.listdir(store) == []


def test_concurrent_deliveries_give_intact_lines(store):
    datas = [message(message_id="<concurrent-%d@x>" % i, body="%03d/XII/2026\n" % (i + 1), subject="Surat %d" % i)
             for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda d: record(store, d), datas))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr for r in results]
    with open(store / "setda" / "2026-12.jsonl", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    assert lines[-1] == "" and len(lines) == 21
    recs = [json.loads(line) for line in lines[:-1]]
    assert sorted(r["message_id"] for r in recs) == sorted("<concurrent-%d@x>" % i for i in range(20))
    assert sorted(r["agenda_seq"] for r in recs) == list(range(1, 21))


def test_the_date_in_the_city_time_zone_else_the_received_header(store):
    # 20:00 UTC on 30 November is 03:00 on 1 December in Jakarta: December's agenda.
    assert record(store, message(date="Mon, 30 Nov 2026 20:00:00 +0000")).returncode == 0
    [rec] = records(store)
    assert rec["date"] == "2026-12-01T03:00:00+07:00"
    assert record(store, message(date=None, message_id="<no-date@x>")).returncode == 0
    rec = records(store)[1]
    assert rec["date"] == "2026-12-01T08:00:00+07:00" and rec["date_source"] == "Received"
    assert record(store, message(date="not a date", message_id="<bad-date@x>")).returncode == 0
    assert records(store)[2]["date_source"] == "Received"
    result = record(store, message(date="Mon, 30 Nov 2026 20:00:00 +0000", message_id="<utc@x>"),
                    "out.setda@agenda.invalid", "--timezone", "UTC")
    assert result.returncode == 0
    assert records(store, month="2026-11")[0]["date"] == "2026-11-30T20:00:00+00:00"


def test_a_message_over_the_bound_is_recorded_without_its_body(store):
    data = message(attachments=[("big.pdf", PDF * 20, "application", "pdf")])
    result = record(store, data, "out.setda@agenda.invalid", "--max-bytes", "4096")
    assert result.returncode == 0, result.stderr
    [rec] = records(store)
    assert rec["truncated"] is True and rec["attachments"] is None and rec["archive"] is None
    assert rec["size"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["number"] == "014/XII/2026" and rec["subject"] == "Undangan rapat"
    assert not os.path.exists(store / "setda" / "archive")


def test_a_torn_line_is_left_and_the_record_written_after_it(store):
    (store / "setda").mkdir()
    torn = '{"key": "out message-id <agenda-1@bekasikota.go.id>", "v": 1, "direc'
    (store / "setda" / "2026-12.jsonl").write_text(torn, encoding="utf-8")
    assert record(store, message()).returncode == 0
    lines = (store / "setda" / "2026-12.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[0] == torn and json.loads(lines[1])["agenda_seq"] == 1 and lines[2] == ""


def test_hostile_headers_are_recorded_as_text(store):
    data = message(subject="=cmd|' /C calc'!A0 <script>alert(1)</script>", sender="\"<b>x</b>\" <a@b>",
                   to="not an address list ;;; <<<", message_id="<../../etc/passwd>")
    assert record(store, data, "in.setda@agenda.invalid").returncode == 0
    [rec] = records(store)
    assert rec["subject"] == "=cmd|' /C calc'!A0 <script>alert(1)</script>"
    assert rec["message_id"] == "<../../etc/passwd>"
    assert sorted(os.listdir(store / "setda")) == [".lock", "2026-12.jsonl"]


def _script_module():
    loader = importlib.machinery.SourceFileLoader("agenda_record", SCRIPT)
    spec = importlib.util.spec_from_loader("agenda_record", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


NUMBERS = ["014/II/2021", "01/I/2021", "1/XII/9999", "999/IX/1900", "0014/IV/2030", "12345/VIII/2026",
           "000/I/2021", "0/I/2021", "014/II/1899", "014/II/10000", "014/II/21", "014/XIII/2021", "014/IIII/2021",
           "014/ii/2021", "014/IIV/2021", "014/MM/2021", "014/0/2021", "014/2/2021", "14-II-2021",
           "014/II/2021/", "/II/2021", "014//2021", " 014/II/2021", "014/II/2021 ", "014 /II/2021",
           "\u0661\u0664/II/2021", "014/II/\u0662\u0660\u0662\u0661", "014/\u2160/2021", "", "abc",
           "014/VX/2021", "014/IC/2021", "014/X/2021\n"]


@pytest.mark.parametrize("text", NUMBERS)
def test_the_scripts_number_rules_are_the_toolkits(text):
    script = _script_module()
    try:
        expected = numbering.parse_mail_number(text)
    except ValueError:
        expected = None
    try:
        got = script.parse_mail_number(text)
    except ValueError:
        got = None
    assert got == expected
    if expected is not None:
        assert script.mail_number(*got) == numbering.mail_number(*expected)


def test_another_message_with_a_known_message_id_is_logged_not_recorded(store):
    assert record(store, message()).returncode == 0
    result = record(store, message(body="099/XII/2026\n", subject="Other content"))
    assert result.returncode == 0
    assert b"already recorded with other content" in result.stderr
    [rec] = records(store)
    assert rec["subject"] == "Undangan rapat"


def test_a_held_lock_is_waited_for_then_retried(store):
    (store / "setda").mkdir()
    with open(store / "setda" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = record(store, message(), "out.setda@agenda.invalid", "--lock-wait", "0.5")
    assert result.returncode == 75 and b"busy" in result.stderr
    assert records(store) == []
    assert record(store, message()).returncode == 0 and len(records(store)) == 1
