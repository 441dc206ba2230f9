"""Callback plugin: how far a long task is (done of total, rate, time left) while it runs."""
from __future__ import annotations

DOCUMENTATION = r"""
name: city_progress
type: notification
short_description: Progress lines of the toolkit's long tasks (done of total, rate, time left)
description:
  - >-
    A bulk module of the toolkit (e.g. C(mail_accounts) applying 20,000 accounts) runs for
    minutes as one task, and Ansible shows its result only when it ends. While a task runs,
    this plugin prints every O(interval) seconds one plain line per piece of work the task
    reports, such as "mail accounts: 4,000 of 20,000 changes (20%), 22/s, about 12 min left",
    to standard error (line buffered, so it reaches a CI log as it happens; no terminal control
    codes).
  - >-
    At the start of the playbook it creates a private directory (0700) and names it in the
    environment variable C(CITY_PROGRESS_DIR), which the modules that run on the control node
    (delegated to localhost, or a local connection) inherit; they write their counts there
    (module_utils/city/service/progress.py). Modules on other hosts report nothing. The
    directory is removed at the end of the playbook.
  - >-
    A task that reports no progress, or ends within O(interval) seconds, prints nothing.
options:
  interval:
    description: Seconds between two progress lines of a running task.
    type: float
    default: 10
    env:
      - name: CITY_PROGRESS_INTERVAL
    ini:
      - section: city_progress
        key: interval
"""

import atexit
import collections
import json
import os
import shutil
import sys
import tempfile
import threading
import time

from ansible.plugins.callback import CallbackBase

ENV = "CITY_PROGRESS_DIR"  # the name module_utils/city/service/progress.py reads
POLL = 1.0  # seconds between two reads of the directory: the samples of the rate
RATE_WINDOW = 60.0  # seconds of samples the rate is taken over: recent, yet steady
MAX_LABEL = 60


def _count(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _label(value):
    """The label of a file, printable: the directory is private, yet a line must stay one line."""
    text = "".join(c for c in str(value) if c.isprintable())
    return text[:MAX_LABEL] or "work"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: it exists
    return True


def duration(seconds):
    """A rough time left, as an operator reads it: 40 s, 12 min, 2 h 5 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return "%d s" % seconds
    minutes = int(round(seconds / 60.0))
    if minutes < 120:
        return "%d min" % minutes
    return "%d h %d min" % (minutes // 60, minutes % 60)


def rate_text(rate):
    if rate >= 10:
        return "{:,.0f}/s".format(rate)
    if rate >= 1:
        return "%.1f/s" % rate
    return "%.1f/min" % (rate * 60)


def line(state, rate):
    """The progress line of one piece of work ``state`` (the file's fields) at ``rate`` per second."""
    done, total = state["done"], state["total"]
    unit = (" " + state["unit"]) if state["unit"] else ""
    text = "  {}: {:,} of {:,}{} ({}%)".format(state["what"], done, total, unit,
                                               int(100 * done / total) if total else 100)
    if rate is None or rate <= 0:
        return text + (", starting" if done == 0 else ", no progress lately")
    return "%s, %s, about %s left" % (text, rate_text(rate), duration(max(0, total - done) / rate))


def read_states(folder):
    """{file name: state} of the valid progress files in ``folder`` whose process still runs."""
    states = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return states
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue  # a file being written (progress.py renames it into place)
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.loads(fh.read(4096))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        done, total, pid = _count(data.get("done")), _count(data.get("total")), _count(data.get("pid"))
        if done is None or not total or pid is None:
            continue
        if not _alive(pid):
            # Killed before its close(): its work is over, its count would mislead.
            try:
                os.unlink(path)
            except OSError:
                pass
            continue
        started = data.get("started")
        states[name] = {"what": _label(data.get("what")), "unit": _label(data["unit"])[:20] if data.get("unit") else "",
                        "done": min(done, total), "total": total,
                        "started": started if isinstance(started, (int, float)) else None}
    return states


class Watcher:
    """The thread of one task: polls ``folder``, prints a line per running piece of work every ``interval``."""

    def __init__(self, folder, interval, show, clock=time.monotonic):
        self.folder, self.interval, self.show, self.clock = folder, interval, show, clock
        self.samples = {}  # file name -> deque of (time, done)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="city_progress", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def rate(self, name, state):
        """Units per second over the last RATE_WINDOW seconds; since the work started when
        this watcher has seen it only once (it began just before a line is due)."""
        samples = self.samples.get(name) or ()
        if len(samples) >= 2 and samples[-1][0] - samples[0][0] >= POLL / 2:
            (t0, d0), (t1, d1) = samples[0], samples[-1]
            return (d1 - d0) / (t1 - t0)
        if state.get("started"):
            elapsed = time.time() - state["started"]
            return state["done"] / elapsed if elapsed > 0 else None
        return None

    def poll(self, now):
        states = read_states(self.folder)
        for name in list(self.samples):
            if name not in states:
                del self.samples[name]
        for name, state in states.items():
            samples = self.samples.setdefault(name, collections.deque())
            samples.append((now, state["done"]))
            while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
                samples.popleft()
        return states

    def _run(self):
        next_line = self.clock() + self.interval
        while not self.stop_event.is_set():
            states = self.poll(self.clock())
            now = self.clock()
            if now >= next_line:
                next_line = now + self.interval
                for name in sorted(states):
                    self.show(line(states[name], self.rate(name, states[name])))
            self.stop_event.wait(min(POLL, self.interval, max(0.05, next_line - self.clock())))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "city_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.folder = None
        self.owner = os.getpid()
        self.watcher = None
        self.interval = 10.0

    # -- playbook ------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        if self.folder is not None:
            return  # the next playbook of the same command: the stats come once, after the last
        self.set_options()
        try:
            self.interval = max(0.1, float(self.get_option("interval")))
        except (TypeError, ValueError):
            self.interval = 10.0
        try:
            self.folder = tempfile.mkdtemp(prefix="city-progress-")  # mkdtemp: 0700, ours alone
        except OSError as exc:
            self._display.warning("no progress of long tasks will be shown: %s" % exc)
            return
        # Set before the first worker forks: every module run on the control node inherits it.
        os.environ[ENV] = self.folder
        atexit.register(self._cleanup)

    def v2_playbook_on_stats(self, stats):
        self._cleanup()

    # -- tasks ---------------------------------------------------------------
    def _task_start(self, *args, **kwargs):
        self._stop_watcher()
        if self.folder is not None:
            self.watcher = Watcher(self.folder, self.interval, self._show).start()

    v2_playbook_on_task_start = _task_start
    v2_playbook_on_handler_task_start = _task_start

    def _task_end(self, *args, **kwargs):
        self._stop_watcher()

    # A task has ended when the next one, a play or the stats begin (the linear strategy waits
    # for every host). With the strategy free a task start replaces the watcher: it reads the
    # same directory, so the lines of work still running on another host go on.
    v2_playbook_on_play_start = _task_end
    v2_playbook_on_no_hosts_remaining = _task_end

    # -- helpers -------------------------------------------------------------
    def _show(self, text):
        try:
            sys.stdout.flush()  # the task's banner first, in a log of both streams
        except (OSError, ValueError):
            pass
        self._display.display(text, stderr=True)

    def _stop_watcher(self):
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()

    def _cleanup(self):
        if os.getpid() != self.owner:
            return  # a forked worker ending: the directory is the controller's
        self._stop_watcher()
        folder, self.folder = self.folder, None
        if folder is not None:
            if os.environ.get(ENV) == folder:
                del os.environ[ENV]
            shutil.rmtree(folder, ignore_errors=True)
