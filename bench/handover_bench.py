#!/usr/bin/env python3
"""Benchmark: handing new passwords to each person (age) against the floor and the old way.

An initial load of the city's accounts hands over one password to each holder: tens of
thousands of files, one per person (issue 13, P17 Pasal 35). Side by side, in one run:

- floor: the same files written unencrypted, 0600 in 0700 directories and synced, as
  the module writes them (``fsutil.write_private``): what any hand-over to many people
  must pay on this disk;
- the toolkit: ``handover.write``, one age file per person encrypted in the module's
  process (pyrage), to age and ssh-ed25519 keys;
- what an operator would otherwise script: the ``age`` command once per person
  (measured over a sample, extrapolated);
- the previous hand-over: one ansible-vault file per agency under one shared password
  (every agency's admin could read every agency's passwords).

Goal: the toolkit within 3 times the floor (encryption must not be what a hand-over
waits for) and faster than the age command per person.

usage: python bench/handover_bench.py [--people 20000] [--agencies 55] [--cli-sample 300] [--repeat 2]
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

from bench_common import Goals, MachineLoad, print_table, use_toolkit

use_toolkit()
import pyrage  # noqa: E402
from ansible.module_utils.city import fsutil  # noqa: E402
from ansible.module_utils.city.mail import handover  # noqa: E402
from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

GOAL_RATIO = 3.0
STAMP = "20261203T000000Z-bench"


def ssh_ed25519_public():
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")


def people(count, agencies):
    """{person: [key]} (one in four an ssh-ed25519 key, the rest age) and their credentials."""
    keys, credentials = {}, {}
    for i in range(count):
        person = "19%016d" % i
        keys[person] = [ssh_ed25519_public() if i % 4 == 0 else str(pyrage.x25519.Identity.generate().to_public())]
        agency = "AG%02d" % (i % agencies)
        credentials[person] = [{"address": "user%d@example.go.id" % i, "agency": agency,
                                "password": base64.b64encode(os.urandom(12)).decode("ascii"),
                                "reason": "created", "ticket": None}]
    return keys, credentials


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def floor(directory, credentials):
    for person, items in sorted(credentials.items()):
        body = json.dumps({"person": person, "run": STAMP, "credentials": items}, indent=2) + "\n"
        fsutil.write_private(os.path.join(directory, person), STAMP + ".json", body.encode("utf-8"))


def age_command(directory, credentials, keys, sample):
    age = shutil.which("age")
    for person in sorted(credentials)[:sample]:
        body = json.dumps({"person": person, "run": STAMP, "credentials": credentials[person]}, indent=2) + "\n"
        folder = fsutil.private_dir(os.path.join(directory, person))
        argv = [age, "-a", "-o", os.path.join(folder, STAMP + ".age")]
        for key in keys[person]:
            argv += ["-r", key]
        subprocess.run(argv, input=body.encode("utf-8"), check=True, capture_output=True, timeout=60)


def vault_per_agency(directory, credentials, password):
    vault = VaultLib([("default", VaultSecret(password.encode("utf-8")))])
    by_agency = {}
    for items in credentials.values():
        for item in items:
            by_agency.setdefault(item["agency"], []).append(item)
    for agency, items in sorted(by_agency.items()):
        body = json.dumps({"agency": agency, "run": STAMP, "credentials": items}, indent=2)
        fsutil.write_private(os.path.join(directory, agency), STAMP + ".vault", vault.encrypt(body))
    return len(by_agency)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--agencies", type=int, default=55)
    parser.add_argument("--cli-sample", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs of the floor and the toolkit")
    args = parser.parse_args()
    keys, credentials = people(args.people, args.agencies)
    tmp = tempfile.mkdtemp(prefix="handover-bench-")
    load = MachineLoad()
    try:
        # Alternated, each in a fresh directory, best of N: the disk's state favours neither.
        t_floor = t_toolkit = float("inf")
        for run in range(max(1, args.repeat)):
            t_floor = min(t_floor, timed(lambda: floor(os.path.join(tmp, "floor%d" % run), credentials)))
            target = os.path.join(tmp, "toolkit%d" % run)
            t_toolkit = min(t_toolkit, timed(lambda: handover.write(target, STAMP, credentials, keys)))
        written = sum(len(files) for _, _, files in os.walk(target))
        sample = min(args.cli_sample, args.people)
        t_cli = None
        if shutil.which("age"):
            t_cli = timed(lambda: age_command(os.path.join(tmp, "cli"), credentials, keys, sample)) * args.people / sample
        agencies = [0]
        t_vault = timed(lambda: agencies.__setitem__(0, vault_per_agency(os.path.join(tmp, "vault"), credentials,
                                                                       base64.b64encode(os.urandom(18)).decode())))
        load.end()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if written != args.people:
        raise SystemExit("the toolkit wrote %d files for %d people" % (written, args.people))
    rows = [
        ("floor: the same files unencrypted, 0600, synced", t_floor, "%d" % args.people, "1.0"),
        ("toolkit: handover.write, one age file per person", t_toolkit, "%d" % args.people,
         "%.1f" % (t_toolkit / t_floor)),
        ("age command once per person%s" % ("" if sample == args.people else " (extrapolated from %d)" % sample),
         t_cli, "%d" % args.people, "%.1f" % (t_cli / t_floor) if t_cli else "-"),
        ("previous: one vault file per agency, shared password", t_vault, "%d" % agencies[0],
         "%.1f" % (t_vault / t_floor)),
    ]
    print("Hand-over of %d new passwords, one per person (a quarter ssh-ed25519 keys, the rest age)" % args.people)
    print_table(rows, (("files", 7), ("x floor", 8)))
    print(load.line())
    goals = Goals()
    goals.report("toolkit within %.0f x the floor (%.1f x)" % (GOAL_RATIO, t_toolkit / t_floor),
                 t_toolkit <= GOAL_RATIO * t_floor)
    if t_cli:
        goals.report("toolkit faster than the age command per person (%.1f x faster)" % (t_cli / t_toolkit),
                     t_toolkit < t_cli)
    else:
        goals.unchecked("toolkit faster than the age command per person", "age is not installed")
    raise SystemExit(0 if goals.ok else 1)


if __name__ == "__main__":
    main()
