"""The RunOnReceive router (S4, S6, S7) under a real gammu-smsd with the dummy driver.

Every simulated SMS goes the whole way: the dummy phone's SMS folder, smsd's inbox
file, RunOnReceive, incoming.sqlite3. Nothing is routed by calling the router
directly except where the daemon cannot produce the situation (a database that
cannot be written).
"""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from router_fixtures import ROUTER, RoutedSmsd, incoming_rows, make_ledger, router_log, user, write_phonebook


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    write_phonebook(str(path))
    return path


@pytest.fixture
def book(data_dir):
    with open(data_dir / "phonebook.json", encoding="utf-8") as fh:
        return json.load(fh)


def national(phone):
    """+62815... -> 0815... (how a number may come from the network)."""
    return "0" + phone[3:]


def by_text(rows):
    return {r["text"]: r for r in rows}


def run_router(data_dir, spool, *files, phone_id="modem1", env=None):
    return subprocess.run([sys.executable, ROUTER, "--data-dir", str(data_dir), "--spool-dir", str(spool),
                           "--phone-id", phone_id] + list(files),
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_every_keyword_sender_and_blast_is_routed(tmp_path, data_dir, book):
    yusuf, tuti, ade = (user(book, i) for i in ("yusuf.hermawan", "tuti.alawiyah", "ade.supriatna"))
    ledger = str(data_dir / "ledger.sqlite3")
    make_ledger(ledger, "2026-11-001", [yusuf, tuti], "2026-11-02T08:00:00Z", "2026-11-02T08:00:05Z")
    make_ledger(ledger, "2026-11-002", [yusuf], "2026-11-09T08:00:00Z", "2026-11-09T08:00:05Z")
    make_ledger(ledger, "2026-11-003", [yusuf], "2026-11-10T08:00:00Z")  # planned, never enqueued
    smsd = RoutedSmsd(tmp_path, "modem1", data_dir).start()
    try:
        sent = {
            "TIDAKTERIMA": (yusuf, "TIDAKTERIMA"),  # no id: the latest blast enqueued to him
            "TIDAKTERIMA 2026-11-001 pak": (yusuf, "TIDAKTERIMA 2026-11-001 pak"),
            "tidakterima, belum masuk": (tuti, None),
            "TANYA rapat jam berapa?": (yusuf, None),
            "Keluhan: jalan rusak di Jatiasih": (ade, None),
            "SARAN rapat daring saja": (ade, None),
            "BALAS hadir": (yusuf, None),
            "INFO sudah diteruskan ke staf": (tuti, None),
            "Halo pak, apa kabar": (yusuf, None),
            "TANYA ini nomor siapa?": (None, None),
            "TANYA soal 2026-11-001 😀 terima kasih ya 🙏": (ade, None),
        }
        for text, (who, _) in sent.items():
            smsd.receive(who["phone"] if who else "+6281299990000", text)
        smsd.receive(national(tuti["phone"]), "BALAS siap 2026-11-001")  # the national form of her number
        rows = by_text(smsd.wait_rows(len(sent) + 1))
    finally:
        smsd.stop()
    assert len(rows) == len(sent) + 1, "one row per message"

    def check(text, kind, who, keyword, blast_id):
        row = rows[text]
        assert (row["kind"], row["keyword"], row["blast_id"]) == (kind, keyword, blast_id), row
        assert row["user_id"] == (who["id"] if who else None), row
        assert row["agency"] == (who["agency"] if who else None), row
        assert row["phone_id"] == "modem1" and row["file"].startswith("IN") and row["received_at"]

    check("TIDAKTERIMA", "non-receipt", yusuf, "TIDAKTERIMA", "2026-11-002")
    check("TIDAKTERIMA 2026-11-001 pak", "non-receipt", yusuf, "TIDAKTERIMA", "2026-11-001")
    check("tidakterima, belum masuk", "non-receipt", tuti, "TIDAKTERIMA", "2026-11-001")
    check("TANYA rapat jam berapa?", "question", yusuf, "TANYA", None)
    check("Keluhan: jalan rusak di Jatiasih", "complaint", ade, "KELUHAN", None)
    check("SARAN rapat daring saja", "suggestion", ade, "SARAN", None)
    check("BALAS hadir", "reply", yusuf, "BALAS", "2026-11-002")
    check("INFO sudah diteruskan ke staf", "information", tuti, "INFO", None)
    check("Halo pak, apa kabar", "unknown-keyword", yusuf, None, None)
    check("TANYA ini nomor siapa?", "unknown-sender", None, "TANYA", None)
    check("TANYA soal 2026-11-001 😀 terima kasih ya 🙏", "question", ade, "TANYA", "2026-11-001")
    check("BALAS siap 2026-11-001", "reply", tuti, "BALAS", "2026-11-001")
    assert rows["BALAS siap 2026-11-001"]["number"] == tuti["phone"], "stored in E.164"
    assert rows["TANYA ini nomor siapa?"]["number"] == "+6281299990000"
    assert router_log(data_dir) == "", "nothing went wrong"


@pytest.mark.parametrize("inbox_format,locale,lossless", [
    ("standard", "C.UTF-8", True),   # the role: smsd's default format, LANG=C.UTF-8 in its unit
    ("detail", "C", True),           # Gammu's backup format: right whatever the locale
    ("unicode", "C", False),         # gammu-smsd 1.42 drops one UTF-16 unit per emoji at the end
    ("standard", "C", False),        # the C locale writes "?" for every non-ASCII character
])
def test_long_and_non_gsm_messages(tmp_path, data_dir, book, inbox_format, locale, lossless, monkeypatch):
    """A multipart complaint with an emoji and a UCS-2 message, in each inbox format smsd may use."""
    monkeypatch.setenv("LC_ALL", locale)
    monkeypatch.setenv("LANG", locale)
    ade = user(book, "ade.supriatna")
    parts = ["KELUHAN lampu jalan di Jl. Ahmad Yani padam sejak Senin malam, warga sekitar ",
             "resah karena rawan kecelakaan — mohon segera ditindaklanjuti oleh dinas terkait ",
             "ya pak 🙏 terima kasih"]
    smsd = RoutedSmsd(tmp_path, "modem1", data_dir, inbox_format=inbox_format).start()
    try:
        smsd.receive_parts(ade["phone"], parts)
        smsd.receive(ade["phone"], "INFO café ✓ 😀")
        rows = smsd.wait_rows(2)
        inbox = smsd.folder("inbox")
    finally:
        smsd.stop()
    assert len(rows) == 2, "one row per message, however many parts"
    complaint, info = sorted(rows, key=lambda r: r["kind"])
    assert (complaint["kind"], complaint["user_id"], complaint["agency"]) == ("complaint", "ade.supriatna",
                                                                            ade["agency"])
    assert info["kind"] == "information"
    assert complaint["file"] == min(f for f in inbox if f != info["file"]), "keyed by its first part"
    if lossless:
        assert (complaint["text"], info["text"]) == ("".join(parts), "INFO café ✓ 😀")
    else:
        assert complaint["text"] != "".join(parts) and complaint["text"].startswith("KELUHAN lampu jalan")


def test_a_rerun_stores_nothing_twice_and_rebuilds_from_the_inbox(tmp_path, data_dir, book):
    yusuf = user(book, "yusuf.hermawan")
    smsd = RoutedSmsd(tmp_path, "modem1", data_dir, inbox_format="unicode").start()
    try:
        smsd.receive(yusuf["phone"], "TANYA satu")
        smsd.receive_parts(yusuf["phone"], ["SARAN dua bagian pertama ", "dan kedua"])
        first = smsd.wait_rows(2)
        inbox = smsd.folder("inbox")
    finally:
        smsd.stop()
    assert len(inbox) == 3
    spool = tmp_path / "spool"
    proc = run_router(data_dir, spool, *inbox)
    assert proc.returncode == 0, proc.stderr
    assert incoming_rows(data_dir) == first, "the same files again: nothing new"
    fresh = tmp_path / "fresh"
    write_phonebook(str(fresh))
    proc = run_router(fresh, spool, *inbox)
    assert proc.returncode == 0, proc.stderr
    assert [(r["file"], r["text"], r["kind"]) for r in incoming_rows(fresh)] == \
        [(r["file"], r["text"], r["kind"]) for r in first], "the inbox files are enough to rebuild"


def test_nothing_is_lost_when_the_database_cannot_be_written(tmp_path, data_dir, book):
    yusuf = user(book, "yusuf.hermawan")
    inbox = tmp_path / "spool" / "modem1" / "inbox"
    inbox.mkdir(parents=True)
    name1, name2 = "IN20261123_101500_00_%s_00.txt" % yusuf["phone"], "IN20261123_101600_00_+6281299990000_00.txt"
    (inbox / name1).write_bytes("TIDAKTERIMA 2026-11-004".encode("utf-8"))
    (inbox / name2).write_bytes(b"\xfe\xff" + "TANYA siapa".encode("utf-16-be"))
    (data_dir / "incoming.sqlite3").mkdir()  # a database that cannot be opened
    proc = run_router(data_dir, tmp_path / "spool", name1)
    assert proc.returncode == 1, "smsd logs the failure"
    fallback = (data_dir / "incoming-fallback.jsonl").read_text(encoding="utf-8").splitlines()
    saved = json.loads(fallback[0])
    assert (saved["file"], saved["kind"], saved["user_id"], saved["blast_id"]) == (
        name1, "non-receipt", "yusuf.hermawan", "2026-11-004") and saved["error"]
    assert "cannot write incoming.sqlite3" in router_log(data_dir)
    (data_dir / "incoming.sqlite3").rmdir()
    proc = run_router(data_dir, tmp_path / "spool", name2)
    assert proc.returncode == 0, proc.stderr
    rows = incoming_rows(data_dir)
    assert [(r["file"], r["kind"]) for r in rows] == [(name2, "unknown-sender"), (name1, "non-receipt")]
    assert not (data_dir / "incoming-fallback.jsonl").exists(), "moved into the database"
    os.rename(data_dir / "incoming.sqlite3", tmp_path / "db.moved")
    (data_dir / "incoming.sqlite3").mkdir()  # neither the database...
    (data_dir / "incoming-fallback.jsonl").mkdir()  # ...nor the fallback file
    proc = run_router(data_dir, tmp_path / "spool", name1)
    assert proc.returncode == 2, "not stored: smsd must log it"
    assert "NOT STORED" in router_log(data_dir)


def test_an_unreadable_file_falls_back_to_the_environment(tmp_path, data_dir, book):
    """smsd's environment carries the text too; it is used when the file is gone."""
    tuti = user(book, "tuti.alawiyah")
    env = dict(os.environ, PHONE_ID="modem2", SMS_MESSAGES="2", DECODED_PARTS="1",
               SMS_1_NUMBER=tuti["phone"], SMS_1_TEXT="BALAS hadir ", SMS_2_NUMBER=tuti["phone"],
               SMS_2_TEXT="bersama staf", DECODED_1_TEXT="BALAS hadir bersama staf")
    proc = subprocess.run([sys.executable, ROUTER, "--data-dir", str(data_dir), "--spool-dir",
                           str(tmp_path / "spool"), "IN20261123_101500_00_%s_00.txt" % tuti["phone"],
                           "IN20261123_101500_00_%s_01.txt" % tuti["phone"]],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    [row] = incoming_rows(data_dir)
    assert (row["text"], row["kind"], row["user_id"], row["phone_id"]) == (
        "BALAS hadir bersama staf", "reply", "tuti.alawiyah", "modem2")
    assert "unreadable inbox file" in router_log(data_dir)


def test_without_a_phonebook_every_message_is_still_stored(tmp_path):
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "IN20261123_101500_00_+6281537741464_00.txt").write_text("TANYA x", encoding="utf-8")
    proc = subprocess.run([sys.executable, ROUTER, "--data-dir", str(data_dir), "--inbox-dir", str(inbox),
                           "IN20261123_101500_00_+6281537741464_00.txt"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    [row] = incoming_rows(data_dir)
    assert (row["kind"], row["number"], row["text"]) == ("unknown-sender", "+6281537741464", "TANYA x")
    conn = sqlite3.connect(str(data_dir / "incoming.sqlite3"))
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert oct(os.stat(data_dir / "incoming.sqlite3").st_mode & 0o777) == "0o640", "personal data"


def test_concurrent_routers_lose_nothing(tmp_path, data_dir, book):
    """Two modems' daemons may run the router at the same moment: each message is stored once."""
    users = book["users"][:16]
    inbox = tmp_path / "spool" / "modem1" / "inbox"
    inbox.mkdir(parents=True)
    names = []
    for i, who in enumerate(users):
        name = "IN20261123_1015%02d_00_%s_00.txt" % (i, who["phone"])
        (inbox / name).write_text("TANYA nomor %d" % i, encoding="utf-8")
        names.append(name)
    procs = [subprocess.Popen([sys.executable, ROUTER, "--data-dir", str(data_dir), "--spool-dir",
                               str(tmp_path / "spool"), "--phone-id", "modem1", name]) for name in names]
    assert [p.wait(120) for p in procs] == [0] * len(names)
    rows = incoming_rows(data_dir)
    assert sorted(r["file"] for r in rows) == sorted(names)
    assert {r["user_id"] for r in rows} == {u["id"] for u in users} and {r["kind"] for r in rows} == {"question"}
    assert not (data_dir / "incoming-fallback.jsonl").exists()
