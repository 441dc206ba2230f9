"""No incoming message is lost or blocks the next (issue 13): the real gammu-smsd 1.42 on
the role's own smsdrc (dummy driver), the role's RunOnReceive, the unit's rescue and the
sweep service's own command lines (tests/sms/role_smsd.py).

gammu-smsd 1.42 builds the inbox file name from the sender: one with a "/" cannot be
saved, stays on the modem and (before the fix) blocked every later message for good; it
also appends those names to RunOnReceive under /bin/sh -c. Every loop here is bounded.
"""
import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from role_smsd import RoleSmsd, render_role, router, sweep_commands
from router_fixtures import incoming_rows, router_log, write_phonebook

from ansible.module_utils.city.sms import recap as recap_mod

PIN = "80917263"
REGISTERED = "+628153774146"  # not needed to be in the phonebook: every sender is stored


def utf16_exact(text):
    """What survives UTF-16 and SQLite: lone surrogates become U+FFFD."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


@pytest.fixture
def gateway(tmp_path):
    out = tmp_path / "gw"
    render_role(out, ("modem1",), {"modem1": PIN})
    write_phonebook(str(out / "data"))
    return out


def sweep(out, *extra):
    """The sweep service's first ExecStart (as the daemons' user), with ``extra`` options."""
    command = sweep_commands(out)[0] + list(extra)
    return subprocess.run(["/usr/bin/python3"] + command[1:], capture_output=True, timeout=300, check=False)


def check_stuck(out, daemon):
    """The sweep service's second ExecStart, restarting by stopping our daemon (no systemd)."""
    command = sweep_commands(out)[1] + ["--restart-command", "kill -TERM %d" % daemon.proc.pid]
    return subprocess.run(command, capture_output=True, timeout=300, check=False)


def settle(out, daemon, expected, timeout=120):
    """What the sweep timer does, until ``expected`` messages are stored (bounded): look for
    a stuck daemon, restart it (the unit's ExecStartPre rescues the modem's messages)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(incoming_rows(out / "data")) >= expected:
            return True
        time.sleep(2)
        check_stuck(out, daemon)
        if daemon.proc.poll() is not None:
            daemon.start()
    return len(incoming_rows(out / "data")) >= expected


def stored(out):
    return collections.Counter((r["number"], r["text"]) for r in incoming_rows(out / "data"))


def the_recap(out):
    return recap_mod.recap(str(out / "data" / "ledger.sqlite3"), str(out / "data" / "incoming.sqlite3"),
                           str(out / "spool"))


def hostile_flood(pwned):
    """(sender, text or parts) of a flood: every kind of hostile sender and text among normal ones."""
    flood = []
    for i in range(60):
        flood.append(("+62812%07d" % i, "TANYA normal %d" % i))
    for i, sender in enumerate(["x/../../y", "a/b", "/etc/passwd", "../../../x", "x/", "/", "+62/811",
                                "TELKOM/SEL", "a//b", "./x", "x/.", "y/../z", "INFO/1", "A/B/C/D/E", "q/w"]):
        flood.append((sender, "KELUHAN dari %d" % i))
    for i, sender in enumerate(["a;touch $P;", "$(touch $P)", "`touch $P`", "x|touch $P", "x&&touch $P",
                                "x\ntouch $P", "x\rtouch $P", "'\";touch $P", "x>$P", "#;touch $P"]):
        flood.append((sender, "SARAN injeksi %d" % i))
    for i, text in enumerate(["TANYA nul\x00di tengah", "TANYA ctl\x01\x02\x1b[31m\x7f", "TANYA \udc00 setengah",
                              "TANYA emoji 😀 dan – en dash", "INFO\r\nbaris\nbaru", " spasi di depan ",
                              "TANYA \u202eterbalik", "TANYA \ufeffbom", "x" * 150, ""]):
        flood.append(("+62813%07d" % i, text))
    flood.append(("\ud800ab", "TANYA pengirim setengah surrogate"))
    flood.append(("+62814000001", ["BAGIAN %02d " % i + "a" * 57 for i in range(30)]))      # 30 parts, 2 KB
    flood.append(("+62814000002", ["PANJANG %03d " % i + "b" * 54 for i in range(153)]))   # 153 parts, 10 KB
    return flood


def send(daemon, flood, reference=0x40):
    for number, body in flood:
        if isinstance(body, list):
            daemon.drop_parts(number, body, reference)
            reference += 1
        else:
            daemon.drop(number, body)


# The router stores numbers in E.164: separators go ("+62/811" is a number written with a slash).
NORMALISED = {"+62/811": "+62811"}


def expected_of(flood):
    return collections.Counter((NORMALISED.get(n, utf16_exact(n)), utf16_exact("".join(b) if isinstance(b, list)
                                                                                else b))
                               for n, b in flood)


def test_a_hostile_flood_loses_none_and_blocks_none(gateway, monkeypatch):
    pwned = gateway / "pwned"
    monkeypatch.setenv("P", str(pwned))  # what an injected command would create
    daemon = RoleSmsd(gateway, "modem1").start()
    try:
        flood = hostile_flood(pwned)
        send(daemon, flood)
        assert settle(gateway, daemon, len(flood)), (len(incoming_rows(gateway / "data")), router_log(gateway / "data"))
        started = time.monotonic()
        daemon.drop(REGISTERED, "TANYA sesudah banjir")
        assert daemon.wait_until(lambda: stored(gateway)[(REGISTERED, "TANYA sesudah banjir")] == 1, 30), \
            "a normal message after the flood is stored by the daemon's own run"
        elapsed = time.monotonic() - started
    finally:
        daemon.stop()
    expected = expected_of(flood)
    expected[(REGISTERED, "TANYA sesudah banjir")] += 1
    assert stored(gateway) == expected, "every message exactly once, sender and text as sent"
    assert elapsed < 30
    assert not pwned.exists(), "no sender reached the shell"
    assert daemon.on_phone() == [], "nothing left on the modem"
    rows = incoming_rows(gateway / "data")
    assert {r["stored_via"] for r in rows} <= {"receive", "rescue", "sweep"}
    assert any(r["stored_via"] == "rescue" and r["number"] == "x/../../y" for r in rows)
    recap = the_recap(gateway)["kept_aside"]
    assert recap["stored_late"] == sum(1 for r in rows if r["stored_via"] != "receive") > 0
    assert recap["waiting"] == 0, recap


def test_killed_mid_flood_nothing_is_lost_or_stored_twice(gateway):
    daemon = RoleSmsd(gateway, "modem1").start()
    flood = []
    try:
        for round_ in range(4):  # bounded: four kills of the daemon in the middle of its work
            batch = [("+62815%03d%04d" % (round_, i), "TANYA ronde %d pesan %d" % (round_, i)) for i in range(15)]
            batch.append(("k/%d" % round_, "KELUHAN ronde %d" % round_))
            flood += batch
            send(daemon, batch)
            time.sleep(0.5 + 0.3 * round_)
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait(10)
            daemon.start()
        assert settle(gateway, daemon, len(flood)), router_log(gateway / "data")
    finally:
        daemon.stop()
    # The router killed in the middle of a sweep over many files, again and again.
    inbox = gateway / "spool" / "modem1" / "inbox"
    for i in range(200):
        (inbox / ("IN20261101_0800%02d_%02d_+62816%05d_00.txt" % (i % 60, i // 60, i))).write_text(
            "TANYA berkas %d" % i, encoding="utf-8")
        flood.append(("+62816%05d" % i, "TANYA berkas %d" % i))
    for attempt in range(6):
        proc = subprocess.Popen(["/usr/bin/python3"] + sweep_commands(gateway)[0][1:] + ["--min-age", "0"])
        time.sleep(0.05 + 0.04 * attempt)
        proc.kill()
        proc.wait(10)
    assert sweep(gateway, "--min-age", "0").returncode == 0
    assert stored(gateway) == expected_of(flood), "each message once"


def hold_write_lock(db, seconds):
    """Another process holding the database's write lock (BEGIN EXCLUSIVE) for ``seconds``."""
    code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(float(sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_locked_database_keeps_the_message_and_the_sweep_stores_it_once(gateway):
    data = gateway / "data"
    daemon = RoleSmsd(gateway, "modem1").start()
    try:
        daemon.drop(REGISTERED, "TANYA sebelum kunci")
        assert daemon.wait_until(lambda: len(incoming_rows(data)) == 1, 30)
        locker = hold_write_lock(data / "incoming.sqlite3", 45)
        try:
            daemon.drop(REGISTERED, "TANYA selama kunci")
            # The role's router waits 30 s for the lock, then keeps the message aside.
            assert daemon.wait_until(lambda: (data / "incoming-fallback.jsonl").exists(), 50), router_log(data)
            assert daemon.wait_until(lambda: "Process failed with exit status 1" in daemon.read_log(), 10)
            kept = the_recap(gateway)["kept_aside"]
            assert kept["waiting_by_place"] == {"inbox": 0, "rescue": 0, "fallback": 1}, kept
        finally:
            locker.kill()
            locker.wait(10)
    finally:
        daemon.stop()
    assert sweep(gateway).returncode == 0
    rows = {r["text"]: r for r in incoming_rows(data)}
    assert sorted(rows) == ["TANYA sebelum kunci", "TANYA selama kunci"]
    assert rows["TANYA selama kunci"]["stored_via"] == "fallback" and rows["TANYA selama kunci"]["number"] == REGISTERED
    assert not (data / "incoming-fallback.jsonl").exists()
    assert sweep(gateway, "--min-age", "0").returncode == 0 and len(incoming_rows(data)) == 2, "once"
    kept = the_recap(gateway)["kept_aside"]
    assert (kept["stored_late_by_way"]["fallback"], kept["waiting"]) == (1, 0)


@pytest.fixture
def small_data_fs(tmp_path):
    """A gateway whose data directory is a tmpfs of 256 KiB (a real ENOSPC), unmounted at the
    end. The dummy phone is elsewhere: a modem's memory is not on the gateway's disk."""
    gateway = tmp_path / "gw"
    render_role(gateway, ("modem1",), {"modem1": PIN}, _sms_gateway__dummy_dir=str(tmp_path / "phone"))
    data = gateway / "data"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0750", "tmpfs", str(data)],
                          capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % proc.stderr.strip())
    try:
        write_phonebook(str(data))
        yield gateway
    finally:
        subprocess.run(["umount", str(data)], capture_output=True, timeout=30, check=False)
        if os.path.ismount(str(data)):
            subprocess.run(["umount", "-l", str(data)], capture_output=True, timeout=30, check=False)


def fill(directory):
    """Fill the file system of ``directory`` until ENOSPC; the filler's path."""
    filler = os.path.join(str(directory), "filler")
    with open(filler, "wb", buffering=0) as fh:
        try:
            for _ in range(1024):  # bounded: 4 MiB at most, the tmpfs is 256 KiB
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC, for real
            return filler
    raise AssertionError("the file system did not fill")


def test_a_full_disk_keeps_the_messages_in_the_inbox_and_the_sweep_stores_them_once(small_data_fs):
    gateway = small_data_fs
    data = gateway / "data"
    daemon = RoleSmsd(gateway, "modem1").start()
    try:
        daemon.drop(REGISTERED, "TANYA sebelum penuh")
        assert daemon.wait_until(lambda: len(incoming_rows(data)) == 1, 30), daemon.read_log()[-2000:]
        filler = fill(data)
        daemon.drop(REGISTERED, "TANYA disk penuh satu")
        daemon.drop("x/../../y", "TANYA disk penuh dua")
        # 1: the fallback file took it (SQLite gave back a page when it failed), 2: nothing
        # could be written and the inbox file keeps it; never 0.
        assert daemon.wait_until(lambda: "Process failed with exit status" in daemon.read_log(), 40), \
            daemon.read_log()[-2000:]
        assert daemon.wait_until(lambda: daemon.on_phone() == [] or "Error processing SMS" in daemon.read_log(), 20)
        check_stuck(gateway, daemon)
        if daemon.proc.poll() is not None:
            daemon.start()  # the rescue, still on the full disk
        time.sleep(3)
    finally:
        daemon.stop()
    os.unlink(filler)  # (a WAL database cannot even be read on a full disk: look once it has room)
    assert len(incoming_rows(data)) == 1, "nothing could be stored"
    kept = the_recap(gateway)["kept_aside"]
    assert kept["waiting"] == 2, kept
    assert sweep(gateway, "--min-age", "0").returncode == 0
    assert stored(gateway) == collections.Counter([(REGISTERED, "TANYA sebelum penuh"),
                                                   (REGISTERED, "TANYA disk penuh satu"),
                                                   ("x/../../y", "TANYA disk penuh dua")])
    assert sweep(gateway, "--min-age", "0").returncode == 0 and len(incoming_rows(data)) == 3, "once"
    kept = the_recap(gateway)["kept_aside"]
    assert (kept["stored_late"], kept["waiting"]) == (2, 0), kept


def test_inbox_names_that_are_not_utf8_are_stored_once(gateway):
    inbox = gateway / "spool" / "modem1" / "inbox"
    backup = ("[SMSBackup000]\nNumber = \"x\"\nNumberUnicode = %s\nDateTime = 20261203T120000Z\n"
              "Text00 = %s\nPDU = Deliver\nMessageReference = 0\n")
    names = {b"IN20261203_120000_00_\xff\xfe\x80_00.txt": ("\u00ff", "TANYA latin-1"),
             b"IN20261203_120001_00_+62817\xc3_00.txt": ("+62817", "TANYA potong"),
             b"\xe9\xe8-not-gammu.txt": (None, "TANYA bukan nama gammu")}
    for name, (number, text) in names.items():
        with open(os.path.join(os.fsencode(str(inbox)), name), "wb") as fh:
            if number:
                fh.write((backup % (number.encode("utf-16-be").hex(), text.encode("utf-16-be").hex())).encode())
            else:
                fh.write(text.encode("utf-8"))
    for _ in range(2):
        proc = sweep(gateway, "--min-age", "0")
        assert proc.returncode == 0, router_log(gateway / "data")
    rows = incoming_rows(gateway / "data")
    assert sorted(r["text"] for r in rows) == sorted(t for _n, t in names.values())
    assert sorted(r["file"] for r in rows) == sorted(n.decode("utf-8", "backslashreplace") for n in names)
    assert the_recap(gateway)["kept_aside"]["waiting"] == 0
    # By hand, with such a name on the command line: the same key, nothing twice.
    proc = router(gateway, "--phone-id", "modem1", os.fsdecode(b"IN20261203_120000_00_\xff\xfe\x80_00.txt"))
    assert proc.returncode == 0 and len(incoming_rows(gateway / "data")) == 3
    conn = sqlite3.connect(str(gateway / "data" / "incoming.sqlite3"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert json.dumps(rows, ensure_ascii=True)


def gammu_backup(number, text, stamp):
    """An inbox file as gammu-smsd 1.42 writes it (inboxformat = detail), in its field order."""
    return ("; This file format was designed for Gammu and is compatible with Gammu+\n\n"
            "[SMSBackup000]\n; %s\nSMSC = \"+6281100000\"\r\nPDU = Deliver\nDateTime = %sZ\r\n"
            "State = UnRead\nNumber = \"%s\"\r\nNumberUnicode = %s\r\nText00 = %s\r\n"
            "Coding = Unicode_No_Compression\nFolder = 1\nLength = %d\nClass = -1\n"
            "ReplySMSC = False\nRejectDuplicates = False\nReplaceMessage = 0\nMessageReference = 0\n\n"
            % (text, stamp, number, number.encode("utf-16-be").hex().upper(),
               text.encode("utf-16-be").hex().upper(), len(text))).encode("ascii")


def test_a_file_torn_by_a_crash_is_stored_once_from_its_whole_copy(gateway):
    """gammu-smsd killed while writing an inbox file leaves it empty or cut short, and saves
    the message again under the next serial when it comes back (or the rescue takes it off
    the modem): the whole copy is stored, the torn one never; a torn file that no copy
    follows is stored after the wait with what it holds, and logged."""
    inbox = gateway / "spool" / "modem1" / "inbox"
    data = gateway / "data"
    whole = {}
    for i, cut in enumerate((0, 40, 120, 200, -3)):  # empty, in the header, in the text, before the end
        number, text, stamp = "+6281700%04d" % i, "TANYA robek %d" % i, "20261203T1200%02d" % i
        body = gammu_backup(number, text, stamp)
        name = "IN%s_%s_%%02d_%s_00.txt" % (stamp[:8], stamp[9:], number)
        (inbox / (name % 0)).write_bytes(body[:cut] if cut >= 0 else body[:cut])
        (inbox / (name % 1)).write_bytes(body)
        whole[name % 1] = (number, text)
    # Rescued: the torn file's message was taken off the modem by the unit's ExecStartPre.
    number, text, stamp = "+628170009999", "TANYA diselamatkan", "20261203T121000"
    body = gammu_backup(number, text, stamp)
    (inbox / ("IN20261203_121000_00_%s_00.txt" % number)).write_bytes(body[:120])
    (gateway / "spool" / "modem1" / "rescue" / "20261203-121500.smsbackup").write_bytes(body)
    # Torn, and nothing came after it: young it waits, old it is stored.
    lone = "IN20261203_122000_00_+628170008888_00.txt"
    (inbox / lone).write_bytes(gammu_backup("+628170008888", "TANYA sendiri", "20261203T122000")[:60])
    for _ in range(2):
        assert sweep(gateway, "--min-age", "0").returncode == 0, router_log(data)
    rows = incoming_rows(data)
    assert collections.Counter((r["number"], r["text"]) for r in rows) == collections.Counter(
        list(whole.values()) + [("+628170009999", "TANYA diselamatkan")]), router_log(data)
    assert sorted(r["file"] for r in rows if r["stored_via"] != "rescue") == sorted(whole)
    old = time.time() - 3600
    os.utime(inbox / lone, (old, old))
    assert sweep(gateway, "--min-age", "0").returncode == 0
    assert sweep(gateway, "--min-age", "0").returncode == 0
    rows = incoming_rows(data)
    assert [r["file"] for r in rows].count(lone) == 1 and len(rows) == len(whole) + 2
    assert [r["text"] for r in rows if r["file"] == lone] == [""], "what it holds: no text"
    assert "cut short by a crash" in router_log(data) and lone in router_log(data)
