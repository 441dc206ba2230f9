#!/usr/bin/env python3
"""Benchmark: applying the registry's mail accounts with mail_accounts, against an ldap_entry loop and a floor.

A city-scale registry (the example plus generated personal accounts: 20,000 by
default) is applied to a real slapd on 127.0.0.1 (tests/ldap/slapd_server.py:
mdb, ppolicy with olcPPolicyHashCleartext, olcPasswordHash {ARGON2}), cold (empty
``ou=accounts`` on a fresh slapd) then no-op (second run), by:

* playbook: ``ansible-playbook bench/mail_loop/apply.yml``, one mail_accounts call;
  the whole process is timed (wall clock), and the module's own ``timing`` (read +
  plan + apply, the apply including the age encrypted hand-over files, one per
  recipient person: the benchmark gives each person of the generated registry an age
  key of its own and opens every file with it) is read from its
  result. New accounts get a random password in clear text; slapd hashes it.
* loop: ``ansible-playbook bench/mail_loop/loop.yml``, one community.general.ldap_entry
  task item per account (same DN and attributes, userPassword in clear text so that
  slapd hashes it too), against a fresh slapd. By default (``--loop-sample 200``) only
  a seeded random sample of 200 accounts is run and the loop task's time is
  extrapolated per account to the full count (the playbook's fixed start-up cost is
  counted once); ``--loop-sample 0`` runs it over all of them (hours). Each item
  binds (slapd verifies the toolkit's argon2 hash) and adds; ldap_entry never
  compares attributes, so its no-op is an existence check per item. ldap_entry
  needs python-ldap: without it the loop is not run and its goals are not met.
* floor, cold: the same entries (same DN and attributes as the module's plan creates,
  with userPassword and pwdReset) as one LDIF, added by the C client (``ldapadd -x``,
  bound as the toolkit, whom ppolicy lets add pre-hashed values) to a fresh slapd
  with PRE-HASHED {ARGON2} passwords, PLUS the time to compute those hashes with the
  same parameters on all cores: libargon2 (the library slapd's argon2 module is
  linked with) called in-process through ctypes, one thread per core, so no process
  start-up is counted. The hashes are checked to be what slapd makes (same variant,
  parameters, salt and hash length as ``slappasswd``), and real binds with the clear
  text prove slapd verifies them.
* floor, no-op: one plain ldap3 paged search (connect, bind, page 1000, the
  attributes the module reads) of all the accounts: the least any tool must do to
  know that nothing changed.

Hash parameters: by default the role's, ``ldap_directory__argon2_parameters`` in
roles/ldap_directory/defaults/main.yml (argon2 m=12288 KiB, t=3, p=1: an OWASP
minimum setting), because a cold apply in production pays exactly this hashing. It
costs about 0.03 to 0.05 s of one core per hash here (printed) and dominates every
cold row: the loop pays it too, so at these parameters the cold loop / playbook
ratio cannot pass (loop time per item) / (hash time / cores), about 20 to 35 here.
``--argon2 'm=1024 t=1 p=1'`` (what the tests use) measures the toolkit's own
overhead against the loop's instead.

Goals: module work (its own read + plan + apply timing) cold <= 1.5 x floor, no-op
<= 3 x the paged search; loop / playbook (wall) >= 100, cold and no-op. Cold runs:
best of ``--repeat`` (default 1: each costs about as much as the hashing), the
playbook's and the floor's interleaved; no-op runs: best of ``--noop-repeat``. The
machine may be shared: the CPU seconds of the cold rows (client processes + slapd)
are printed too, a ratio that other load disturbs less. Exit status 1 when a goal
is missed or cannot be checked; everything is printed anyway. Every slapd started
is stopped when the run ends, fails or is interrupted.

slapd's default size limit (500 entries, paged searches included) would cut the
toolkit's read short (the module then stops); the role and tests/ldap/slapd_server.py
give the toolkit ``olcLimits: ... size=unlimited time=unlimited``, and the benchmark
adds it over ldapi if a server lacks it, and says so.

usage: .venv/bin/python bench/mail_bench.py [--accounts 20000] [--repeat 1]
                                            [--noop-repeat 3] [--loop-sample 200]
                                            [--seed 3] [--argon2 'm=1024 t=1 p=1']
"""
import argparse
import base64
import ctypes
import ctypes.util
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

from bench_common import (PHASES, ROOT, BenchError, Goals, MachineLoad, Playbooks, Redactor,
                          add_loop_options, children_cpu, cpu_of, extrapolated_from, loop_times, module_timing, own_cpu,
                          print_table, private_file, run_loop, sample_of, scale_loop, scaled_by,
                          task_result, use_toolkit)

PLAYBOOKS = os.path.join(ROOT, "bench", "mail_loop")
use_toolkit("tests", os.path.join("tests", "ldap"))
import ldap3  # noqa: E402
from generate_registry import generate  # noqa: E402
from generate_registry import _dump as dump_registry_file  # noqa: E402
import pyrage  # noqa: E402
from slapd_server import SlapdServer  # noqa: E402
from ansible.module_utils.city.registry.loader import load_file  # noqa: E402
from ansible.module_utils.city.mail.desired import ACTIVE, desired_accounts, suffix_of  # noqa: E402
from ansible.module_utils.city.mail.directory import READ_ATTRIBUTES, new_password  # noqa: E402
from ansible.module_utils.city.mail.plan import CREATE, make_plan  # noqa: E402

COLD_GOAL = 1.5     # module work cold / floor (hashes + ldapadd), at most
NOOP_GOAL = 3.0     # module work no-op / one paged search, at most
LOOP_GOAL = 100.0   # ldap_entry loop / playbook, at least
ROLE_DEFAULTS = os.path.join(ROOT, "roles", "ldap_directory", "defaults", "main.yml")
# Read back after each cold run and compared between the contenders.
CHECK_ATTRIBUTES = READ_ATTRIBUTES + ["pwdReset", "userPassword"]


def give_handover_keys(registry, people_doc, desired):
    """An age key pair for every person who receives a hand-over (each their own, as rule
    E6-HANDOVER-KEY wants); the public halves go into the generated people.yml."""
    recipients = {acc.recipient for acc in desired.values() if acc.recipient}
    identities = {}
    for person in people_doc["people"]:
        if person["id"] in recipients:
            identities[person["id"]] = pyrage.x25519.Identity.generate()
            person["handover_keys"] = [str(identities[person["id"]].to_public())]
    dump_registry_file(os.path.join(registry, "people.yml"), people_doc, "../../schemas/people.schema.json")
    return identities


def role_argon2_parameters():
    with open(ROLE_DEFAULTS, encoding="utf-8") as fh:
        return str(yaml.safe_load(fh)["ldap_directory__argon2_parameters"])


class Argon2:
    """{ARGON2} hashes exactly as slapd's argon2 module makes them, without a process per hash."""

    def __init__(self, parameters):
        self.parameters = parameters
        params = dict(item.split("=", 1) for item in parameters.split())
        self.m, self.t, self.p = int(params["m"]), int(params["t"]), int(params["p"])
        # What slapd makes with these parameters: variant, salt and hash length.
        sample = subprocess.run(["slappasswd", "-o", "module-load=argon2 " + parameters,
                                 "-h", "{ARGON2}", "-s", "bench-Sample-1"],
                                capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        found = re.match(r"^\{ARGON2\}\$(argon2(?:i|d|id))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$",
                         sample)
        if not found or (int(found.group(3)), int(found.group(4)), int(found.group(5))) != (self.m, self.t, self.p):
            raise BenchError("slappasswd made %r, not an {ARGON2} hash with %s" % (sample, parameters))
        self.variant = found.group(1)
        self.prefix = "{ARGON2}$%s$v=%s$m=%d,t=%d,p=%d$" % (self.variant, found.group(2), self.m, self.t, self.p)
        self.salt_len = len(found.group(6)) * 3 // 4
        self.hash_len = len(found.group(7)) * 3 // 4
        lib = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
        self.fn = getattr(lib, "%s_hash_encoded" % self.variant)  # CDLL: the GIL is released
        self.fn.argtypes = [ctypes.c_uint32] * 3 + [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                                    ctypes.c_size_t, ctypes.c_size_t, ctypes.c_char_p,
                                                    ctypes.c_size_t]
        self.fn.restype = ctypes.c_int
        self.stop = threading.Event()

    def hash(self, password):
        buf = ctypes.create_string_buffer(512)
        data = password.encode("utf-8")
        rc = self.fn(self.t, self.m, self.p, data, len(data), os.urandom(self.salt_len), self.salt_len,
                     self.hash_len, buf, len(buf))
        if rc != 0:
            raise BenchError("libargon2 failed with code %d" % rc)
        return "{ARGON2}" + buf.value.decode("ascii")

    def hash_all(self, passwords, workers):
        """The hashes of ``passwords``, ``workers`` threads taking the next one until none is left."""
        out = [None] * len(passwords)
        errors = []
        taken = itertools.count()  # next() is atomic under the GIL

        def work():
            try:
                for i in iter(lambda: next(taken), None):
                    if i >= len(passwords) or self.stop.is_set():
                        return
                    out[i] = self.hash(passwords[i])
            except Exception as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(30)
            self.stop.clear()
        if errors or None in out:
            raise BenchError("hashing failed: %s" % (errors[:1] or "interrupted"))
        return out


def ldif_value(name, value):
    safe = (value and value.isascii() and value[0] not in " :<" and not value.endswith(" ")
            and not any(c in value for c in "\0\r\n"))
    if safe or not value:
        return "%s: %s\n" % (name, value)
    return "%s:: %s\n" % (name, base64.b64encode(value.encode("utf-8")).decode("ascii"))


def entry_of(op, password):
    """(dn, objectClass values, other attributes) exactly as Directory._send adds ``op``."""
    attrs = {k: list(v) for k, v in op.changes.items() if v and k != "objectClass"}
    attrs["userPassword"] = [password]
    attrs["pwdReset"] = ["TRUE"]
    return op.dn, list(op.changes["objectClass"]), attrs


def norm(value):
    values = value if isinstance(value, list) else [value]
    return sorted(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)


class Bench:
    def __init__(self, tmp, registry, creates, argon2):
        self.tmp, self.registry, self.creates, self.argon2 = tmp, registry, creates, argon2
        self.redactor = Redactor()  # the servers' passwords: never printed
        self.identities = {}  # person -> the age identity the bench made for them
        self.playbooks = Playbooks(PLAYBOOKS, tmp, self.redactor)
        self.servers = []
        self.snap = None  # the module's directory after its cold run
        self.lifted = False  # whether lift_size_limit had to add olcLimits

    # -- plumbing ---------------------------------------------------------------------

    def slapd(self, tag):
        server = SlapdServer(os.path.join(self.tmp, "slapd-%s" % tag),
                             argon2_parameters=self.argon2.parameters)
        self.servers.append(server)
        self.redactor.add(*server.passwords.values())
        server.start(timeout=60)
        self.lift_size_limit(server)
        return server

    def lift_size_limit(self, server):
        """Let the toolkit read every account: olcLimits size=unlimited for its DN.

        slapd's default size limit (500 entries, paged searches included) truncates a
        read of a city's accounts; the role and tests/ldap/slapd_server.py do not lift
        it (yet), so the benchmark does, as root over ldapi, and says so.
        """
        db = "olcDatabase={1}mdb,cn=config"
        found = subprocess.run(["ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", server.ldapi, "-b", db,
                                "-s", "base", "olcLimits"], capture_output=True, text=True, timeout=60,
                               check=True).stdout
        if server.toolkit_dn.lower() in found.replace("\n ", "").lower():
            return
        change = ("dn: %s\nchangetype: modify\nadd: olcLimits\nolcLimits: dn.exact=\"%s\" size=unlimited "
                  "time=unlimited\n" % (db, server.toolkit_dn))
        subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", server.ldapi], input=change, text=True,
                       capture_output=True, timeout=60, check=True)
        self.lifted = True

    def stop_all(self):
        for server in self.servers:
            try:
                server.stop()
            except Exception:  # already gone: nothing to stop
                pass

    def private_file(self, name, text):
        return private_file(os.path.join(self.tmp, name), text)

    def apply(self, var, timeout):
        """One mail_accounts run through apply.yml: (wall seconds, the module's result, CPU seconds).

        The CPU seconds are ansible-playbook's and its children's (the module's
        process included).
        """
        run = self.playbooks.run("apply.yml", [var], timeout)
        return run.wall, task_result(run.data)[0], run.cpu

    @staticmethod
    def connect(server):
        # StartTLS, verified: the role's directory refuses a simple bind in clear text.
        return server.connect(server.toolkit_dn, server.passwords[server.toolkit_dn])

    # -- checks -----------------------------------------------------------------------

    def snapshot(self, server):
        """{dn: {attribute: sorted values}} of every account, read as root over ldapi (untimed):
        the role's toolkit writes userPassword but cannot read it back."""
        conn = server.root()
        out = {}
        try:
            for item in conn.extend.standard.paged_search(server.base, "(objectClass=inetOrgPerson)",
                                                          ldap3.LEVEL, attributes=CHECK_ATTRIBUTES,
                                                          paged_size=1000, generator=True):
                if item.get("type") == "searchResEntry":
                    out[item["dn"].lower()] = {k: norm(v) for k, v in item["attributes"].items() if v}
        finally:
            conn.unbind()
        return out

    def check(self, server, who, expected_dns, passwords, reference=None):
        """The accounts are there, hashed by the role's argon2, and real binds work.

        ``passwords``: {dn: clear text} of a few accounts to bind as; ``reference``:
        another contender's snapshot these entries must equal (userPassword aside).
        """
        snap = self.snapshot(server)
        missing = set(expected_dns) - set(snap)
        if missing or len(snap) != len(expected_dns):
            raise BenchError("after %s the directory holds %d accounts, %d expected (%d missing, e.g. %s)"
                             % (who, len(snap), len(expected_dns), len(missing), sorted(missing)[:2]))
        badly = [dn for dn, attrs in snap.items()
                 if len(attrs.get("userPassword", [])) != 1 or not attrs["userPassword"][0].startswith(
                     self.argon2.prefix)]
        if badly:
            raise BenchError("after %s, %d userPassword values are not %s... hashes, e.g. %s"
                             % (who, len(badly), self.argon2.prefix, badly[:2]))
        if reference is not None:
            strip = lambda attrs: {k: v for k, v in attrs.items() if k != "userPassword"}  # noqa: E731
            differ = [dn for dn in expected_dns if strip(snap[dn]) != strip(reference[dn])]
            if differ:
                raise BenchError("after %s, %d entries differ from mail_accounts', e.g. %s: %s / %s" % (
                    who, len(differ), differ[0], strip(snap[differ[0]]), strip(reference[differ[0]])))
        for dn, password in passwords.items():
            if server.whoami(dn, password) != 0:
                raise BenchError("after %s, %s cannot bind with its password" % (who, dn))
        return snap

    # -- the three contenders -----------------------------------------------------------

    def run_playbook(self, rep, noop_repeat, cold_timeout):
        server = self.slapd("playbook%d" % rep)
        try:
            handover_dir = os.path.join(self.tmp, "handover%d" % rep)
            var = self.private_file("apply%d.json" % rep, json.dumps({
                "bench_registry_dir": self.registry, "bench_uri": server.uri, "bench_ca_file": server.ca_file,
                "bench_bind_dn": server.toolkit_dn,
                "bench_bind_password": server.passwords[server.toolkit_dn], "bench_base": server.base,
                "bench_handover_dir": handover_dir,
                "bench_archive_dir": os.path.join(self.tmp, "archive%d" % rep)}))
            out = {"noop": []}
            for phase in ["cold"] + ["noop"] * noop_repeat:
                slapd_cpu = cpu_of(server.proc.pid)
                wall, result, cpu = self.apply(var, timeout=cold_timeout if phase == "cold" else 600)
                slapd_cpu = cpu_of(server.proc.pid) - slapd_cpu
                timing, plan = result["timing"], result["plan"]
                run = dict(wall=wall, work=sum(timing.values()), timing=timing, plan=plan,
                           cpu=cpu + slapd_cpu)
                if phase == "cold":
                    if plan.get(CREATE) != len(self.creates) or sum(plan.values()) != len(self.creates):
                        raise BenchError("the cold run did not plan %d creations: %s" % (len(self.creates), plan))
                    creds = {}
                    for path in result["handover_files"]:  # each with its one recipient's key
                        with open(path, "rb") as fh:
                            body = pyrage.decrypt(fh.read(), [self.identities[os.path.basename(
                                os.path.dirname(path))]])
                        for item in json.loads(body)["credentials"]:
                            creds[item["address"]] = item["password"]
                    if len(creds) != len(self.creates):
                        raise BenchError("the hand-over files hold %d passwords, %d expected"
                                         % (len(creds), len(self.creates)))
                    active = [op for op in self.creates if op.account.state == ACTIVE]
                    probe = random.Random(5).sample(active, min(3, len(active)))
                    self.snap = self.check(server, "mail_accounts (cold)", [op.dn.lower() for op in self.creates],
                                           {op.dn: creds[op.account.address] for op in probe})
                    run["handover_files"] = len(result["handover_files"])
                    out["cold"] = run
                else:
                    if result["changed"] or any(plan.values()):
                        raise BenchError("the second run is not a no-op: %s" % plan)
                    out["noop"].append(run)
            return out
        finally:
            server.stop()

    def run_floor(self, rep, noop_repeat, workers):
        server = self.slapd("floor%d" % rep)
        try:
            passwords = [new_password() for _ in self.creates]  # untimed, as the module's are
            start, cpu = time.perf_counter(), own_cpu()
            hashes = self.argon2.hash_all(passwords, workers)
            hashing = time.perf_counter() - start
            hashing_cpu = own_cpu() - cpu
            parts = []
            for op, hashed in zip(self.creates, hashes):  # untimed: the LDIF file is the input
                dn, classes, attrs = entry_of(op, hashed)
                parts.append(ldif_value("dn", dn))
                parts.extend(ldif_value("objectClass", v) for v in classes)
                for name, values in attrs.items():
                    parts.extend(ldif_value(name, v) for v in values)
                parts.append("\n")
            ldif = self.private_file("floor%d.ldif" % rep, "".join(parts))
            pwfile = self.private_file("floor%d.pw" % rep, server.passwords[server.toolkit_dn])
            start, cpu, slapd_cpu = time.perf_counter(), children_cpu(), cpu_of(server.proc.pid)
            try:
                proc = subprocess.run(["ldapadd", "-x", "-ZZ", "-H", server.uri, "-D", server.toolkit_dn, "-y",
                                       pwfile, "-f", ldif], capture_output=True, text=True, check=False,
                                      env=server.tls_environment(), timeout=600 + len(self.creates) // 10)
            except subprocess.TimeoutExpired:
                raise BenchError("ldapadd did not finish in time")
            adding = time.perf_counter() - start
            adding_cpu = children_cpu() - cpu + cpu_of(server.proc.pid) - slapd_cpu
            if proc.returncode != 0:
                raise BenchError("ldapadd failed (rc %d): %s" % (proc.returncode, self.redactor.clean(proc.stderr[-1500:])))
            active = [i for i, op in enumerate(self.creates) if op.account.state == ACTIVE]
            probe = random.Random(6).sample(active, min(3, len(active)))
            self.check(server, "ldapadd", [op.dn.lower() for op in self.creates],
                       {self.creates[i].dn: passwords[i] for i in probe}, reference=self.snap)
            searches = [self.paged_search(server) for _ in range(noop_repeat)]
            return {"cold": dict(wall=hashing + adding, hashing=hashing, adding=adding,
                                 cpu=hashing_cpu + adding_cpu, hashing_cpu=hashing_cpu, adding_cpu=adding_cpu),
                    "noop": [dict(wall=s) for s in searches]}
        finally:
            server.stop()

    def paged_search(self, server):
        """One plain ldap3 paged search of every account: connect, bind, read, unbind."""
        start = time.perf_counter()
        conn = self.connect(server)
        entries = [item for item in conn.extend.standard.paged_search(
            server.base, "(objectClass=inetOrgPerson)", ldap3.LEVEL, attributes=READ_ATTRIBUTES,
            paged_size=1000, generator=True) if item.get("type") == "searchResEntry"]
        conn.unbind()
        seconds = time.perf_counter() - start
        if len(entries) != len(self.creates):
            raise BenchError("the paged search read %d entries, %d expected" % (len(entries), len(self.creates)))
        return seconds

    def run_loop(self, ops):
        server = self.slapd("loop")
        try:
            items, passwords = [], {}
            for op in ops:
                passwords[op.dn] = new_password()
                dn, classes, attrs = entry_of(op, passwords[op.dn])
                items.append({"dn": dn, "objectClass": classes, "attributes": attrs})
            self.redactor.add(*passwords.values())
            var = self.private_file("loop.json", json.dumps({
                "bench_uri": server.uri, "bench_ca_file": server.ca_file, "bench_bind_dn": server.toolkit_dn,
                "bench_bind_password": server.passwords[server.toolkit_dn], "bench_entries": items}))

            def check_cold():
                active = [op for op in ops if op.account.state == ACTIVE]
                probe = random.Random(7).sample(active, min(3, len(active)))
                self.check(server, "the ldap_entry loop (cold)", [op.dn.lower() for op in ops],
                           {op.dn: passwords[op.dn] for op in probe}, reference=self.snap)

            return run_loop(self.playbooks, [var], 600 + 5 * len(items), len(items), check_cold)
        finally:
            server.stop()


def python_ldap_missing():
    """Why ldap_entry cannot run with the venv's Python, or None."""
    proc = subprocess.run([sys.executable, "-c", "import ldap"], capture_output=True, text=True,
                          timeout=60, check=False)
    return None if proc.returncode == 0 else "python-ldap is not installed in %s" % sys.prefix


def single_hash(argon2, runs=5):
    """Best of ``runs``: one hash in-process (libargon2), and one slappasswd process."""
    lib = []
    for _ in range(runs):
        start = time.perf_counter()
        argon2.hash("bench-Single-1")
        lib.append(time.perf_counter() - start)
    proc = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(["slappasswd", "-o", "module-load=argon2 " + argon2.parameters, "-h", "{ARGON2}",
                        "-s", "bench-Single-1"], capture_output=True, check=True, timeout=60)
        proc.append(time.perf_counter() - start)
    return min(lib), min(proc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="cold runs of the playbook and of the floor (best is kept; each costs "
                             "about the hashing time)")
    parser.add_argument("--noop-repeat", type=int, default=3,
                        help="no-op runs of the playbook and paged searches of the floor (best is kept)")
    add_loop_options(parser, "ldap_entry loop", "accounts", "hours")
    parser.add_argument("--argon2", default=None,
                        help="argon2 parameters of the benchmark's slapd, e.g. 'm=1024 t=1 p=1' (default: the "
                             "role's ldap_directory__argon2_parameters); the hash bounds every cold row")
    args = parser.parse_args(argv)
    # An interrupted run still stops its servers (finally blocks below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workers = os.cpu_count() or 1
    contender = "playbook mail_accounts"
    argon2 = Argon2(args.argon2 or role_argon2_parameters())
    with tempfile.TemporaryDirectory(prefix="mail-bench-") as tmp:
        registry = os.path.join(tmp, "registry")
        generate(os.path.join(ROOT, "inventory", "registry"), registry,
                 accounts=args.accounts, subdomains=0, sms_users=10)
        docs = {name: load_file(os.path.join(registry, name + ".yml")).data
                for name in ("mail", "agencies", "people", "domain")}
        domain = docs["domain"]["domain"]["name"]
        desired = desired_accounts(docs["mail"], docs["agencies"], docs["people"], domain,
                                   "ou=accounts," + suffix_of(domain))
        creates = [op for op in make_plan(desired, {}) if op.action == CREATE]
        bench = Bench(tmp, registry, creates, argon2)
        bench.identities = give_handover_keys(registry, docs["people"], desired)
        total = len(creates)
        loop_ops = sample_of(creates, args.loop_sample, args.seed)
        if len(loop_ops) < total:  # a sample runs in DN order; all of them, in the plan's
            loop_ops = sorted(loop_ops, key=lambda op: op.dn)
        sample = len(loop_ops)
        no_loop = python_ldap_missing()
        print("registry: %d accounts, %d to create (the others are deleted ones); argon2 %s (%s), %d cores"
              % (len(desired), total, argon2.parameters, argon2.variant, workers), flush=True)
        load = MachineLoad()
        try:
            one_lib, one_proc = single_hash(argon2)
            cold_timeout = 600 + int(6 * total * one_lib)
            pb, fl = [], []
            for i in range(args.repeat):  # interleaved, so that other load on the machine hits both
                print("%s, cold + %d x no-op (%d/%d) ..." % (contender, args.noop_repeat, i + 1, args.repeat),
                      flush=True)
                pb.append(bench.run_playbook(i, args.noop_repeat, cold_timeout))
                print("floor: %d argon2 hashes on %d threads + ldapadd, then %d x a paged search (%d/%d) ..."
                      % (total, workers, args.noop_repeat, i + 1, args.repeat), flush=True)
                fl.append(bench.run_floor(i, args.noop_repeat, workers))
            if no_loop:
                print("ldap_entry loop: NOT RUN, %s (community.general.ldap_entry needs it)" % no_loop, flush=True)
                lp = None
            else:
                print("ldap_entry loop over %d accounts, cold + no-op ..." % sample, flush=True)
                lp = bench.run_loop(loop_ops)
            load.end()
        except BenchError as exc:
            print("benchmark aborted: " + bench.redactor.clean(str(exc)))
            return 2
        finally:
            bench.stop_all()

    cold_runs = [r["cold"] for r in pb]
    noop_runs = [n for r in pb for n in r["noop"]]
    play = {"cold": min(r["wall"] for r in cold_runs), "noop": min(r["wall"] for r in noop_runs)}
    best_work = {"cold": min(cold_runs, key=lambda r: r["work"]), "noop": min(noop_runs, key=lambda r: r["work"])}
    work = {p: best_work[p]["work"] for p in best_work}
    floor_cold = min((r["cold"] for r in fl), key=lambda r: r["wall"])
    floor = {"cold": floor_cold["wall"], "noop": min(n["wall"] for r in fl for n in r["noop"])}
    loop = scale_loop(lp, total, sample) if lp else {}
    note = extrapolated_from(sample, total)

    def ratio(a, b, fmt):
        return fmt % (a / b) if a is not None and b else "-"

    cold_best = best_work["cold"]
    rows = [
        (contender + ", cold", play["cold"], "", ratio(play["cold"], floor["cold"], "%.2f"), ""),
        (contender + ", no-op", play["noop"], "", ratio(play["noop"], floor["noop"], "%.2f"), ""),
        ("module's own work, cold", work["cold"], "", ratio(work["cold"], floor["cold"], "%.2f"),
         "%.1f" % cold_best["cpu"]),
        ("module's own work, no-op", work["noop"], "", ratio(work["noop"], floor["noop"], "%.2f"), ""),
        ("ldap_entry loop, cold" + note, loop.get("cold"),
         ratio(loop.get("cold"), play["cold"], "%.1f"), "", ""),
        ("ldap_entry loop, no-op" + note, loop.get("noop"),
         ratio(loop.get("noop"), play["noop"], "%.1f"), "", ""),
        ("floor cold: hashes + ldapadd", floor["cold"], "", "1.00", "%.1f" % floor_cold["cpu"]),
        ("  %d argon2 hashes, %d threads" % (total, workers), floor_cold["hashing"], "", "",
         "%.1f" % floor_cold["hashing_cpu"]),
        ("  ldapadd, %d pre-hashed entries" % total, floor_cold["adding"], "", "",
         "%.1f" % floor_cold["adding_cpu"]),
        ("floor no-op: one paged search", floor["noop"], "", "1.00", ""),
        ("one argon2 hash, in-process", one_lib, "", "", ""),
        ("one argon2 hash, slappasswd process", one_proc, "", "", ""),
    ]
    print()
    print_table(rows, [("loop/playbook", 14), ("x floor", 8), ("CPU s", 9)])
    print()
    print("%d accounts created (%d in the registry); cold: best of %d, no-op: best of %d (playbook, floor)"
          % (total, len(desired), args.repeat, args.noop_repeat))
    print("hashes: {ARGON2} %s (%s, %s), %.3f s each on one core; "
          "the floor hashes with libargon2 (slapd's argon2 module's library) in %d threads on %d cores"
          % (argon2.parameters, argon2.variant, "given with --argon2" if args.argon2 else
             "the role's ldap_directory__argon2_parameters", one_lib, workers, workers))
    print("floor cold = %.1f s hashing + %.1f s ldapadd -x (C client, bound as the toolkit: ppolicy "
          "accepts the pre-hashed values)" % (floor_cold["hashing"], floor_cold["adding"]))
    print("floor no-op = ldap3 connect + bind + paged search (page 1000, the module's %d attributes) "
          "+ unbind" % len(READ_ATTRIBUTES))
    print("CPU s (cold rows): the module's = ansible-playbook with the module + slapd; the floor's = "
          "the hashing threads + ldapadd + slapd; module / floor in CPU: %.2f"
          % (cold_best["cpu"] / floor_cold["cpu"]))
    print("module timing, cold:  %s (plan: %s, %d hand-over files)"
          % (module_timing(best_work["cold"]["timing"]), best_work["cold"]["plan"],
             best_work["cold"]["handover_files"]))
    print("module timing, no-op: %s" % module_timing(best_work["noop"]["timing"]))
    if lp:
        print("ldap_entry loop: 1 run over %d of %d accounts%s; %s"
              % (sample, total, scaled_by(sample, total), loop_times(lp, sample)))
    else:
        print("ldap_entry loop: not run: %s" % no_loop)
    if bench.lifted:
        print("slapd: the benchmark added olcLimits size=unlimited for the toolkit (slapd's default "
              "size limit of 500 truncates the toolkit's read; tests/ldap/slapd_server.py does not set it)")
    print(load.line())
    print("checked: after each cold run every account is in the directory with an %s... hash, the "
          "floor's%s entries equal the module's (userPassword aside), and real binds with the "
          "clear-text passwords work" % (argon2.prefix, " and the loop's" if lp else ""))
    goals = Goals()
    for phase, label, goal in (("cold", "cold", COLD_GOAL), ("noop", "no-op", NOOP_GOAL)):
        value = work[phase] / floor[phase]
        goals.report("module work / floor <= %.1f, %s: %.2f" % (goal, label, value), value <= goal)
    for phase, label in PHASES:
        if not lp:
            goals.unchecked("ldap_entry loop / playbook >= %.0f, %s:" % (LOOP_GOAL, label), "loop not run")
            continue
        value = loop[phase] / play[phase]
        goals.report("ldap_entry loop / playbook >= %.0f, %s: %.1f" % (LOOP_GOAL, label, value),
                     value >= LOOP_GOAL)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
