"""What the benchmarks share: their imports, ansible-playbook runs, the loop, the report.

bench/dns_bench.py and bench/mail_bench.py measure a module the same way (one
ansible-playbook run with the ansible.posix.json callback, against a loop of one
task item per object, sampled and extrapolated); every benchmark prints one table,
the machine's load and its goals, and exits 1 when a goal is missed. Keeping those
pieces here keeps the benchmarks' numbers and reports comparable: a fix to how a
playbook is run or a loop is scaled reaches all of them.

Only the standard library is imported here, so that a benchmark can import this
module before :func:`use_toolkit` makes the toolkit's packages importable.
"""
import collections
import datetime
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The two runs every contender makes: (key in the results, label in the report).
PHASES = (("cold", "cold"), ("noop", "no-op"))
TAIL = 1500  # characters of a failed command's output quoted in an error


class BenchError(Exception):
    """A contender did not do what it must: the benchmark stops instead of timing it."""


def use_toolkit(*dirs):
    """Make ``dirs`` (relative to the repository) importable: the tests' server helpers.

    The toolkit's own package is ``ansible.module_utils.city`` in the project's
    .venv (scripts/install-deps.sh links it there), as for the tests and bin/.
    """
    for path in dirs:
        sys.path.insert(0, os.path.join(ROOT, path))


class Redactor:
    """The secrets a run makes (TSIG keys, bind passwords), masked in whatever it prints.

    Errors quote ansible-playbook's output and the clients' stderr, which may hold
    them; a benchmark's output is pasted into issues, so it must never show one.
    """

    def __init__(self, *secrets):
        self.secrets = list(secrets)

    def add(self, *secrets):
        self.secrets.extend(secrets)

    def clean(self, text):
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text


def private_file(path, text):
    """Write ``text`` to ``path``, readable by its owner only: it holds keys or passwords."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def children_cpu():
    """CPU seconds of this process's finished children (and theirs): client processes' cost."""
    t = os.times()
    return t.children_user + t.children_system


def own_cpu():
    """CPU seconds of this process, all its threads: in-process work's cost."""
    t = os.times()
    return t.user + t.system


def cpu_of(pid):
    """CPU seconds (user + system) the process ``pid`` has used so far: a server's cost."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PlaybookRun = collections.namedtuple("PlaybookRun", "wall cpu data")
PlaybookRun.__doc__ = """One ansible-playbook run: wall seconds, CPU seconds of it and its
children (the modules' processes included), and the json callback's output."""


def playbook_failures(data):
    """``label: msg (last stderr line)`` of every failed task or loop item in the json output.

    A failed run says why in the results, not on stderr: this is what an error quotes.
    """
    failures = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for result in task.get("hosts", {}).values():
                for item in result.get("results") or [result]:
                    if item.get("failed"):
                        stderr = (item.get("module_stderr") or "").strip().splitlines()
                        failures.append("%s: %s%s" % (item.get("_ansible_item_label", ""), item.get("msg"),
                                                      " (%s)" % stderr[-1] if stderr else ""))
    return failures


class Playbooks:
    """The playbooks of one benchmark folder, run by the venv's ansible-playbook.

    The folder's ansible.cfg sets the json stdout callback and the timing-relevant
    settings; the caller's ANSIBLE_* variables are dropped so that no personal
    setting changes what is timed, and temporary files stay in the run's folder.
    """

    def __init__(self, folder, tmp, redactor):
        self.folder, self.tmp, self.redactor = folder, tmp, redactor

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=os.path.join(self.folder, "ansible.cfg"),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.tmp, "ansible-local"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.tmp, "ansible-remote"),
                   PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
        return env

    def run(self, name, var_files, timeout):
        """Run ``<folder>/<name>`` with ``-e @file`` for each of ``var_files``: a PlaybookRun.

        A run that fails, times out or prints no JSON raises BenchError: its numbers
        would be meaningless.
        """
        clean = self.redactor.clean
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               os.path.join(self.folder, name)]
        for path in var_files:
            cmd += ["-e", "@" + path]
        start, cpu = time.perf_counter(), children_cpu()
        try:
            proc = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout,
                                  check=False, cwd=self.tmp)
        except subprocess.TimeoutExpired:
            raise BenchError("%s did not finish within %d s" % (name, timeout))
        wall = time.perf_counter() - start
        cpu = children_cpu() - cpu
        out = proc.stdout
        try:
            data = json.loads(out[out.index("{"):])
        except ValueError:
            raise BenchError("%s printed no JSON (rc %d): %s %s" % (
                name, proc.returncode, clean(out[-TAIL:]), clean(proc.stderr[-TAIL:])))
        if proc.returncode != 0:
            failures = playbook_failures(data)
            raise BenchError("%s failed (rc %d), %d failure(s): %s %s" % (
                name, proc.returncode, len(failures), clean("; ".join(failures[:3])),
                clean(proc.stderr[-TAIL:])))
        return PlaybookRun(wall, cpu, data)


def task_result(data):
    """(the only task's result on localhost, its duration in seconds) from the json output.

    The task's own duration leaves out ansible-playbook's start-up: it is what a
    loop's per-item cost is computed from.
    """
    task = data["plays"][0]["tasks"][0]
    result = task["hosts"]["localhost"]
    span = task["task"]["duration"]
    seconds = (datetime.datetime.fromisoformat(span["end"].replace("Z", "+00:00"))
               - datetime.datetime.fromisoformat(span["start"].replace("Z", "+00:00")))
    return result, seconds.total_seconds()


def check_loop_run(phase, result, count, clean):
    """How many of the loop's ``count`` items changed, once the run is checked.

    Every item must have run without failing; a cold run changes every item and a
    no-op run (the same items again) none: otherwise the loop did other work than
    the module and its time says nothing.
    """
    results = result.get("results") or []
    changed = sum(1 for r in results if r.get("changed"))
    failed = [r for r in results if r.get("failed")]
    if len(results) != count or failed:
        raise BenchError("the loop ran %d of %d items, %d failed: %s" % (
            len(results), count, len(failed), clean(json.dumps(failed[:2]))[:TAIL]))
    if phase == "cold" and changed != count:
        raise BenchError("the cold loop changed %d of %d items" % (changed, count))
    if phase == "noop" and changed:
        raise BenchError("the second loop changed %d items: not a no-op" % changed)
    return changed


def run_loop(playbooks, var_files, timeout, count, check_cold):
    """Run ``loop.yml`` cold, then again as a no-op: {phase: dict(wall, task, changed)}.

    ``check_cold()`` checks the server after the cold run, so that the loop is
    timed doing the same work as the module.
    """
    out = {}
    for phase, _ in PHASES:
        run = playbooks.run("loop.yml", var_files, timeout)
        result, task_seconds = task_result(run.data)
        changed = check_loop_run(phase, result, count, playbooks.redactor.clean)
        if phase == "cold":
            check_cold()
        out[phase] = dict(wall=run.wall, task=task_seconds, changed=changed)
    return out


def add_loop_options(parser, loop, items, all_takes):
    """``--loop-sample`` and ``--seed``: how many of the ``items`` the ``loop`` runs over.

    The same options and defaults in every benchmark with a loop, so that their
    reports (and their docstrings, which quote the defaults) agree.
    """
    parser.add_argument("--loop-sample", type=int, default=200,
                        help="run the %s over N %s and extrapolate to all of them "
                             "(default 200; 0: run the loop over all, %s)" % (loop, items, all_takes))
    parser.add_argument("--seed", type=int, default=3, help="seed of the loop's sample")


def sample_of(items, size, seed):
    """The items the loop runs over: ``size`` of them drawn with ``seed``, or all of them.

    A loop of one task item per object takes minutes to hours at a city's size;
    a seeded sample keeps the run short and the same from one run to the next.
    ``size`` 0 or past the count: all of them.
    """
    if not size or size >= len(items):
        return items
    return random.Random(seed).sample(items, size)


def scale_loop(loop, total, sample):
    """{phase: seconds} of the loop over ``total`` items, from its run over ``sample`` of them.

    ansible-playbook's start-up (wall minus the task's time) is paid once; the task's
    time grows with the items.
    """
    return {phase: loop[phase]["wall"] - loop[phase]["task"] + loop[phase]["task"] * total / sample
            for phase, _ in PHASES}


def extrapolated_from(sample, total):
    """What the loop's rows add to their label when the loop ran over a sample."""
    return "" if sample == total else " (extrapolated from %d)" % sample


def scaled_by(sample, total):
    """How the loop's sample was scaled, for the notes under the table ("" when not)."""
    return (", its task time scaled by %d/%d, start-up counted once" % (total, sample)
            if sample != total else "")


def loop_times(loop, sample):
    """The loop's cold and no-op runs as measured: wall, task and per-item seconds."""
    return ("cold %.1f s wall (task %.1f s, %.3f s per item), no-op %.1f s wall "
            "(task %.1f s, %.3f s per item)" % (
                loop["cold"]["wall"], loop["cold"]["task"], loop["cold"]["task"] / sample,
                loop["noop"]["wall"], loop["noop"]["task"], loop["noop"]["task"] / sample))


def module_timing(timing):
    """A module's own ``timing`` result (read, plan, apply seconds) for the notes."""
    return "read %.3f + plan %.3f + apply %.3f" % (timing["read"], timing["plan"], timing["apply"])


def print_table(rows, columns, width=0, seconds_width=9):
    """Print the header and ``rows`` aligned: what, seconds, then the other columns.

    ``rows``: (what, seconds or None for "not run", one text per column);
    ``columns``: (header, width) of the columns after "seconds"; ``width``: the
    least width of the "what" column (else the longest label).
    """
    width = max([width] + [len(row[0]) for row in rows])

    def line(what, seconds, cells):
        return " ".join(["%-*s" % (width, what), seconds]
                        + ["%*s" % (w, cell) for (_, w), cell in zip(columns, cells)])

    print(line("what", "%*s" % (seconds_width, "seconds"), [header for header, _ in columns]))
    for what, seconds, *cells in rows:
        shown = ("%*.3f" % (seconds_width, seconds) if seconds is not None
                 else "%*s" % (seconds_width, "not run"))
        print(line(what, shown, cells))


class MachineLoad:
    """The load average when the measurements start and end, for the line under the table.

    The machine may be shared (a CI run, another benchmark): other work slows every
    row, so the report says how busy the machine was and that the ratios are what
    to compare.
    """

    def __init__(self):
        self.before = os.getloadavg()[0]
        self.after = self.before

    def end(self):
        self.after = os.getloadavg()[0]

    def line(self):
        return ("machine: %d CPUs, load average %.1f before, %.1f after (other work on the machine "
                "slows every row; the ratios are what to compare)"
                % (os.cpu_count() or 1, self.before, self.after))


class Goals:
    """The ``goal:`` lines and the exit status they make: 0 when every goal is met, else 1."""

    def __init__(self):
        self.ok = True

    def report(self, text, met):
        """Print ``goal: <text> meets`` (or ``MISSES``, which fails the run)."""
        self.ok = self.ok and met
        print("goal: %s %s" % (text, "meets" if met else "MISSES"))

    def unchecked(self, text, why):
        """Print a goal that could not be measured: it fails the run too."""
        self.ok = False
        print("goal: %s NOT CHECKED (%s)" % (text, why))

    def status(self):
        return 0 if self.ok else 1
