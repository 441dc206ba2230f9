#!/usr/bin/env python3
"""Benchmark: enqueueing a blast to 20,000 recipients with sms_blast, against the floor.

Issue 5. A phonebook of 20,000 registered users in one group, a blast to that group
signed with a key made for the run (ssh-keygen), two modem spool directories and
no daemon running (the files stay in outbox/, where they are counted). Timed:

* floor: a plain Python loop writing the same 20,000 files (same names, same bytes)
  straight into the outbox directories (``os.open``/``os.write``/``os.close``), then
  one ``os.sync()`` so that they are durable, as the module makes them;
* core: the module's work in-process (``module_utils/city/sms/blast.run``):
  parse, verify the signature (ssh-keygen), resolve the recipients, plan 20,000
  pairs in the ledger (one transaction), write them to tmp/, ``os.sync()``, rename
  them into outbox/, fsync the directories, mark them (one transaction);
* module: the whole module run as Ansible runs it on the gateway (a new Python
  process, its arguments in a file): the core plus Python's and Ansible's start-up;
* no-op: the same two, run again on the finished blast (nothing written);
* check mode: the module in check mode on a fresh ledger (everything computed,
  nothing written).

Goal: core / floor <= 3 and module / floor <= 3 for the enqueue. Every number is
the best of ``--repeat`` runs; each repetition runs every contender on fresh
directories, after an untimed ``os.sync()``, so they share the machine's state.
Exit status 1 when a goal is missed; everything is printed anyway.

usage: .venv/bin/python bench/sms_bench.py [--recipients 20000] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, BenchError, Goals, MachineLoad, print_table, use_toolkit

use_toolkit("tests")
from module_runner import RUNNER  # noqa: E402
from ansible.module_utils.city.sms import signature as blast_signature  # noqa: E402
from ansible.module_utils.city.sms import blast as core  # noqa: E402
from ansible.module_utils.city.sms import outbox  # noqa: E402

GOAL = 3.0
KETUA = "198108022010041003"
ORIGINATOR = "197110171998031002"
MODEMS = [{"phone_id": "modem1", "rate_per_minute": 10}, {"phone_id": "modem2", "rate_per_minute": 8}]
TEXT = ("Yth. Bapak/Ibu. Mohon hadir pada Rapat Koordinasi Evaluasi Kinerja Triwulan III Tahun "
        "2026, Selasa 24 November 2026 pukul 09.00 WIB di Aula Nonon Sonthanie, Plaza Pemkot "
        "Bekasi. Terima kasih.")
BLAST = """---
blast:
  id: "2026-11-500"
  kind: invitation
  originator: "%s"
  text: %s
  recipients:
    groups: [bench]
  approval:
    by: "%s"
    date: 2026-11-20
    expires: 2026-11-27T23:00:00+07:00
    signature: |
%s"""


def make_inputs(tmp, count):
    """The module arguments but the paths: a 20,000-user phonebook and a signed blast."""
    users = [{"id": "user%05d.bench" % i, "phone": "+62812%08d" % i, "person": "p%05d" % i,
              "agency": "SETDA", "groups": ["bench"]} for i in range(count)]
    book = os.path.join(tmp, "phonebook.json")
    with open(book, "w", encoding="utf-8") as fh:
        json.dump({"version": 1, "users": users, "groups": ["bench"], "agencies": ["SETDA"],
                   "keywords": []}, fh)
    key = os.path.join(tmp, "ketua")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", key],
                   check=True, capture_output=True, timeout=30)
    with open(key + ".pub", encoding="ascii") as fh:
        public = fh.read().strip()
    unsigned = BLAST % (ORIGINATOR, json.dumps(TEXT), KETUA, "      placeholder\n")
    signature = blast_signature.sign(core.parse(unsigned), key)
    text = BLAST % (ORIGINATOR, json.dumps(TEXT), KETUA,
                    "".join("      %s\n" % line for line in signature.strip().splitlines()))
    signers = os.path.join(tmp, "allowed_signers")
    with open(signers, "w", encoding="utf-8") as fh:
        fh.write(blast_signature.signers_line(KETUA, public) + "\n")
    os.chmod(signers, 0o644)
    args = {"blast": text, "allowed_signers": signers,
            "originators": [ORIGINATOR], "phonebook": book, "modems": MODEMS, "max_segments": 3,
            "now": "2026-11-23T08:00:00+07:00"}
    return args


def fresh(tmp, tag):
    """A new spool (two modems) and ledger path for one contender's run."""
    base = os.path.join(tmp, tag)
    shutil.rmtree(base, ignore_errors=True)
    for modem in MODEMS:
        for sub in ("outbox", "sent", "error"):
            os.makedirs(os.path.join(base, "spool", modem["phone_id"], sub))
    return os.path.join(base, "spool"), os.path.join(base, "lib", "ledger.sqlite3")


def settle(tmp, keep=()):
    """Untimed: remove the previous runs' trees and flush the machine's dirty pages."""
    for entry in os.listdir(tmp):
        path = os.path.join(tmp, entry)
        if os.path.isdir(path) and entry.startswith("run-") and entry not in keep:
            shutil.rmtree(path)
    os.sync()


def outbox_names(spool):
    names = {}
    for modem in MODEMS:
        for name in os.listdir(os.path.join(spool, modem["phone_id"], "outbox")):
            names[name] = modem["phone_id"]
    return names


def check_done(spool, ledger, count, who):
    names = outbox_names(spool)
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT file, phone_id, enqueued_at FROM enqueued").fetchall()
    if len(names) != count or len(rows) != count or any(r[2] is None for r in rows) or \
            {r[0]: r[1] for r in rows} != names:
        raise BenchError("after %s: %d files, %d ledger rows (%d not marked), or they differ"
                         % (who, len(names), len(rows), sum(1 for r in rows if r[2] is None)))
    return names


def run_core(args, spool, ledger, check=False):
    start = time.perf_counter()
    result = core.run(args["blast"], args["allowed_signers"], args["originators"],
                      args["phonebook"], spool, ledger, args["modems"], args["max_segments"],
                      now=args["now"], check_mode=check)
    return time.perf_counter() - start, result


def run_module(args, spool, ledger, tmp, check=False):
    payload = dict(args, spool_dir=spool, ledger=ledger, _ansible_check_mode=check,
                   _ansible_diff=False)
    path = os.path.join(tmp, "args.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, fh)
    code = RUNNER % (os.path.join(ROOT, "module_utils"), os.path.join(ROOT, "library", "sms_blast.py"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                          timeout=600, check=False)
    wall = time.perf_counter() - start
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise BenchError("the module printed no JSON: %s %s" % (proc.stdout[-1500:], proc.stderr[-1500:]))
    if result.get("failed"):
        raise BenchError("the module failed: %s" % result.get("msg"))
    return wall, result


def run_floor(names, data, spool):
    start = time.perf_counter()
    for name, modem in names:
        fd = os.open(os.path.join(spool, modem, "outbox", name),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        os.write(fd, data)
        os.close(fd)
    os.sync()
    return time.perf_counter() - start


def per_file_fsync(tmp, data, sample):
    """Seconds to write ``sample`` files with one fsync each (the rejected alternative)."""
    directory = os.path.join(tmp, "run-fsync")
    os.makedirs(directory)
    start = time.perf_counter()
    for i in range(sample):
        fd = os.open(os.path.join(directory, "f%05d" % i), os.O_WRONLY | os.O_CREAT, 0o640)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender (best is kept)")
    parser.add_argument("--fsync-sample", type=int, default=1000,
                        help="files written with a per-file fsync, scaled to --recipients (0: skip)")
    args = parser.parse_args(argv)
    count = args.recipients
    load = MachineLoad()
    runs = {k: [] for k in ("floor", "core", "module", "core_noop", "module_noop", "check")}
    timings = []
    with tempfile.TemporaryDirectory(prefix="sms-bench-") as tmp:
        inputs = make_inputs(tmp, count)
        data = outbox.content(TEXT)
        names = None
        for rep in range(args.repeat):
            # core, then its no-op re-run
            settle(tmp)
            spool, ledger = fresh(tmp, "run-core%d" % rep)
            seconds, result = run_core(inputs, spool, ledger)
            if result["enqueued"] != count:
                raise BenchError("core enqueued %d of %d" % (result["enqueued"], count))
            runs["core"].append(seconds)
            timings.append((seconds, result["timing"]))
            got = check_done(spool, ledger, count, "the core run")
            if names is None:
                names = sorted(got.items())
            elif sorted(got.items()) != names:
                raise BenchError("two runs made different files")
            seconds, result = run_core(inputs, spool, ledger)
            if result["changed"] or result["enqueued"]:
                raise BenchError("the core re-run is not a no-op")
            runs["core_noop"].append(seconds)

            # the whole module, then its no-op re-run
            settle(tmp)
            spool, ledger = fresh(tmp, "run-module%d" % rep)
            seconds, result = run_module(inputs, spool, ledger, tmp)
            if result["enqueued"] != count:
                raise BenchError("the module enqueued %d of %d" % (result["enqueued"], count))
            runs["module"].append(seconds)
            check_done(spool, ledger, count, "the module run")
            seconds, result = run_module(inputs, spool, ledger, tmp)
            if result["changed"] or result["enqueued"]:
                raise BenchError("the module re-run is not a no-op")
            runs["module_noop"].append(seconds)

            # check mode on a fresh ledger: nothing written
            settle(tmp)
            spool, ledger = fresh(tmp, "run-check%d" % rep)
            seconds, result = run_module(inputs, spool, ledger, tmp, check=True)
            if result["enqueued"] != count or outbox_names(spool) or os.path.exists(ledger):
                raise BenchError("check mode wrote something or planned %d" % result["enqueued"])
            runs["check"].append(seconds)
            estimate = (result["segments"], result["encoding"], result["estimated_minutes"])

            # the floor: the same files, straight into outbox/
            settle(tmp)
            spool, _ = fresh(tmp, "run-floor%d" % rep)
            runs["floor"].append(run_floor(names, data, spool))
            if sorted(outbox_names(spool).items()) != names:
                raise BenchError("the floor wrote other files")
        settle(tmp)
        fsync_seconds = None
        if args.fsync_sample:
            fsync_seconds = per_file_fsync(tmp, data, args.fsync_sample) * count / args.fsync_sample
    load.end()

    best = {k: min(v) for k, v in runs.items()}
    floor = best["floor"]
    rows = [
        ("floor: %d files written to outbox/, one os.sync()" % count, floor, "1.00"),
        ("sms_blast core, in-process", best["core"], "%.2f" % (best["core"] / floor)),
        ("sms_blast module run (new process)", best["module"], "%.2f" % (best["module"] / floor)),
        ("no-op re-run, core in-process", best["core_noop"], ""),
        ("no-op re-run, module run", best["module_noop"], ""),
        ("check mode, module run (nothing written)", best["check"], ""),
    ]
    if fsync_seconds is not None:
        rows.append(("per-file fsync instead (%d files, scaled)" % args.fsync_sample,
                     fsync_seconds, "%.2f" % (fsync_seconds / floor)))
    print()
    print_table(rows, [("/ floor", 9)])
    print()
    timing = min(timings)[1]
    print("best of %d; core timing of its best run: check %.3f (parse, ssh-keygen verify, "
          "phonebook, recipients) + plan %.3f (ledger, one transaction) + write %.3f (tmp/, "
          "os.sync, rename, fsync dirs) + mark %.3f (one transaction)"
          % (args.repeat, timing["check"], timing["plan"], timing["write"], timing["mark"]))
    print("blast: %d recipients over %d modems, %d SMS each (%s), about %.0f minutes at %s messages/min"
          % (count, len(MODEMS), estimate[0], estimate[1], estimate[2],
             "+".join(str(m["rate_per_minute"]) for m in MODEMS)))
    print("checked: after every enqueue, outbox/ holds exactly the %d files the ledger marks "
          "enqueued (same names as the floor's); every re-run wrote nothing" % count)
    print(load.line())
    goals = Goals()
    for key, label in (("core", "core"), ("module", "module run")):
        ratio = best[key] / floor
        goals.report("%s / floor <= %.0f: %.2f" % (label, GOAL, ratio), ratio <= GOAL)
    return goals.status()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit("benchmark failed: %s" % exc)
