#!/usr/bin/env python3
"""Benchmark: validating a city-scale registry against merely parsing it.

The floor is what any tool must pay: parsing the same files with PyYAML's C loader.
The goal (issue 2): validation costs at most 3 times that floor. Both are timed in
the same run, best of N, and reported as a ratio.

usage: python bench/validate_bench.py [--repeat 3] [--accounts 20000] ...
"""
import argparse
import os
import sys
import tempfile
import time

from bench_common import ROOT, Goals, print_table, use_toolkit

use_toolkit()
import yaml  # noqa: E402
from generate_registry import generate  # noqa: E402
from ansible.module_utils.registry.loader import registry_files  # noqa: E402
from ansible.module_utils.registry.sms import trust  # noqa: E402
from ansible.module_utils.registry.validate import validate  # noqa: E402

GOAL = 3.0


def parse_only(registry_dir):
    for name in registry_files(registry_dir):
        with open(os.path.join(registry_dir, name), "rb") as fh:
            yaml.load(fh, Loader=yaml.CSafeLoader)


def best_of(repeat, func):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--subdomains", type=int, default=500)
    parser.add_argument("--sms-users", type=int, default=20000)
    args = parser.parse_args(argv)
    schemas = os.path.join(ROOT, "schemas")
    with tempfile.TemporaryDirectory() as tmp:
        registry = os.path.join(tmp, "registry")
        sizes = generate(os.path.join(ROOT, "inventory", "registry"), registry,
                         accounts=args.accounts, subdomains=args.subdomains,
                         sms_users=args.sms_users)
        size_mb = sum(os.path.getsize(os.path.join(registry, n))
                      for n in registry_files(registry)) / 1e6
        root = trust.load_root(trust.inventory_from_config(ROOT))
        result = validate(registry, schemas, approval_root=root)
        if not result.ok:
            for finding in result.errors[:20]:
                print(finding.format())
            sys.exit("the generated registry does not validate: the benchmark would be meaningless")
        floor = best_of(args.repeat, lambda: parse_only(registry))
        full = best_of(args.repeat, lambda: validate(registry, schemas, approval_root=root))
        # The template-marker check (REG-TEMPLATE) walks a file's node tree only when its
        # text could hold a marker; a brace escape in a comment of every file forces the
        # walk everywhere: its worst case.
        for name in registry_files(registry):
            with open(os.path.join(registry, name), "a", encoding="utf-8") as fh:
                fh.write("# \\x7b\n")
        walked = best_of(args.repeat, lambda: validate(registry, schemas, approval_root=root))
    print("registry: %s (%.1f MB of YAML)" % (", ".join("%s %d" % kv for kv in sizes.items()),
                                              size_mb))
    print_table([("floor: parse with PyYAML CSafeLoader", floor, "1.00"),
                 ("registry-validate (schemas + all rules)", full, "%.2f" % (full / floor)),
                 ("  the same, template-marker walk forced", walked, "%.2f" % (walked / floor))],
                [("ratio", 8)], width=44, seconds_width=10)
    goals = Goals()
    goals.report("validation <= %.1f x floor:" % GOAL, full / floor <= GOAL)
    goals.report("validation with the walk forced <= %.1f x floor:" % GOAL, walked / floor <= GOAL)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
