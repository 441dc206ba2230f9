"""The recap (S7) of a blast the real gammu-smsd sent in part and of SMS it received.

The ledger is written with the blast module's own ledger code; one outbox file goes
through the daemon to sent/, the others are where a failed, a waiting and a lost
message would be. The incoming messages, a TIDAKTERIMA among them, are received by
the daemon and routed by the router. Then the module sms_recap reads it all.
"""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from module_runner import run_module
from paths import ROOT
from router_fixtures import RoutedSmsd, make_ledger, user, write_phonebook

BLAST, LATER = "2026-11-001", "2026-11-002"


def put(spool, folder, name, text="Undangan rapat koordinasi"):
    """A file where gammu-smsd keeps it (written aside, then renamed in, as sms_blast does)."""
    tmp = os.path.join(spool, "tmp")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, name), "wb") as fh:
        fh.write(b"\xfe\xff" + text.encode("utf-16-be"))
    os.rename(os.path.join(tmp, name), os.path.join(spool, folder, name))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """The gateway's state after a blast and a day of incoming SMS (shared, read-only, by the tests)."""
    root = tmp_path_factory.mktemp("gateway")
    data_dir = root / "data"
    book = write_phonebook(str(data_dir))
    yusuf, tuti, agus, encep, rizal = (user(book, i) for i in (
        "yusuf.hermawan", "tuti.alawiyah", "agus.setiawan", "encep.suryana", "rizal.fahmi"))
    ledger = str(data_dir / "ledger.sqlite3")
    pairs = {p["user_id"]: p for p in make_ledger(ledger, BLAST, [yusuf, tuti, agus, encep], "2026-11-02T08:00:00Z",
                                                  "2026-11-02T08:00:04Z")}
    make_ledger(ledger, LATER, [rizal], "2026-11-20T08:00:00Z")  # planned, not enqueued yet
    smsd = RoutedSmsd(root, "modem1", data_dir).start()
    try:
        put(smsd.spool, "outbox", pairs["yusuf.hermawan"]["file"])
        assert smsd.wait_until(lambda: pairs["yusuf.hermawan"]["file"] in smsd.folder("sent"), 60), smsd.smsd_log()
        smsd.receive(tuti["phone"], "TIDAKTERIMA %s" % BLAST)          # hers failed
        smsd.receive(yusuf["phone"], "tidakterima")                     # his was sent: the latest blast
        smsd.receive(yusuf["phone"], "TIDAKTERIMA lagi, belum masuk")   # twice
        smsd.receive(agus["phone"], "TANYA rapatnya di mana?")
        smsd.receive(encep["phone"], "BALAS hadir")
        smsd.receive(rizal["phone"], "TIDAKTERIMA 2026-10-009")          # a blast the ledger does not know
        smsd.receive("+6281299990000", "TANYA ini siapa")
        smsd.receive(agus["phone"], "selamat pagi")
        rows = smsd.wait_rows(8)
    finally:
        smsd.stop()
    put(smsd.spool, "error", pairs["tuti.alawiyah"]["file"])  # the dummy phone never fails: as smsd would
    put(smsd.spool, "outbox", pairs["agus.setiawan"]["file"])  # still waiting (the daemon is stopped)
    # encep's file is in no folder although the ledger says enqueued: missing
    return {"root": root, "data": data_dir, "spool": root / "spool", "book": book, "rows": rows,
            "users": {u["id"]: u for u in (yusuf, tuti, agus, encep, rizal)}}


def module_args(gateway, **extra):
    data = gateway["data"]
    return dict(dict(ledger=str(data / "ledger.sqlite3"), incoming=str(data / "incoming.sqlite3"),
                     spool_dir=str(gateway["spool"]), phonebook=str(data / "phonebook.json")), **extra)


def snapshot(directory):
    """Every file under ``directory`` with its content's digest, SQLite's -wal/-shm aside."""
    out = {}
    for base, _dirs, files in os.walk(directory):
        for name in files:
            if name.endswith(("-wal", "-shm")):
                continue
            path = os.path.join(base, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, directory)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def test_recap_of_a_blast_and_the_incoming_messages(gateway):
    before = snapshot(gateway["root"])
    result = run_module("sms_recap", module_args(gateway))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    recap = result["recap"]
    blasts = {b["blast_id"]: b for b in recap["blasts"]}
    assert list(blasts) == [BLAST, LATER], "oldest first"
    blast = blasts[BLAST]
    assert (blast["recipients"], blast["sent"], blast["failed"], blast["pending"], blast["missing"]) == (4, 1, 1, 1, 1)
    assert [r["user_id"] for r in blast["failed_recipients"]] == ["tuti.alawiyah"]
    assert blast["failed_recipients"][0]["agency"] == gateway["users"]["tuti.alawiyah"]["agency"]
    assert [r["user_id"] for r in blast["missing_recipients"]] == ["encep.suryana"]
    reporters = {r["user_id"]: r for r in blast["non_receipt"]}
    assert set(reporters) == {"tuti.alawiyah", "yusuf.hermawan"}
    assert (reporters["tuti.alawiyah"]["delivery"], reporters["tuti.alawiyah"]["reports"]) == ("failed", 1)
    assert (reporters["yusuf.hermawan"]["delivery"], reporters["yusuf.hermawan"]["reports"]) == ("sent", 2)
    assert reporters["yusuf.hermawan"]["agency"] == gateway["users"]["yusuf.hermawan"]["agency"]
    assert [r["user_id"] for r in blast["replies"]] == ["encep.suryana"]
    later = blasts[LATER]
    assert (later["recipients"], later["sent"], later["pending"], later["non_receipt"]) == (1, 0, 1, [])

    incoming = recap["incoming"]
    assert incoming["total"] == 8
    assert incoming["by_kind"] == {"non-receipt": 4, "question": 1, "reply": 1, "unknown-keyword": 1,
                                   "unknown-sender": 1}
    assert incoming["by_keyword"] == {"TIDAKTERIMA": 4, "TANYA": 2, "BALAS": 1, "(none)": 1}
    expected = {}
    for row in gateway["rows"]:
        if row["user_id"]:
            agency = expected.setdefault(row["agency"], {"total": 0, "by_kind": {}})
            agency["total"] += 1
            agency["by_kind"][row["kind"]] = agency["by_kind"].get(row["kind"], 0) + 1
    assert incoming["by_agency"] == expected
    assert incoming["by_agency"]["DBMSDA"] == {"total": 2, "by_kind": {"question": 1, "unknown-keyword": 1}}
    assert incoming["unknown_senders"] == {"messages": 1, "numbers": {"+6281299990000": 1}}
    [unmatched] = recap["non_receipt_unmatched"]
    assert (unmatched["user_id"], unmatched["blast_id"]) == ("rizal.fahmi", "2026-10-009")
    assert recap["fallback_pending"] == 0 and all(recap["sources"].values())

    markdown = result["markdown"]
    assert "| %s | 2026-11-02T08:00:00Z | 4 | 1 | 1 | 1 | 1 | 2 | 1 |" % BLAST in markdown
    assert "| tuti.alawiyah |" in markdown and "| yusuf.hermawan |" in markdown
    assert "Unknown senders: 1 message(s) from 1 number(s)." in markdown
    assert snapshot(gateway["root"]) == before, "read-only"


def test_check_mode_and_filters(gateway):
    before = snapshot(gateway["root"])
    full = run_module("sms_recap", module_args(gateway))
    checked = run_module("sms_recap", module_args(gateway), check=True)
    assert checked["changed"] is False
    checked["recap"]["generated_at"] = full["recap"]["generated_at"]
    assert checked["recap"] == full["recap"], "check mode: the same recap"
    only = run_module("sms_recap", module_args(gateway, blasts=[LATER]))["recap"]
    assert [b["blast_id"] for b in only["blasts"]] == [LATER]
    future = run_module("sms_recap", module_args(gateway, since="2999-01-01"))["recap"]
    assert future["blasts"] == [] and future["incoming"]["total"] == 0
    assert run_module("sms_recap", module_args(gateway, since="yesterday"))["failed"]
    assert snapshot(gateway["root"]) == before


def test_an_empty_gateway_has_an_empty_recap(tmp_path):
    result = run_module("sms_recap", dict(ledger=str(tmp_path / "none.sqlite3"), incoming=str(tmp_path / "no.sqlite3"),
                                          spool_dir=str(tmp_path / "spool"), phonebook=str(tmp_path / "pb.json")))
    assert not result.get("failed"), result.get("msg")
    assert result["recap"]["blasts"] == [] and result["recap"]["incoming"]["total"] == 0
    assert not result["recap"]["sources"]["ledger"] and "Not found on the gateway" in result["markdown"]
    assert os.listdir(tmp_path) == [], "nothing created"


def test_fallback_messages_are_reported(tmp_path):
    (tmp_path / "incoming-fallback.jsonl").write_text(
        json.dumps({"file": "IN20261123_101500_00_+6281299990000_00.txt", "kind": "unknown-sender"}) + "\n")
    result = run_module("sms_recap", dict(ledger=str(tmp_path / "ledger.sqlite3"),
                                          incoming=str(tmp_path / "incoming.sqlite3"), spool_dir=str(tmp_path)))
    assert result["recap"]["fallback_pending"] == 1 and "fallback file" in result["markdown"]


def test_sqlite_files_made_by_a_root_reader_belong_to_the_data_owner(gateway, tmp_path):
    """The recap runs as root; the router as sms-center must still open the databases after it."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("incoming.sqlite3", "ledger.sqlite3", "phonebook.json"):
        with open(gateway["data"] / name, "rb") as src, open(data / name, "wb") as dst:
            dst.write(src.read())
    for path in [data] + list(data.iterdir()):
        os.chown(path, 65534, 65534)
    result = run_module("sms_recap", dict(ledger=str(data / "ledger.sqlite3"), incoming=str(data / "incoming.sqlite3"),
                                          spool_dir=str(gateway["spool"]), phonebook=str(data / "phonebook.json")))
    assert result["recap"]["incoming"]["total"] == 8
    assert {(p.name, p.stat().st_uid) for p in data.iterdir() if p.stat().st_uid != 65534} == set()


def test_the_playbook_writes_the_reports_on_the_controller(gateway, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"sms_gateways": {"hosts": {"sms1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    reports = tmp_path / "reports"
    extra = {"sms_gateway__data_dir": str(gateway["data"]), "sms_gateway__spool_dir": str(gateway["spool"]),
             "sms_recap__reports_dir": str(reports), "sms_recap__date": "2026-11-23"}
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                           os.path.join(ROOT, "playbooks", "sms_recap.yml"), "-e", json.dumps(extra)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert sorted(os.listdir(reports)) == ["sms-recap-2026-11-23.json", "sms-recap-2026-11-23.md"]
    data = json.loads((reports / "sms-recap-2026-11-23.json").read_text(encoding="utf-8"))
    assert data["blasts"][0]["blast_id"] == BLAST and data["blasts"][0]["failed"] == 1
    assert (reports / "sms-recap-2026-11-23.md").read_text(encoding="utf-8").startswith("# SMS Center recap")
