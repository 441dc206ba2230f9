"""Callback plugin: one apply at a time, its audit trail, and the plan of a check run."""
from __future__ import annotations

DOCUMENTATION = r"""
name: apply_session
type: aggregate
short_description: One apply at a time, an audit trail of every change, the plan of a check run
description:
  - >-
    B(Apply) (a run without C(--check)) takes the control node's apply lock before the first
    play, so a second apply started meanwhile waits up to O(lock_wait) seconds and then stops
    with exit status 75, naming the run that holds the lock (operator, host, pid, playbook).
    When the lock or the trail cannot be written, the apply stops with exit status 73.
    A lock left by a killed apply is released by the kernel with its process; the description
    it leaves behind tells the next apply, which records that run as C(interrupted).
  - >-
    Every change a task makes is appended to the audit trail (JSON lines, append-only) as one
    record per object (the toolkit's modules object by object, a DNS record set, a mail account,
    a blast; any other task as one change), with before and after and secrets masked. A
    C(run-start) and a C(run-end) record (status C(ok), C(failed) or C(interrupted)) frame them.
  - >-
    B(Plan) (C(--check)) takes no lock and writes no trail; the same change records are written
    as a plan, Markdown and JSON, to O(plan_dir). An empty plan says so; tasks that could not
    be planned are listed as making the plan incomplete. A read-only plan (extra variable
    C(city_plan__readonly)) says so at its top, with the parts its skipped tags left out.
  - >-
    Sets C(CITY_RUN_ID), C(CITY_RUN_OPERATOR) and C(CITY_RUN_COMMIT) in the environment of the
    run, for the summaries the playbooks send to the targets' syslog.
  - >-
    Results of the host C(localhost) are not recorded (the lab's containers, the reports);
    tasks delegated to the control node are recorded under their target host.
requirements:
  - git on the control node (the commit of the registry)
options:
  state_dir:
    description: Directory of the lock (C(apply.lock)) and the trail (C(audit-trail.jsonl)).
      Default C(state/) in the project.
    type: path
    env:
      - name: CITY_STATE_DIR
    ini:
      - section: apply_session
        key: state_dir
  plan_dir:
    description: Directory the plan is written to (C(plan.md), C(plan.json)). Default C(reports/)
      in the project.
    type: path
    env:
      - name: CITY_PLAN_DIR
    ini:
      - section: apply_session
        key: plan_dir
  lock_wait:
    description: Seconds an apply waits for the lock before it gives up.
    type: float
    default: 0
    env:
      - name: CITY_LOCK_WAIT
    ini:
      - section: apply_session
        key: lock_wait
"""

import atexit
import os
import sys

from ansible import context
from ansible.parsing.dataloader import DataLoader
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback import CallbackBase
from ansible.utils.vars import load_extra_vars

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from ansible.module_utils.city.operate import changes, lock, plan_doc, run_info
from ansible.module_utils.city.operate.masking import mask
from ansible.module_utils.city.operate.trail import (
    CHANGE, FAILED, INTERRUPTED, OK, RUN_END, RUN_START, AuditTrail)

EXIT_LOCKED = 75  # EX_TEMPFAIL: try again later
EXIT_SETUP = 73  # EX_CANTCREAT: the lock or the trail cannot be written
# What the plugin says goes to stderr, like Ansible's warnings: stdout stays the stdout
# callback's alone (a json callback's output must stay one JSON document).
CONTROL_HOSTS = ("localhost", "127.0.0.1")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "apply_session"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.run = None
        self.check = False
        self.lock = None
        self.trail = None
        self.records, self.notes, self.errors, self.sections = [], [], [], {}
        self.ended = False

    # -- start ---------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        try:
            self._start(playbook)
        except Exception as exc:  # noqa: BLE001 - an apply must not run unlocked and unrecorded
            if self.check:
                self._display.warning("no plan will be written: %s" % exc)
                self.run = None
                return
            self._display.error("apply refused: the apply lock and audit trail cannot be set up: %s" % exc,
                                wrap_text=False)
            sys.exit(EXIT_SETUP)

    def _start(self, playbook):
        self.set_options()
        self.check = bool(context.CLIARGS.get("check"))
        try:
            extra = load_extra_vars(DataLoader())
        except Exception:  # noqa: BLE001 - e.g. a vaulted vars file: the default registry is recorded
            extra = {}
        registry = str(extra.get("registry_dir") or os.path.join(PROJECT, "inventory", "registry"))
        name = os.path.relpath(os.path.abspath(playbook._file_name), PROJECT)
        self.run = run_info.describe(name, context.CLIARGS.get("inventory"), self.check, registry)
        if self.check:
            # What the plan covers: a read-only plan (playbooks/plan.yml) and the parts
            # its skipped tags leave out, said at the top of the plan.
            self.run["readonly"] = boolean(extra.get("city_plan__readonly", False), strict=False)
            self.run["not_planned"] = plan_doc.not_planned(context.CLIARGS.get("skip_tags"))
        os.environ.update(CITY_RUN_ID=self.run["run"], CITY_RUN_OPERATOR=self.run["operator"],
                          CITY_RUN_COMMIT=self.run["commit"] or "none")
        if self.check:
            return
        state = self.get_option("state_dir") or os.path.join(PROJECT, "state")
        self.trail = AuditTrail(os.path.join(state, "audit-trail.jsonl"))
        self.lock = lock.ApplyLock(os.path.join(state, "apply.lock"))
        try:
            previous = self.lock.acquire(self.run, wait=self.get_option("lock_wait"), on_wait=self._waiting)
        except lock.LockBusy as busy:
            orphans = ""
            if busy.holder and not lock.holder_alive(busy.holder):
                orphans = (" (its process %s is gone, but a task it started still runs and holds the "
                           "lock until it ends)" % busy.holder.get("pid"))
            self._display.error("apply refused: %s holds the apply lock (%s)%s; try again when it has "
                                "ended, or set CITY_LOCK_WAIT to wait for it" % (
                                    lock.describe(busy.holder), self.lock.path, orphans), wrap_text=False)
            # Callback exceptions only become warnings; the apply must not start.
            sys.exit(EXIT_LOCKED)
        if previous:
            self.trail.append(previous.get("run"), RUN_END, status=INTERRUPTED,
                              detected_by=self.run["run"],
                              reason="the apply ended without recording its end (killed, or its machine "
                                     "stopped); its changes up to then are the records above")
            self._display.warning("%s did not finish: recorded as interrupted in %s. This apply converges "
                                  "what it left half done." % (lock.describe(previous), self.trail.path))
        self.trail.append(self.run["run"], RUN_START, **{k: v for k, v in self.run.items() if k != "run"})
        atexit.register(self._interrupted)

    def _waiting(self, holder):
        self._display.display("waiting up to %ss for %s to end" % (self.get_option("lock_wait"),
                                                                   lock.describe(holder)), stderr=True)

    # -- results -------------------------------------------------------------
    def _result(self, result, failed=False):
        host = result._host.get_name()
        task = result._task
        if host in CONTROL_HOSTS or self.run is None:
            return
        if not self.check and task.check_mode:
            return  # a read in check mode inside an apply (the reports' drift) changed nothing
        records = changes.from_result(task.action, result._result, host, task.get_name())
        self.notes.extend(changes.notes_from_result(task.action, result._result))
        self.sections.update(changes.sections_from_result(result._result))
        if failed:
            self.errors.append({"host": host, "task": task.get_name(),
                                "msg": mask(str(result._result.get("msg", "failed")))[:2000]})
        if self.check:
            self.records.extend(records)
            return
        for record in records:
            self.trail.append(self.run["run"], CHANGE, **record)
        self.records.extend(records)

    def v2_runner_on_ok(self, result):
        self._result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, failed=not ignore_errors)

    def v2_runner_on_unreachable(self, result):
        if self.run is not None:
            self.errors.append({"host": result._host.get_name(), "task": result._task.get_name(),
                                "msg": "unreachable: " + mask(str(result._result.get("msg", "")))[:2000]})

    # -- end -----------------------------------------------------------------
    def v2_playbook_on_stats(self, stats):
        if self.run is None:
            return
        if self.check:
            directory = self.get_option("plan_dir") or os.path.join(PROJECT, "reports")
            doc = plan_doc.document(self.run, self.records, self.notes, self.errors, self.sections)
            paths = plan_doc.write(directory, doc)
            verdict = ("no changes" if doc["empty"] else "%d change(s)" % len(self.records)) + (
                "; INCOMPLETE, %d task(s) could not be planned" % len(self.errors) if self.errors else "")
            self._display.display("Plan (%s): %s" % (verdict, " and ".join(paths)), stderr=True)
            return
        failed = any(stats.failures.get(h) or stats.dark.get(h) for h in stats.processed)
        self._end(FAILED if failed else OK, errors=self.errors)
        self._display.display("Audit trail (%s, %d change(s) recorded): %s" % (
            self.run["run"], len(self.records), self.trail.path), stderr=True)

    def _end(self, status, **fields):
        if self.ended:
            return
        self.ended = True
        self.trail.append(self.run["run"], RUN_END, status=status, changes=len(self.records), **fields)
        self.lock.release()

    def _interrupted(self):
        """At interpreter exit (Ctrl-C, an error) without a run-end: say so, free the lock."""
        if not self.ended and self.lock is not None and self.lock.fd is not None:
            self._end(INTERRUPTED, reason="ansible-playbook stopped before the end of the run",
                      errors=self.errors)
