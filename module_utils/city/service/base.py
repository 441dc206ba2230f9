"""The one base every module of library/ is a declaration over.

A module file holds its documentation and names its class; everything else is here:
the argument spec, check mode, --diff, the safety threshold, the reviewed plan,
errors and the shape of the result. ansible-freeipa's IPAAnsibleModule is the model.

Two kinds of work:

- :class:`Task` does one job and returns its result (validate the registry, read a
  server for the reports, write the reports).
- :class:`Service` keeps a server in the registry's state: ``desired()`` (from the
  registry), ``read()`` (the server), ``plan()`` (a :class:`Plan` of
  :class:`Change`), then, outside check mode and once the plan passed its checks,
  ``apply()``. Its result carries the plan in one shape under ``city`` (module,
  target, section, changes, counts, checksum, notes), which the callback plugin, the
  plan document, the audit trail and the reports read without knowing the module.

The module_utils guard their imports of third-party libraries (dnspython, ldap3,
PyYAML, ...) and each task names the ones it needs (``libraries``): a missing one is
reported by name before anything runs (:func:`run`), never as a traceback.
"""
import importlib.util
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.city.errors import ToolkitError


class Task:
    """One job of a module. Subclasses set :attr:`argument_spec` and :meth:`run`."""

    name = None  # the module's name, as the plan and the trail show it
    argument_spec = {}
    module_options = {}  # further AnsibleModule arguments (mutually_exclusive, ...)
    requirements = "PyYAML"  # what a missing import is reported as needing
    # Top-level names of the libraries the task imports (module_utils guard their imports
    # of them, so that a missing one is reported here by name, before anything runs).
    libraries = ("yaml",)

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.diff_mode = module._diff
        self.result = {"changed": False}

    @classmethod
    def spec(cls):
        return {name: dict(option) for name, option in cls.argument_spec.items()}

    def run(self):
        """Do the job; return the result (merged into :attr:`result`)."""
        raise NotImplementedError

    def warn(self, text):
        self.module.warn(text)

    def close(self):
        """Release what the run holds (a connection, a ledger's lock), whatever happened."""

    @classmethod
    def main(cls):
        run(cls)


class Service(Task):
    """Bring a server to the registry's state: desired, read, plan, apply."""

    section = ("", "", "")  # (title, what it lists, its objects) of the plan document's section
    part = None  # the tag (plan_doc.PARTS) of the plan's part that covers it; None: every plan
    max_change_ratio = 0.25
    timing = True

    @classmethod
    def spec(cls):
        spec = super().spec()
        spec.setdefault("reviewed_plan", dict(type="path"))
        if cls.threshold is not None:
            spec.setdefault("force", dict(type="bool", default=False))
            spec.setdefault("max_change_ratio", dict(type="float", default=cls.max_change_ratio))
        return spec

    # -- what a service declares ------------------------------------------------------

    def target(self):
        """What this run plans for, in words: the server and the scope (a zone, a base DN)."""
        raise NotImplementedError

    def desired(self):
        """The state the registry asks for."""
        raise NotImplementedError

    def read(self):
        """The state of the server, read only."""
        raise NotImplementedError

    def plan(self, desired, current):
        """The :class:`Plan` turning ``current`` into ``desired``."""
        raise NotImplementedError

    def threshold(self):
        """The :class:`Threshold` the plan must pass without ``force``.

        A service with nothing to guard sets ``threshold = None``: it then has neither
        ``force`` nor ``max_change_ratio``.
        """
        raise NotImplementedError

    def apply(self, plan):
        """Make the changes of ``plan``; may update :attr:`result`. Never called in check mode."""
        raise NotImplementedError

    def report(self, plan):
        """The module's own result keys besides ``city`` (counts, legacy fields)."""
        return {}

    def diff(self, plan):
        return plan.diff()

    def notes(self, plan):
        """What the plan should say that is not a change (a blast not due yet)."""
        return []

    def finish(self, plan):
        """After the apply (or the plan, in check mode): complete :attr:`result`."""

    # -- the one way they run ------------------------------------------------------------

    def run(self):
        try:
            return self._run()
        finally:
            self.close()

    def _run(self):
        started = time.perf_counter()
        desired = self.desired()
        current = self.read()
        read_done = time.perf_counter()
        plan = self.plan(desired, current)
        planned = time.perf_counter()
        self.result.update(self.report(plan))
        self.result["changed"] = bool(plan)
        self.result.setdefault("city", {})
        self.result["city"].update({
            "module": self.name, "target": self.target(),
            "section": {"title": self.section[0], "what": self.section[1], "object": self.section[2],
                        "part": self.part},
            "changes": plan.records(), "counts": plan.counts(), "checksum": plan.checksum(),
            "notes": list(self.notes(plan))})
        if self.diff_mode and plan:
            self.result["diff"] = self.diff(plan)
        threshold = None if self.threshold is None or self.params.get("force") else self.threshold()
        refusal = threshold.refusal(plan) if threshold else None
        if refusal:
            raise ToolkitError("nothing applied: " + refusal)
        if self.params.get("reviewed_plan") and not self.check_mode:
            self._check_reviewed(plan)
        if plan and not self.check_mode:
            self.apply(plan)
            self.result["city"]["changes"] = plan.records()  # with the status of each change
        self.finish(plan)
        if self.timing:
            self.result["timing"] = {"read": round(read_done - started, 4),
                                     "plan": round(planned - read_done, 4),
                                     "apply": round(time.perf_counter() - planned, 4)}
        return self.result

    def _check_reviewed(self, plan):
        """Refuse, before changing anything, a plan that is not the one reviewed."""
        from ansible.module_utils.city.operate import plan_check
        try:
            reviewed = plan_check.load_reviewed(self.params["reviewed_plan"])
        except plan_check.PlanCheckError as exc:
            raise ToolkitError("nothing applied: %s" % exc)
        differences = plan_check.compare_section(reviewed, self.name, self.target(), plan.records())
        if differences:
            raise ToolkitError(
                "nothing applied: %s no longer plans what was reviewed in %s (%s):\n%s" % (
                    self.target(), self.params["reviewed_plan"], reviewed.get("checksum"),
                    "\n".join("  " + line for line in differences)),
                plan_differences=differences)


def run(task_class):
    """Run ``task_class`` as the module: parameters, its job, one result, clean failures."""
    module = AnsibleModule(argument_spec=task_class.spec(), supports_check_mode=True,
                           **task_class.module_options)
    task = task_class(module)
    missing = [name for name in task_class.libraries if importlib.util.find_spec(name) is None]
    if missing:
        module.fail_json(msg=missing_required_lib(task_class.requirements), missing=missing)
    try:
        result = task.run()
    except ImportError:
        module.fail_json(msg=missing_required_lib(task_class.requirements), exception=traceback.format_exc(),
                         **task.result)
    except ToolkitError as exc:
        failed = dict(task.result)
        failed.update(exc.details)
        module.fail_json(msg=str(exc), **failed)
    if result.get("failed"):
        result = dict(result)
        module.fail_json(msg=result.pop("msg", "failed"), **{k: v for k, v in result.items() if k != "failed"})
    module.exit_json(**result)
