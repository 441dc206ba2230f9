#!/usr/bin/env python3
"""Benchmark: applying the registry's DNS part with dns_zone, against an nsupdate loop and a floor.

Issue 3. A city-scale registry (the example plus app#### subdomains, each with an
AAAA and a www CNAME: about 1,000 record sets) is applied to a real BIND primary on
127.0.0.1, cold (empty zone) then no-op (second run), by:

* playbook: ``ansible-playbook bench/dns_loop/apply.yml``, one dns_zone call; the whole
  process is timed (wall clock), and the module's own ``timing`` (read + plan + apply)
  is read from its result;
* loop: ``ansible-playbook bench/dns_loop/loop.yml``, one community.general.nsupdate
  task item per record set, against a fresh named. At 0.4 to 1 s per item the full
  loop takes 7 to 17 minutes per run, so by default (``--loop-sample 200``) only a
  seeded random sample of 200 record sets is run and the loop task's time is
  extrapolated per record set to the full count (the playbook's fixed start-up cost
  is counted once); ``--loop-sample 0`` runs the loop over all of them;
* floor: in-process dnspython, against a fresh named: cold, the same RRsets in as few
  raw UPDATE messages as the 64 KB limit needs; no-op, one AXFR of the zone (the
  least any tool must do to know nothing changed).

Goals: loop / playbook >= 100 and module work / floor <= 3, cold and no-op. Every
number is the best of ``--repeat`` runs (the loop: one run). Exit status 1 when a
goal is missed; everything is printed anyway.

usage: .venv/bin/python bench/dns_bench.py [--subdomains 500] [--repeat 3]
                                           [--loop-sample 200] [--seed 3]
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time

from bench_common import (PHASES, ROOT, BenchError, Goals, MachineLoad, Playbooks, Redactor,
                          add_loop_options, extrapolated_from, loop_times, module_timing, print_table, private_file,
                          run_loop, sample_of, scale_loop, scaled_by, task_result, use_toolkit)

PLAYBOOKS = os.path.join(ROOT, "bench", "dns_loop")
use_toolkit("tests", os.path.join("tests", "dns"))
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdataset  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402
import dns.xfr  # noqa: E402
import dns.zone  # noqa: E402
from generate_registry import generate  # noqa: E402
from named_server import UPDATE_KEY, NamedServer  # noqa: E402
from ansible.module_utils.city.dns.desired import desired_state  # noqa: E402
from ansible.module_utils.city.dns.zone_io import Server  # noqa: E402
from ansible.module_utils.city.registry.loader import load_file  # noqa: E402

LOOP_GOAL = 100.0   # nsupdate loop / playbook, at least
FLOOR_GOAL = 3.0    # module's own work / floor, at most
MAX_WIRE = 65535    # an UPDATE over TCP
ZONE = "bekasikota.go.id"


class Bench:
    def __init__(self, tmp, registry, zone, want, owner):
        self.tmp, self.registry = tmp, registry
        self.zone, self.want, self.owner = zone, want, owner
        self.redactor = Redactor()  # the servers' keys, never printed
        self.playbooks = Playbooks(PLAYBOOKS, tmp, self.redactor)

    # -- plumbing ---------------------------------------------------------------------

    def named(self, tag):
        server = NamedServer(os.path.join(self.tmp, "named-%s" % tag), ZONE).start()
        self.redactor.add(server.secret)
        return server

    def vars_file(self, tag, data):
        return private_file(os.path.join(self.tmp, "vars-%s.json" % tag), json.dumps(data))

    def conn(self, server):
        return {"bench_server": "127.0.0.1", "bench_port": server.port,
                "bench_key_name": UPDATE_KEY, "bench_key_secret": server.secret,
                "bench_zone": self.zone.to_text()}

    # -- checks -----------------------------------------------------------------------

    def owned(self, server):
        reader = Server("127.0.0.1", server.port, self.zone, UPDATE_KEY, server.secret)
        return reader.read(self.owner.owns)

    def check_zone(self, server, keys, who):
        """The zone holds exactly ``want`` for ``keys``; a few of them resolve by query."""
        have = self.owned(server)
        wrong = [k for k in keys if have.get(k) != self.want[k]]
        if wrong:
            raise BenchError("after %s, %d of %d record sets differ from the registry, e.g. %s"
                             % (who, len(wrong), len(keys), [self.want[k].lines() for k in wrong[:3]]))
        probe = sorted(keys, key=lambda k: (k[0].to_text(), k[1]))
        probe = probe[:2] + random.Random(7).sample(probe, min(6, len(probe)))
        for name, rdtype in probe:
            got = server.query(name.to_text(), dns.rdatatype.to_text(rdtype))
            expected = sorted(rd.to_text() for rd in self.want[(name, rdtype)].rdatas)
            if got != expected:
                raise BenchError("after %s, %s %s resolves to %s, not %s" % (
                    who, name, dns.rdatatype.to_text(rdtype), got, expected))
        return len(probe)

    # -- the three contenders -----------------------------------------------------------

    def run_playbook(self, rep):
        server = self.named("playbook%d" % rep)
        try:
            var = self.vars_file("apply%d" % rep, dict(self.conn(server),
                                                        bench_registry_dir=self.registry))
            out = {}
            for phase, _ in PHASES:
                run = self.playbooks.run("apply.yml", [var], timeout=600)
                result, _ = task_result(run.data)
                timing = result["timing"]
                plan = result["plan"]
                if phase == "cold":
                    if plan["add"] + plan["change"] == 0 or not result["changed"]:
                        raise BenchError("the cold run changed nothing: %s" % plan)
                    probes = self.check_zone(server, list(self.want), "dns_zone (cold)")
                elif result["changed"] or plan["add"] or plan["change"] or plan["delete"]:
                    raise BenchError("the second run is not a no-op: %s" % plan)
                out[phase] = dict(wall=run.wall, work=sum(timing.values()), timing=timing,
                                  plan=plan, messages=result["messages"])
            out["probes"] = probes
            return out
        finally:
            server.stop()

    def run_floor(self, rep):
        server = self.named("floor%d" % rep)
        try:
            keyring = dns.tsigkeyring.from_text({UPDATE_KEY: ("hmac-sha256", server.secret)})
            present = set(self.owned(server))  # untimed: what the fresh zone already holds

            def update(keys):
                msg = dns.update.UpdateMessage(self.zone, keyring=keyring, keyname=UPDATE_KEY)
                for key in keys:
                    rrset = self.want[key]
                    if key in present:
                        msg.delete(key[0], key[1])
                    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, rrset.rdtype)
                    rds.update_ttl(rrset.ttl)
                    for rd in rrset.rdatas:
                        rds.add(rd)
                    msg.add(key[0], rds)
                return msg

            def split(keys):
                """Untimed: the key lists whose UPDATE fits in a TCP message, and sizes."""
                size = len(update(keys).to_wire())
                if size > MAX_WIRE and len(keys) > 1:
                    half = len(keys) // 2
                    return split(keys[:half]) + split(keys[half:])
                return [(keys, size)]

            keys = list(self.want)
            chunks = split(keys)
            start = time.perf_counter()
            for chunk, _ in chunks:
                response = dns.query.tcp(update(chunk), "127.0.0.1", port=server.port, timeout=30)
                if response.rcode() != dns.rcode.NOERROR:
                    raise BenchError("the floor's UPDATE was refused: %s"
                                     % dns.rcode.to_text(response.rcode()))
            cold = time.perf_counter() - start
            messages, size = len(chunks), max(size for _, size in chunks)
            self.check_zone(server, keys, "the floor's UPDATE")

            def axfr():
                zone = dns.zone.Zone(self.zone, relativize=False)
                query, _ = dns.xfr.make_query(zone, keyring=keyring, keyname=UPDATE_KEY)
                dns.query.inbound_xfr("127.0.0.1", zone, query=query, port=server.port,
                                      timeout=30)
                return zone

            start = time.perf_counter()
            zone = axfr()
            noop = time.perf_counter() - start
            rrsets = sum(len(node.rdatasets) for node in zone.nodes.values())
            return {"cold": dict(wall=cold, messages=messages, size=size),
                    "noop": dict(wall=noop, rrsets=rrsets)}
        finally:
            server.stop()

    def run_loop(self, keys):
        server = self.named("loop")
        try:
            items = []
            for key in keys:
                rrset = self.want[key]
                items.append({"record": key[0].to_text(),
                              "type": dns.rdatatype.to_text(key[1]),
                              "value": sorted(rd.to_text() for rd in rrset.rdatas),
                              "ttl": rrset.ttl})
            var = self.vars_file("loop", self.conn(server))
            records = os.path.join(self.tmp, "records.json")
            with open(records, "w") as fh:
                json.dump({"bench_records": items}, fh)
            return run_loop(self.playbooks, [var, records], max(600, 3 * len(items)), len(items),
                            lambda: self.check_zone(server, keys, "the nsupdate loop (cold)"))
        finally:
            server.stop()


ADDRESS = (dns.rdatatype.A, dns.rdatatype.AAAA)


def loop_order(keys, want):
    """The loop's items, as an operator must order them: addresses first.

    BIND refuses an UPDATE that adds an MX or SRV pointing to a name of the zone that
    has no address yet, so the addresses go first, and a sampled MX or SRV brings the
    addresses of its targets into the sample.
    """
    keys = set(keys)
    for name, rdtype in list(keys):
        if rdtype in (dns.rdatatype.MX, dns.rdatatype.SRV):
            for rd in want[(name, rdtype)].rdatas:
                target = rd.exchange if rdtype == dns.rdatatype.MX else rd.target
                keys.update(k for k in ((target, t) for t in ADDRESS) if k in want)
    return sorted(keys, key=lambda k: (k[1] not in ADDRESS, k[0].to_text(), k[1]))


def best(runs, phase, field):
    return min(r[phase][field] for r in runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subdomains", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the playbook and of the floor (best is kept)")
    add_loop_options(parser, "nsupdate loop", "record sets", "20 min or more")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dns-bench-") as tmp:
        registry = os.path.join(tmp, "registry")
        generate(os.path.join(ROOT, "inventory", "registry"), registry,
                 accounts=10, subdomains=args.subdomains, sms_users=10)
        zone, want, owner = desired_state(load_file(os.path.join(registry, "domain.yml")).data)
        bench = Bench(tmp, registry, zone, want, owner)
        total = len(want)
        records = sum(len(r.rdatas) for r in want.values())
        keys = sorted(want, key=lambda k: (k[0].to_text(), k[1]))
        loop_keys = loop_order(sample_of(keys, args.loop_sample, args.seed), want)
        sample = len(loop_keys)
        print("registry: %d subdomains, %d record sets (%d records) in zone %s"
              % (args.subdomains, total, records, zone), flush=True)
        load = MachineLoad()
        try:
            print("playbook (dns_zone), %d x cold + no-op ..." % args.repeat, flush=True)
            pb = [bench.run_playbook(i) for i in range(args.repeat)]
            print("floor (raw dnspython), %d x cold + no-op ..." % args.repeat, flush=True)
            fl = [bench.run_floor(i) for i in range(args.repeat)]
            print("nsupdate loop over %d record sets, cold + no-op ..." % sample, flush=True)
            lp = bench.run_loop(loop_keys)
            load.end()
        except BenchError as exc:
            print("benchmark aborted: " + bench.redactor.clean(str(exc)))
            return 2

    play = {p: best(pb, p, "wall") for p, _ in PHASES}
    work = {p: best(pb, p, "work") for p, _ in PHASES}
    floor = {p: best(fl, p, "wall") for p, _ in PHASES}
    loop = scale_loop(lp, total, sample)
    note = extrapolated_from(sample, total)
    best_work = {p: min(pb, key=lambda r: r[p]["work"])[p] for p, _ in PHASES}

    rows = [
        ("playbook dns_zone, cold", play["cold"], "", ""),
        ("playbook dns_zone, no-op", play["noop"], "", ""),
        ("module's own work, cold", work["cold"], "", "%.2f" % (work["cold"] / floor["cold"])),
        ("module's own work, no-op", work["noop"], "", "%.2f" % (work["noop"] / floor["noop"])),
        ("nsupdate loop, cold" + note, loop["cold"], "%.1f" % (loop["cold"] / play["cold"]), ""),
        ("nsupdate loop, no-op" + note, loop["noop"], "%.1f" % (loop["noop"] / play["noop"]), ""),
        ("floor cold: %d raw UPDATE" % fl[0]["cold"]["messages"], floor["cold"], "", "1.00"),
        ("floor no-op: one AXFR", floor["noop"], "", "1.00"),
    ]
    print()
    print_table(rows, [("loop/playbook", 14), ("module work/floor", 19)])
    print()
    print("best of %d (playbook, floor); loop: 1 run over %d of %d record sets%s"
          % (args.repeat, sample, total, scaled_by(sample, total)))
    print("module timing, cold:  %s (plan: %s, %d UPDATE message(s))"
          % (module_timing(best_work["cold"]["timing"]), best_work["cold"]["plan"],
             best_work["cold"]["messages"]))
    print("module timing, no-op: %s" % module_timing(best_work["noop"]["timing"]))
    print("floor: %d UPDATE message(s) of at most %d bytes (cold); one AXFR of %d RRsets (no-op)"
          % (fl[0]["cold"]["messages"], fl[0]["cold"]["size"], fl[0]["noop"]["rrsets"]))
    print("nsupdate loop: " + loop_times(lp, sample))
    print(load.line())
    print("checked: after each cold run every record set read back by AXFR equals the "
          "registry, and %d names resolve as declared" % pb[0]["probes"])
    goals = Goals()
    for phase, label in PHASES:
        ratio = loop[phase] / play[phase]
        goals.report("nsupdate loop / playbook >= %.0f, %s: %.1f" % (LOOP_GOAL, label, ratio),
                     ratio >= LOOP_GOAL)
    for phase, label in PHASES:
        ratio = work[phase] / floor[phase]
        goals.report("module work / floor <= %.0f, %s: %.2f" % (FLOOR_GOAL, label, ratio),
                     ratio <= FLOOR_GOAL)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
