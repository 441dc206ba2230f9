#!/usr/bin/env python3
"""Benchmark: the plans a merge request waits for, on the converged lab, against the module calls they make.

Issue 14, item 4. On the lab (`make site` first: the plans must find nothing to
change), timed in one run:

* floor: the check-mode calls the registry's plan makes, run directly as Ansible
  runs a module (tests/module_runner.py: a new Python process, the arguments in a
  file), one after the other: dns_zone, mail_accounts, mail_unused, with the
  arguments the plan's tasks give them (bench/plan_bench/args.yml, untimed), plus
  sms_blast once per blast of the registry's blasts/ (none in the example registry,
  which then has no blast to plan);
* registry plan: ``make plan-registry``'s command, playbooks/plan.yml --check --diff
  --skip-tags city_server: validation and the registry's modules, no role task;
* full plan: ``make plan``'s command, every play of site.yml in check mode;
* old full plan: playbooks/plan.yml, site.yml and the lab's group_vars/lab_hosts.yml
  as they were before this issue (read from git, OLD_COMMIT; everything else is
  today's, linked into a temporary copy of the project): one server play after the
  other, over the collection's podman connection without pipelining. What a merge
  request waited for.

make's own step (scripts/install-deps.sh) is not timed. Every plan must be complete
(no task failed) and the full plan's changes must be the old one's, the registry
plan's those of the full plan's registry modules. Goals: registry plan <= 3 x the
floor and under 20 s, full plan under 60 s. Best of ``--repeat`` runs (the full
plans: ``--full-repeat``). Exit status 1 when a goal is missed; 2 when a run fails.

usage: .venv/bin/python bench/plan_bench.py [--repeat 3] [--full-repeat 1] [--no-old]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from bench_common import ROOT, TAIL, BenchError, Goals, MachineLoad, Redactor, print_table, use_toolkit

use_toolkit("tests")
from module_runner import run_module  # noqa: E402

INVENTORY = "inventory/lab"
# The commit whose plan.yml and site.yml ran one server play after the other.
OLD_COMMIT = "17e23dba470e676969077af0b323c9caf34e8570"
OLD_FILES = ("playbooks/plan.yml", "playbooks/site.yml", "inventory/lab/group_vars/lab_hosts.yml")
PLAN = ["playbooks/plan.yml", "--check", "--diff"]
REGISTRY_MODULES = ("dns_zone", "mail_accounts", "mail_unused", "sms_blast")
FLOOR_GOAL, REGISTRY_SECONDS, FULL_SECONDS = 3.0, 20.0, 60.0


def env(tmp):
    """make's environment, without the caller's ANSIBLE_* and CITY_* settings."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CITY_"))}
    out.update(PATH=os.path.dirname(sys.executable) + os.pathsep + out.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CONTAINERS_CONF=os.path.join(ROOT, "lab", "containers.conf"),
               CITY_STATE_DIR=os.path.join(tmp, "state"))
    return out


def playbook(args, environ, timeout, inventory=INVENTORY):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory] + args
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError("%s did not finish within %d s" % (" ".join(args[:1]), timeout))
    return time.perf_counter() - start, proc


def module_args(tmp, redactor):
    """The registry modules' arguments on the lab, as the plan's tasks template them."""
    environ = dict(env(tmp), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.timer")
    _, proc = playbook(["bench/plan_bench/args.yml"], environ, 300)
    out = proc.stdout
    try:
        data = json.loads(out[out.index("{"):out.rindex("}") + 1])
        args = data["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    except (ValueError, KeyError, IndexError):
        raise BenchError("bench/plan_bench/args.yml failed (rc %d): %s" % (proc.returncode, proc.stderr[-TAIL:]))
    redactor.add(args["dns_zone"]["key_secret"], args["ldap"]["bind_password"])
    return args


def run_floor(args, blasts, clean):
    """Seconds of the registry plan's module calls made directly, and the calls made."""
    ldap = args["ldap"]
    calls = [("dns_zone", args["dns_zone"]), ("mail_accounts", dict(ldap, **args["mail_accounts"])),
             ("mail_unused", dict(ldap, **args["mail_unused"]))]
    calls += [("sms_blast", {"blast": text}) for text in blasts]
    start = time.perf_counter()
    for name, margs in calls:
        result = run_module(name, margs, check=True, diff=True)
        if result.get("failed"):
            raise BenchError("the floor's %s failed: %s" % (name, clean(str(result.get("msg")))[:TAIL]))
    return time.perf_counter() - start, [name for name, _ in calls]


def run_plan(tmp, name, extra, timeout, clean, inventory=INVENTORY):
    """(seconds, plan.json) of one plan run; BenchError when it fails or is incomplete."""
    plan_dir = os.path.join(tmp, "plan-" + name)
    environ = dict(env(tmp), CITY_PLAN_DIR=plan_dir)
    seconds, proc = playbook(extra, environ, timeout, inventory)
    path = os.path.join(plan_dir, "plan.json")
    if proc.returncode != 0 or not os.path.exists(path):
        raise BenchError("the %s plan failed (rc %d): %s %s" % (
            name, proc.returncode, clean(proc.stdout[-TAIL:]), clean(proc.stderr[-TAIL:])))
    with open(path, encoding="utf-8") as fh:
        plan = json.load(fh)
    if not plan["complete"]:
        raise BenchError("the %s plan is incomplete: %s" % (name, clean(json.dumps(plan["errors"]))[:TAIL]))
    return seconds, plan


def link_tree(source, target, keep):
    """``target`` mirrors ``source``: a link to each entry, a directory for those on a path in ``keep``."""
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        path = os.path.join(target, name)
        inside = [k.split("/", 1)[1] for k in keep if k.split("/", 1)[0] == name and "/" in k]
        if inside:
            link_tree(os.path.join(source, name), path, inside)
        elif name not in keep:
            os.symlink(os.path.join(source, name), path)


def old_tree(tmp):
    """A copy of the project (links) whose OLD_FILES are OLD_COMMIT's: (plan.yml, inventory)."""
    old = os.path.join(tmp, "old")
    link_tree(ROOT, old, OLD_FILES)
    for name in OLD_FILES:
        shown = subprocess.run(["git", "show", "%s:%s" % (OLD_COMMIT, name)], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
        if shown.returncode != 0:
            return None
        with open(os.path.join(old, name), "w", encoding="utf-8") as fh:
            fh.write(shown.stdout)
    return os.path.join(old, "playbooks", "plan.yml"), os.path.join(old, INVENTORY)


def records(plan, modules=None):
    return sorted(json.dumps(r, sort_keys=True) for r in plan["changes"]
                  if modules is None or r["module"] in modules)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the floor and the registry plan (best kept)")
    parser.add_argument("--full-repeat", type=int, default=1, help="runs of each full plan (best kept)")
    parser.add_argument("--no-old", action="store_true", help="leave out the old full plan (about 2 minutes)")
    args = parser.parse_args(argv)
    redactor = Redactor()
    blasts = []
    for path in sorted(glob.glob(os.path.join(ROOT, "inventory", "registry", "blasts", "*.yml"))):
        with open(path, encoding="utf-8") as fh:
            blasts.append(fh.read())
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        load = MachineLoad()
        try:
            margs = module_args(tmp, redactor)
            print("floor (%d x the module calls), registry plan (%d x), full plan (%d x)%s ..."
                  % (args.repeat, args.repeat, args.full_repeat, "" if args.no_old else ", old full plan"),
                  flush=True)
            floor = [run_floor(margs, blasts, redactor.clean) for _ in range(args.repeat)]
            registry = [run_plan(tmp, "registry", PLAN + ["--skip-tags", "city_server"], 300, redactor.clean)
                        for _ in range(args.repeat)]
            full = [run_plan(tmp, "full", PLAN, 900, redactor.clean) for _ in range(args.full_repeat)]
            old = None
            old_files = None if args.no_old else old_tree(tmp)
            if old_files:
                old = [run_plan(tmp, "old", [old_files[0], "--check", "--diff"], 1200, redactor.clean,
                                inventory=old_files[1]) for _ in range(args.full_repeat)]
            load.end()
        except BenchError as exc:
            print("benchmark aborted: " + redactor.clean(str(exc)))
            return 2

    floor_s = min(s for s, _ in floor)
    calls = floor[0][1]
    reg_s, reg_plan = min(registry, key=lambda r: r[0])
    full_s, full_plan = min(full, key=lambda r: r[0])
    old_s, old_plan_doc = min(old, key=lambda r: r[0]) if old else (None, None)
    checks = []
    if records(reg_plan) != records(full_plan, REGISTRY_MODULES):
        checks.append("the registry plan's changes differ from the full plan's registry modules'")
    if [p["tag"] for p in reg_plan["not_planned"]] != ["city_server"]:
        checks.append("the registry plan does not say it left out the server configuration")
    if old_plan_doc is not None and records(old_plan_doc) != records(full_plan):
        checks.append("the full plan's changes differ from the old full plan's")

    def vs_old(seconds):
        return "%.1f" % (old_s / seconds) if old_s else ""

    rows = [
        ("floor: %s, direct check-mode calls" % " + ".join(calls), floor_s, "1.00", vs_old(floor_s)),
        ("registry plan (make plan-registry)", reg_s, "%.2f" % (reg_s / floor_s), vs_old(reg_s)),
        ("full plan (make plan)", full_s, "%.2f" % (full_s / floor_s), vs_old(full_s)),
        ("old full plan (before issue 14)", old_s, "%.2f" % (old_s / floor_s) if old_s else "",
         "1.0" if old_s else ""),
    ]
    print()
    print_table(rows, [("x floor", 9), ("old/this", 9)])
    print()
    print("best of %d (floor, registry plan), %d (full plans); make's install step not timed"
          % (args.repeat, args.full_repeat))
    print("changes planned: registry plan %d, full plan %d%s; the registry plan leaves out: %s"
          % (len(reg_plan["changes"]), len(full_plan["changes"]),
             ", old full plan %d" % len(old_plan_doc["changes"]) if old_plan_doc else "",
             ", ".join(p["part"] for p in reg_plan["not_planned"]) or "nothing"))
    if not blasts:
        print("the registry's blasts/ holds no blast: neither the plans nor the floor call sms_blast")
    if old is None:
        print("old full plan: not run (%s)" % ("--no-old" if args.no_old else "git show %s failed" % OLD_COMMIT[:7]))
    print(load.line())
    goals = Goals()
    for problem in checks:
        goals.unchecked("the plans agree", problem)
    goals.report("registry plan / floor <= %.0f: %.2f" % (FLOOR_GOAL, reg_s / floor_s), reg_s / floor_s <= FLOOR_GOAL)
    goals.report("registry plan < %.0f s: %.1f s" % (REGISTRY_SECONDS, reg_s), reg_s < REGISTRY_SECONDS)
    goals.report("full plan < %.0f s: %.1f s" % (FULL_SECONDS, full_s), full_s < FULL_SECONDS)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
