#!/usr/bin/env python3
"""Benchmark: validating a registry against the fastest parse of the same files.

The floor is what any tool must pay: parsing the files with rapidyaml (C++), bare,
no data built. Beside it, what a user would otherwise use: PyYAML's C loader. The
goal (issue 12): the whole validation (read with positions, secret and template
scans, every schema, every cross-file rule) within 10 times the floor, at the city's
size and at five times it, growing linearly, under 1 GB; and the worst hostile input,
a 7 KB alias bomb, refused in under 1 s and 100 MB. Times are best of N in one run;
memory is the peak of a child process that validates once.

usage: python bench/validate_bench.py [--repeat 3] [--scales 1,5]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, Goals, MachineLoad, print_table, use_toolkit

use_toolkit()
import ryml  # noqa: E402
import yaml  # noqa: E402
from generate_registry import generate  # noqa: E402
from ansible.module_utils.city.registry.files import registry_files  # noqa: E402
from ansible.module_utils.city.sms import trust  # noqa: E402
from ansible.module_utils.city.registry.validate import validate  # noqa: E402

GOAL_RATIO = 10.0
GOAL_MB = 1024
BOMB_SECONDS, BOMB_MB = 1.0, 100
CITY = {"accounts": 20000, "subdomains": 500, "sms_users": 20000}

CHILD = """
import json, sys, time
sys.path.insert(0, %(bench)r)
from bench_common import use_toolkit
use_toolkit()
from ansible.module_utils.city.sms import trust
from ansible.module_utils.city.registry.validate import validate
root = trust.load_root(trust.inventory_from_config(%(root)r))
def hwm_kb():
    # The peak resident size of this process: /proc's VmHWM starts afresh at exec, where
    # getrusage's ru_maxrss keeps the forking parent's.
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
base = hwm_kb()
start = time.perf_counter()
result = validate(sys.argv[1], %(schemas)r, approval_root=root)
seconds = time.perf_counter() - start
peak = hwm_kb()
print(json.dumps({"ok": result.ok, "seconds": seconds, "peak_mb": peak / 1024.0,
                  "grown_mb": (peak - base) / 1024.0,
                  "rules": sorted({f.rule for f in result.errors})}))
"""


def read_all(registry_dir):
    out = []
    for name in registry_files(registry_dir):
        with open(os.path.join(registry_dir, name), "rb") as fh:
            out.append(fh.read())
    return out


def parse_ryml(blobs):
    for blob in blobs:
        ryml.parse_in_arena(blob)


def parse_pyyaml(blobs):
    for blob in blobs:
        yaml.load(blob, Loader=yaml.CSafeLoader)


def best_of(repeat, func):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def in_child(registry):
    code = CHILD % {"bench": os.path.join(ROOT, "bench"), "root": ROOT,
                    "schemas": os.path.join(ROOT, "schemas")}
    proc = subprocess.run([sys.executable, "-c", code, registry], capture_output=True,
                          text=True, check=True, timeout=600)
    return json.loads(proc.stdout)


def alias_bomb(levels=40, width=30):
    lines = ['  l0: &l0 ["%s"]' % '", "'.join(["lol"] * width)]
    for level in range(1, levels):
        lines.append("  l%d: &l%d [%s]" % (level, level, ", ".join(["*l%d" % (level - 1)] * width)))
    return "bomb:\n" + "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", default="1,5", help="multiples of the city's size")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    schemas = os.path.join(ROOT, "schemas")
    root = trust.load_root(trust.inventory_from_config(ROOT))
    load = MachineLoad()
    rows, measured, goals = [], {}, Goals()
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            registry = os.path.join(tmp, "registry-%dx" % scale)
            sizes = generate(os.path.join(ROOT, "inventory", "registry"), registry,
                             **{k: v * scale for k, v in CITY.items()})
            blobs = read_all(registry)
            size_mb = sum(len(b) for b in blobs) / 1e6
            result = validate(registry, schemas, approval_root=root)
            if not result.ok:
                for finding in result.errors[:20]:
                    print(finding.format())
                sys.exit("the generated registry does not validate: the benchmark would be "
                         "meaningless")
            floor = best_of(args.repeat, lambda: parse_ryml(blobs))
            pyyaml = best_of(max(1, args.repeat - 1), lambda: parse_pyyaml(blobs))
            full = best_of(args.repeat, lambda: validate(registry, schemas, approval_root=root))
            child = in_child(registry)
            measured[scale] = (floor, full, child["peak_mb"])
            walked = None
            if scale == min(scales):
                # REG-TEMPLATE walks a file's data only when its text could spell a marker;
                # a brace escape in a comment of every file forces the walk everywhere.
                for name in registry_files(registry):
                    with open(os.path.join(registry, name), "a", encoding="utf-8") as fh:
                        fh.write("# \\x7b\n")
                walked = best_of(args.repeat, lambda: validate(registry, schemas,
                                                               approval_root=root))
            label = "%dx city (%.1f MB, %d accounts, %d SMS users)" % (
                scale, size_mb, sizes["accounts"], sizes["sms_users"])
            print(label)
            rows += [("%dx floor: rapidyaml bare parse" % scale, floor, "1.00", ""),
                     ("%dx PyYAML CSafeLoader parse" % scale, pyyaml, "%.2f" % (pyyaml / floor), ""),
                     ("%dx registry-validate (all of it)" % scale, full, "%.2f" % (full / floor),
                      "%.0f" % child["peak_mb"])]
            if walked is not None:
                rows.append(("%dx  the same, template-marker walk forced" % scale, walked,
                             "%.2f" % (walked / floor), ""))
                measured[scale] = (floor, max(full, walked), child["peak_mb"])
        bomb_dir = os.path.join(tmp, "bomb")
        generate(os.path.join(ROOT, "inventory", "registry"), bomb_dir, accounts=0,
                 subdomains=0, sms_users=0)
        bomb = alias_bomb()
        with open(os.path.join(bomb_dir, "agencies.yml"), "a", encoding="utf-8") as fh:
            fh.write(bomb)
        child = in_child(bomb_dir)
        rows.append(("alias bomb (%d bytes): validation" % len(bomb), child["seconds"], "",
                     "%.0f" % child["grown_mb"]))
    load.end()
    print_table(rows, [("x floor", 8), ("peak MB", 8)], width=44, seconds_width=9)
    print("(peak MB: a child process that validates once; for the bomb, what validating it "
          "added)")
    print(load.line())
    for scale, (floor, full, peak) in sorted(measured.items()):
        goals.report("%dx: validation <= %.0f x rapidyaml's bare parse (%.1f):"
                     % (scale, GOAL_RATIO, full / floor), full / floor <= GOAL_RATIO)
        goals.report("%dx: peak memory < %d MB (%.0f):" % (scale, GOAL_MB, peak), peak < GOAL_MB)
    if 1 in measured and len(measured) > 1:
        top = max(measured)
        growth = measured[top][1] / measured[1][1]
        goals.report("validation grows linearly: %dx takes %.1f times 1x (at most %.1f):"
                     % (top, growth, top * 1.3), growth <= top * 1.3)
    goals.report("alias bomb refused (%s) in < %.0f s and < %d MB:"
                 % (",".join(child["rules"]), BOMB_SECONDS, BOMB_MB),
                 not child["ok"] and "REG-LIMIT" in child["rules"]
                 and child["seconds"] < BOMB_SECONDS and child["grown_mb"] < BOMB_MB)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
