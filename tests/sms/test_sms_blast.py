"""sms_blast with real gammu-smsd daemons (dummy driver): exactly once, refusals, check mode.

What is asserted is what the daemons did (their sent/ and error/ folders and their
logs, one "Transmitted ... (total: N)" line per message) and what the ledger holds,
not only the module's return values.
"""
import collections
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from module_runner import module_command, run_module
from paths import ROOT

from ansible.module_utils.city.registry import gsm
from ansible.module_utils.city.registry.loader import load_file
from ansible.module_utils.city.registry.phone import to_e164
from ansible.module_utils.city.sms import blast as core
from ansible.module_utils.city.sms import ledger as ledger_module
from ansible.module_utils.city.sms import outbox

# The example registry's (archived) blast: its text, recipients and send_after, signed again
# with the test Ketua key and an expiry (the example's key has no private half any more).
EXAMPLE_BLAST = os.path.join(ROOT, "inventory", "registry", "blasts", "archive", "2026-11-001.yml")
AFTER = "2026-11-23T08:00:00+07:00"    # after the example's send_after
BEFORE = "2026-11-22T08:00:00+07:00"
RATES = {"modem1": 10, "modem2": 8}
TEXT = ("Yth. Bapak/Ibu Camat se-Kota Bekasi. Mohon hadir pada rapat koordinasi, Senin "
        "pukul 09.00 WIB di Aula Nonon Sonthanie. Terima kasih.")
TRANSMITTED = re.compile(r"Transmitted (\S+) \(total: (\d+)\) to (\+\d+)")


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture
def example_blast(make_blast):
    """The example's blast (kepala-pd and camat, two SMS each), signed by the test Ketua key."""
    example = load_file(EXAMPLE_BLAST).data["blast"]
    return make_blast("2026-11-001", example["text"], groups=list(example["recipients"]["groups"]),
                      send_after=example["send_after"])


@pytest.fixture
def blast_args(tmp_path, registry_data, allowed_signers, phonebook_file):
    sms = registry_data["sms.yml"]

    def args(blast_text, spool_dir, **extra):
        out = dict(blast=blast_text, allowed_signers=allowed_signers,
                   originators=[str(o["person"]) for o in sms["originators"]],
                   phonebook=str(phonebook_file), spool_dir=str(spool_dir),
                   ledger=str(tmp_path / "lib" / "ledger.sqlite3"),
                   modems=[{"phone_id": k, "rate_per_minute": v} for k, v in RATES.items()],
                   max_segments=registry_data["city.yml"]["policy"]["sms"]["max_segments"],
                   now=AFTER)
        out.update(extra)
        return out
    return args


def members(registry_data, groups=(), agencies=(), people=()):
    """Phones of the registered users the registry puts in groups/agencies/people,
    computed from the registry files, not from the phonebook the module reads."""
    country = registry_data["city.yml"]["policy"]["sms"]["country_code"]
    agency_of = {str(p["id"]): p.get("agency") for p in registry_data["people.yml"]["people"]}
    out = {}
    for user in registry_data["sms-users.yml"]["users"]:
        if user["status"] != "registered":
            continue
        if (set(user.get("groups") or []) & set(groups) or agency_of.get(str(user["person"])) in agencies
                or str(user["person"]) in people):
            out[user["id"]] = to_e164(str(user["phone"]), country)
    return out


def spool_of(smsd):
    return next(iter(smsd.values())).spool.rsplit(os.sep, 1)[0]


def number_of(name):
    return name.split("_")[3]


def files(spool_dir, folder):
    out = {}
    for modem in RATES:
        path = os.path.join(str(spool_dir), modem, folder)
        for name in (os.listdir(path) if os.path.isdir(path) else []):
            out[name] = modem
    return out


def transmissions(smsd):
    """{file name: [number of parts of each transmission]} from the daemons' logs."""
    out = collections.defaultdict(list)
    for daemon in smsd.values():
        with open(os.path.join(daemon.root, daemon.phone_id + ".smsd.log"), errors="replace") as fh:
            for match in TRANSMITTED.finditer(fh.read()):
                out[match.group(1)].append(int(match.group(2)))
    return out


def ledger_rows(path):
    with sqlite3.connect(str(path)) as db:
        return db.execute("SELECT user_id, phone, phone_id, file, enqueued_at FROM enqueued "
                          "ORDER BY user_id").fetchall()


def all_sent(smsd, count):
    return sum(len(d.folder("sent")) + len(d.folder("error")) for d in smsd.values()) >= count


def assert_nothing_written(spool_dir, ledger_path):
    for modem in RATES:
        for folder in ("outbox", "sent", "error"):
            assert os.listdir(os.path.join(str(spool_dir), modem, folder)) == []
        assert not os.path.exists(os.path.join(str(spool_dir), modem, "tmp"))
    assert not os.path.exists(str(ledger_path))


# -- a signed blast through the real daemons -------------------------------------------


def test_group_blast_reaches_exactly_the_registered_members_once(smsd, blast_args, registry_data,
                                                                 example_blast):
    """The example blast to kepala-pd and camat."""
    spool_dir = spool_of(smsd)
    args = blast_args(example_blast, spool_dir)
    expected = members(registry_data, groups=("kepala-pd", "camat"))
    assert len(expected) > 30

    result = run_module("sms_blast", args)
    assert not result.get("failed"), result
    assert result["changed"] and result["enqueued"] == len(expected)
    assert result["recipient_count"] == len(expected) and result["segments"] == 2
    assert {r["id"] for r in result["recipients"]} == set(expected)
    per_modem = {k: v["recipients"] for k, v in result["per_modem"].items()}
    assert sum(per_modem.values()) == len(expected)
    assert abs(per_modem["modem1"] / per_modem["modem2"] - 10 / 8) < 0.15  # weighted by rate

    assert smsd["modem1"].wait_until(lambda: all_sent(smsd, len(expected)), timeout=180)
    sent = files(spool_dir, "sent")
    assert files(spool_dir, "error") == {} and files(spool_dir, "outbox") == {}
    assert sorted(number_of(n) for n in sent) == sorted(expected.values())
    # Each file went out once, in the number of parts the module predicted.
    sent_log = transmissions(smsd)
    assert {n: parts for n, parts in sent_log.items()} == {n: [2] for n in sent}
    deregistered = [u for u in registry_data["sms-users.yml"]["users"] if u["status"] != "registered"]
    assert deregistered and all(to_e164(str(u["phone"])) not in expected.values() for u in deregistered)

    rows = ledger_rows(args["ledger"])
    assert len(rows) == len(expected) and all(r[4] for r in rows)
    assert {r[3]: r[2] for r in rows} == sent  # the modem of each file is the ledger's

    again = run_module("sms_blast", args)
    assert not again.get("failed"), again
    assert not again["changed"] and again["enqueued"] == 0
    assert again["already_enqueued"] == len(expected)
    time.sleep(3)  # long enough for a daemon to pick up anything new
    assert files(spool_dir, "outbox") == {} and len(files(spool_dir, "sent")) == len(expected)
    assert all(len(parts) == 1 for parts in transmissions(smsd).values())


def test_daemon_killed_mid_blast_and_rerun_sends_each_once(smsd, blast_args, registry_data,
                                                          make_blast):
    spool_dir = spool_of(smsd)
    groups = ("kepala-pd", "camat", "lurah")
    expected = members(registry_data, groups=groups)
    args = blast_args(make_blast("2026-11-902", TEXT, groups=list(groups)), spool_dir)
    first = run_module("sms_blast", args)
    assert not first.get("failed") and first["enqueued"] == len(expected), first

    victim = smsd["modem1"]
    assert victim.wait_until(lambda: len(victim.folder("sent")) >= 3, timeout=60)
    victim.kill()
    in_outbox_at_kill = set(victim.folder("outbox"))
    transmitted_before_kill = set(transmissions(smsd))
    assert in_outbox_at_kill, "the kill came after the modem's share was sent: no fault tested"

    rerun = run_module("sms_blast", args)  # while the daemon is down
    assert not rerun.get("failed") and rerun["enqueued"] == 0 and not rerun["changed"], rerun
    victim.start()
    rerun = run_module("sms_blast", args)  # and once it is back
    assert rerun["enqueued"] == 0 and rerun["already_enqueued"] == len(expected)

    assert victim.wait_until(lambda: all_sent(smsd, len(expected)), timeout=180)
    time.sleep(2)
    sent = files(spool_dir, "sent")
    assert files(spool_dir, "error") == {} and files(spool_dir, "outbox") == {}
    assert sorted(number_of(n) for n in sent) == sorted(expected.values())
    log = transmissions(smsd)
    assert set(log) == set(sent)
    # A second transmission can only be the daemon's own: a file it had sent but not yet
    # moved when it was killed. The module never wrote a file twice.
    twice = {n for n, parts in log.items() if len(parts) > 1}
    assert twice <= (in_outbox_at_kill & transmitted_before_kill), twice
    assert len(twice) <= 1
    assert all(r[4] for r in ledger_rows(args["ledger"]))


def test_daemon_sends_the_text_in_the_segments_the_module_counted(smsd, blast_args, make_blast,
                                                                   registry_data):
    """UTF-16 outbox files: smsd picks UCS-2 or GSM-7 (extension characters count two) and
    splits the text as gsm.py says, whatever the daemon's locale."""
    spool_dir = spool_of(smsd)
    texts = {"2026-11-906": ("Rapat \u2013 Aula \u2713 \U0001F4C5 " * 6, ("bumd",)),
             "2026-11-907": ("Anggaran {tahap} [II] \u20ac 5 jt | " * 9, ("staf-ahli",))}
    expected = {}
    for blast_id, (text, groups) in texts.items():
        info = gsm.sms_info(text)
        result = run_module("sms_blast", blast_args(make_blast(blast_id, text, groups=list(groups)),
                                                    spool_dir))
        assert not result.get("failed"), result
        assert (result["encoding"], result["segments"]) == (info["encoding"], info["segments"])
        for name in result["files"]:
            expected[name] = info["segments"]
    assert {gsm.sms_info(t)["encoding"] for t, _ in texts.values()} == {"UCS-2", "GSM-7"}
    assert smsd["modem1"].wait_until(lambda: all_sent(smsd, len(expected)), timeout=120)
    assert transmissions(smsd) == {name: [parts] for name, parts in expected.items()}
    assert files(spool_dir, "error") == {}


# -- crashes of the module itself --------------------------------------------------------


class Crash(BaseException):
    """Stands for the module's process dying (not an error it could handle)."""


def inodes(spool_dir):
    out = {}
    for folder in ("outbox", "sent"):
        for name, modem in files(spool_dir, folder).items():
            out[name] = os.stat(os.path.join(str(spool_dir), modem, folder, name)).st_ino
    return out


def test_crash_between_writing_and_marking(spool, blast_args, make_blast, monkeypatch):
    args = blast_args(make_blast("2026-11-903", TEXT), spool)

    def crash(*_a, **_k):
        raise Crash()
    monkeypatch.setattr(ledger_module.Ledger, "mark_enqueued", crash)
    with pytest.raises(Crash):
        _run(args)
    monkeypatch.undo()
    written = inodes(spool)
    rows = ledger_rows(args["ledger"])
    assert written and len(written) == len(rows) and not any(r[4] for r in rows)
    # the daemon sends a few before the re-run
    for name in sorted(written)[:3]:
        modem = files(spool, "outbox")[name]
        os.rename(os.path.join(str(spool), modem, "outbox", name),
                  os.path.join(str(spool), modem, "sent", name))

    result = _run(args)
    assert result["enqueued"] == 0 and result["recovered"] == len(rows) and result["changed"]
    assert inodes(spool) == written  # no file written twice
    assert all(r[4] for r in ledger_rows(args["ledger"]))
    assert not set(files(spool, "outbox")) & set(files(spool, "sent"))


def crash_after_renames(args, renames, monkeypatch):
    """Run the module in-process and crash it after ``renames`` files reached outbox/."""
    real_rename, done = os.rename, []

    def rename(src, dst):
        if len(done) == renames:
            raise Crash()
        real_rename(src, dst)
        done.append(dst)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(Crash):
        _run(args)
    monkeypatch.undo()


def test_crash_in_the_middle_of_the_renames(spool, blast_args, make_blast, monkeypatch):
    args = blast_args(make_blast("2026-11-904", TEXT, groups=["kepala-pd", "camat"]), spool)
    crash_after_renames(args, 7, monkeypatch)
    before = inodes(spool)
    assert len(before) == 7
    left = sum(len(os.listdir(os.path.join(str(spool), m, "tmp"))) for m in RATES)
    assert left > 0  # files written but not yet renamed

    result = _run(args)
    rows = ledger_rows(args["ledger"])
    assert result["recovered"] == 7 and result["enqueued"] == len(rows) - 7
    after = inodes(spool)
    assert {n: after[n] for n in before} == before
    assert sorted(after) == sorted(r[3] for r in rows)
    assert all(os.listdir(os.path.join(str(spool), m, "tmp")) == [] for m in RATES)


def test_pending_pairs_of_a_removed_modem_move_unless_their_file_is_there(spool, blast_args,
                                                                          make_blast, monkeypatch):
    args = blast_args(make_blast("2026-11-908", TEXT, groups=["kepala-pd"]), spool)
    crash_after_renames(args, 4, monkeypatch)
    there = files(spool, "outbox")
    rows = ledger_rows(args["ledger"])
    on_modem2 = {r[3] for r in rows if r[2] == "modem2"}
    assert len(there) == 4 and on_modem2

    result = _run(dict(args, modems=[{"phone_id": "modem1", "rate_per_minute": 10}]))
    moved = on_modem2 - set(there)
    assert result["recovered"] == 4 and result["enqueued"] == len(rows) - 4
    assert len(result["notices"]) == len(moved) and all("modem2" in n for n in result["notices"])
    after = files(spool, "outbox")
    assert sorted(after) == sorted(r[3] for r in rows)
    assert {n for n, m in after.items() if m == "modem2"} == on_modem2 & set(there)
    assert {r[3]: r[2] for r in ledger_rows(args["ledger"])} == after
    assert all(r[4] for r in ledger_rows(args["ledger"]))


def _run(args):
    args = dict(args)
    return core.run(args.pop("blast"), args.pop("allowed_signers"), args.pop("originators"),
                    args.pop("phonebook"), args.pop("spool_dir"), args.pop("ledger"),
                    args.pop("modems"), args.pop("max_segments"), **args)


def big_phonebook(path, count):
    users = [{"id": "user%05d" % i, "phone": "+62812%08d" % i, "person": "p%05d" % i,
              "agency": "SETDA", "groups": ["camat"]} for i in range(count)]
    path.write_text(json.dumps({"version": 1, "users": users, "groups": ["camat"],
                                "agencies": ["SETDA"], "keywords": []}))
    return path


def test_module_killed_at_random_moments_never_writes_twice(spool, blast_args, make_blast, tmp_path):
    """The module's process is killed (SIGKILL) at 10 moments of its run, the "daemon"
    moves some files to sent/ between runs; the last run completes the blast."""
    count = 3000
    book = big_phonebook(tmp_path / "big.json", count)
    args = blast_args(make_blast("2026-11-905", TEXT), spool, phonebook=str(book))
    # How long a whole run takes here (on a scratch spool and ledger), to spread the kills.
    scratch = tmp_path / "scratch"
    for modem in RATES:
        os.makedirs(str(scratch / modem / "outbox"))
    started = time.monotonic()
    calibration = run_module("sms_blast", dict(args, spool_dir=str(scratch),
                                               ledger=str(scratch / "ledger.sqlite3")))
    whole = time.monotonic() - started
    assert calibration["enqueued"] == count, calibration
    timing = calibration["timing"]
    command, arg_file = module_command("sms_blast", args)
    seen, states = {}, collections.Counter()
    for attempt in range(10):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * (0.3 + 0.15 * attempt))
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        states["killed" if killed else "had finished"] += 1
        now = inodes(spool)
        for name, ino in now.items():
            assert seen.setdefault(name, ino) == ino, "%s was written twice" % name
        rows = ledger_rows(args["ledger"]) if os.path.exists(args["ledger"]) else []
        pending = sum(1 for r in rows if not r[4])
        states["no plan" if not rows else "pending %s" % ("with files" if now else "no file")
               if pending else "done"] += 1
        for name in sorted(files(spool, "outbox"))[::5]:  # the daemon sends some
            modem = files(spool, "outbox")[name]
            os.rename(os.path.join(str(spool), modem, "outbox", name),
                      os.path.join(str(spool), modem, "sent", name))
    os.unlink(arg_file)
    result = run_module("sms_blast", args)
    assert not result.get("failed"), result
    final = inodes(spool)
    assert all(seen.get(n, ino) == ino for n, ino in final.items())
    assert len(final) == count
    assert not set(files(spool, "outbox")) & set(files(spool, "sent"))
    rows = ledger_rows(args["ledger"])
    assert len(rows) == count and all(r[4] for r in rows) and sorted(final) == sorted(r[3] for r in rows)
    assert all(os.listdir(os.path.join(str(spool), m, "tmp")) == [] for m in RATES)
    print("run: %.2f s, module timing %s; states seen after the kills: %s"
          % (whole, timing, dict(states)))


# -- refusals: nothing enqueued --------------------------------------------------------


def _edit(text, old, new):
    assert old in text
    return text.replace(old, new, 1)


REFUSALS = {
    "unsigned": (lambda mk: mk("2026-11-910", TEXT, key=None), "signature does not verify"),
    "another key": (lambda mk: mk("2026-11-911", TEXT, key="other"), "signature does not verify"),
    "text edited after signing": (
        lambda mk: _edit(mk("2026-11-912", TEXT), "pukul 09.00", "pukul 10.00"),
        "signature does not verify"),
    "recipients edited after signing": (
        lambda mk: _edit(mk("2026-11-913", TEXT), '"camat"', '"camat", "lurah"'),
        "signature does not verify"),
    "approved by someone else": (
        lambda mk: mk("2026-11-914", TEXT, by="197110171998031002"), "who is not the Ketua"),
    "originator not allowed": (
        lambda mk: mk("2026-11-915", TEXT, originator="198108022010041003"),
        "may not originate blasts"),
    "unknown group": (lambda mk: mk("2026-11-916", TEXT, groups=["no-such-group"]),
                      "unknown group 'no-such-group'"),
    "unknown agency": (lambda mk: mk("2026-11-917", TEXT, agencies=["NOPE"]),
                       "agency 'NOPE' is unknown"),
    "too many segments": (lambda mk: mk("2026-11-918", "Rapat koordinasi. " * 30),
                          "needs 4 SMS segments"),
    "UCS-2 too long, characters named": (
        lambda mk: mk("2026-11-919", "Rapat \u2013 koordinasi \u2713 " * 11),
        "U+2013"),
    "no expiry in the approval": (lambda mk: mk("2026-11-925", TEXT, key=None, expires=None),
                                  "the approval has no expires"),
    "expired": (lambda mk: mk("2026-11-926", TEXT, expires="2026-11-23T07:59:59+07:00"),
                "the approval expired at 2026-11-23T07:59:59+07:00"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_blast_enqueues_nothing(case, spool, blast_args, make_blast):
    build, message = REFUSALS[case]
    args = blast_args(build(make_blast), spool)
    result = run_module("sms_blast", args)
    assert result.get("failed"), result
    assert "refused, nothing enqueued" in result["msg"] and message in result["msg"], result["msg"]
    assert_nothing_written(spool, args["ledger"])


def test_changed_blast_with_an_id_already_sent_is_refused(spool, blast_args, make_blast):
    first = run_module("sms_blast", blast_args(make_blast("2026-11-920", TEXT), spool))
    assert not first.get("failed") and first["enqueued"] == 12, first
    before = files(spool, "outbox")
    changed = make_blast("2026-11-920", TEXT.replace("Senin", "Selasa"))
    result = run_module("sms_blast", blast_args(changed, spool))
    assert result.get("failed") and "another signature" in result["msg"], result
    assert files(spool, "outbox") == before


def test_missing_outbox_is_refused_before_planning(tmp_path, blast_args, make_blast):
    args = blast_args(make_blast("2026-11-921", TEXT), tmp_path / "nospool")
    result = run_module("sms_blast", args)
    assert result.get("failed") and "does not exist" in result["msg"], result
    assert not os.path.exists(args["ledger"])


# -- recipients, schedule, check mode -------------------------------------------------------


def test_union_of_group_agency_and_person_without_duplicates(spool, blast_args, make_blast,
                                                              registry_data):
    camat = members(registry_data, groups=("camat",))
    some = sorted(camat)[0]
    user = next(u for u in registry_data["sms-users.yml"]["users"] if u["id"] == some)
    agency = next(p["agency"] for p in registry_data["people.yml"]["people"]
                  if str(p["id"]) == str(user["person"]))
    text = make_blast("2026-11-922", TEXT, groups=["camat", "lurah"], agencies=[agency],
                      people=[str(user["person"]), "198108022010041003"])
    expected = members(registry_data, groups=("camat", "lurah"), agencies=(agency,),
                       people=(str(user["person"]), "198108022010041003"))
    result = run_module("sms_blast", blast_args(text, spool))
    assert not result.get("failed"), result
    assert sorted(r["id"] for r in result["recipients"]) == sorted(expected)
    written = files(spool, "outbox")
    assert len(written) == len(expected)
    assert sorted(number_of(n) for n in written) == sorted(expected.values())


def test_send_after_in_the_future_is_scheduled_not_enqueued(spool, blast_args, example_blast):
    args = blast_args(example_blast, spool, now=BEFORE)
    result = run_module("sms_blast", args)
    assert not result.get("failed"), result
    assert result["scheduled"] and not result["changed"] and result["enqueued"] == 0
    assert result["send_after"] == "2026-11-23T07:00:00+07:00" and "scheduled" in result["msg"]
    assert_nothing_written(spool, args["ledger"])
    result = run_module("sms_blast", dict(args, now=AFTER))
    assert result["changed"] and not result["scheduled"] and result["enqueued"] > 30


def test_check_mode_reports_everything_and_writes_nothing(spool, blast_args, make_blast,
                                                          registry_data):
    text = "Rapat koordinasi \u2013 Senin pukul 09.00 WIB \u2713 di Aula Nonon Sonthanie. " * 2
    info = gsm.sms_info(text)
    assert info["encoding"] == "UCS-2" and info["segments"] == 3
    args = blast_args(make_blast("2026-11-923", text, groups=["kepala-pd"]), spool)
    result = run_module("sms_blast", args, check=True, diff=True)
    assert not result.get("failed"), result
    expected = members(registry_data, groups=("kepala-pd",))
    assert result["changed"] and result["enqueued"] == len(expected) == result["recipient_count"]
    assert result["encoding"] == "UCS-2" and result["segments"] == 3 and result["units"] == info["units"]
    assert {c["char"] for c in result["non_gsm_chars"]} == {"\u2013", "\u2713"}
    assert [c["index"] for c in result["non_gsm_chars"]] == [i for i, _ in info["non_gsm_chars"]]
    assert "U+2013" in result["msg"] and "U+2713" in result["msg"]
    per = result["per_modem"]
    assert sum(p["recipients"] for p in per.values()) == len(expected)
    for modem, entry in per.items():  # the rate counts messages: the role paces by file
        assert entry["sms"] == 3 * entry["recipients"]
        assert entry["minutes"] == round(entry["recipients"] / RATES[modem], 1)
    assert result["estimated_minutes"] == max(p["minutes"] for p in per.values())
    total = len(expected) / float(sum(RATES.values()))
    assert abs(result["estimated_minutes"] - total) < 0.2
    after = result["diff"]["after"]
    for user_id, phone in expected.items():
        assert "%s %s****%s" % (user_id, phone[:6], phone[-3:]) in after and phone not in after
    assert "modem1: " in after and "modem2: " in after
    assert_nothing_written(spool, args["ledger"])


def test_long_user_ids_make_names_gammu_can_read():
    name = outbox.file_name("20261123_000000", "+628123456789012", "2026-11-001", "a" * 64)
    assert len(name) <= outbox.MAX_NAME and name.endswith(".txt") and "~" in name
    other = outbox.file_name("20261123_000000", "+628123456789012", "2026-11-001", "a" * 63 + "b")
    assert other != name and len(other) <= outbox.MAX_NAME
    assert name.split("_")[3] == "+628123456789012"
    with pytest.raises(ValueError):
        outbox.file_name("20261123_000000", "+62812", "2026-11-001", "../etc")


# -- the playbook ---------------------------------------------------------------------------


def playbook_inventory(path, hosts, approval_root):
    """An inventory of gateways run locally (``hosts``: name -> host vars), pinning
    ``approval_root`` for the validation."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    path.write_text(json.dumps({"all": {"vars": {"sms_approval__root": approval_root}, "children": {
        "sms_gateways": {"hosts": {name: dict(local, **v) for name, v in hosts.items()}}}}}))
    return path


def run_blast_playbook(inventory, registry, *extra, expect_rc=0):
    """Run playbooks/blast.yml; return {host: [result of each sms_blast that ran]} and the output."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", str(inventory), os.path.join(ROOT, "playbooks", "blast.yml"),
                           "-e", "registry_dir=%s" % registry, "-e", "registry_today=2026-11-23"]
                          + list(extra), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == expect_rc, proc.stdout[-6000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    out = collections.defaultdict(list)
    for play in data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].startswith("SMS | Enqueue each blast"):
                for host, result in task["hosts"].items():
                    if not result.get("skipped"):
                        out[host].append(result)
    return out, proc.stdout


VALIDATED = ["-e", json.dumps({"registry_validation": {"validated": "by an earlier run"}})]


def test_playbook_check_then_enqueue_then_nothing(tmp_path, copied_registry, make_blast, spool,
                                                  phonebook_file, allowed_signers, approval_root):
    text = make_blast("2026-11-924", TEXT)
    (copied_registry / "blasts" / "2026-11-924.yml").write_text(text, encoding="utf-8")
    state = tmp_path / "state"
    inventory = playbook_inventory(tmp_path / "hosts.yml", {"sms1": {
        "sms_blast__phonebook": str(phonebook_file), "sms_blast__spool_dir": str(spool),
        "sms_blast__ledger": str(tmp_path / "lib" / "ledger.sqlite3"),
        "sms_blast__allowed_signers": allowed_signers,
        "sms_blast__spent_ledger": str(state / "sms-blasts.sqlite3"),
        "sms_blast__now": AFTER}}, approval_root)

    def play(*extra):
        results, _out = run_blast_playbook(inventory, copied_registry, "-e", "blast=2026-11-924",
                                           *extra)
        [result] = results["sms1"]
        return result

    checked = play("--check", "--diff")  # validates the registry, the new blast included
    assert checked["changed"] and checked["enqueued"] == 12 and checked["segments"] == 1
    assert files(spool, "outbox") == {} and not (tmp_path / "lib").exists()
    assert not state.exists(), "check mode writes nothing on the control node either"
    done = play(*VALIDATED)
    assert done["changed"] and done["enqueued"] == 12
    assert {r["phone_id"] for r in done["recipients"]} == set(RATES)
    assert len(files(spool, "outbox")) == 12
    with sqlite3.connect(str(state / "sms-blasts.sqlite3")) as db:
        assert db.execute("SELECT gateway, recorded_at IS NOT NULL FROM claims").fetchall() == [("sms1", 1)]
        assert db.execute("SELECT count(*) FROM pairs").fetchone()[0] == 12
    again = play(*VALIDATED)
    assert not again["changed"] and again["already_enqueued"] == 12
