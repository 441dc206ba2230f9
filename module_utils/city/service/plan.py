"""A plan as a value: its changes, counts, --diff, safety threshold and checksum.

The same object is shown (check mode), checked (the threshold, the reviewed plan)
and applied; octoDNS's Plan is the model.
"""
import hashlib
import json

from ansible.module_utils.city.operate.masking import mask
from ansible.module_utils.city.service.change import text_lines

ALWAYS_ALLOWED = 5


class Threshold:
    """Refuse a plan whose risky changes exceed ``ratio`` of the ``managed`` objects.

    Up to ``always_allowed`` risky changes pass whatever the ratio, so a small zone or
    directory can still be edited; ``what`` names the objects in the refusal.
    """

    def __init__(self, ratio, what, verb="changes or deletes", always_allowed=ALWAYS_ALLOWED):
        self.ratio, self.what, self.verb, self.always_allowed = ratio, what, verb, always_allowed

    def refusal(self, plan):
        risky = plan.risky
        if risky <= self.always_allowed or plan.managed == 0:
            return None
        share = risky / plan.managed
        if share <= self.ratio:
            return None
        return ("the plan %s %d of the %d %s (%.0f%%, more than the %.0f%% allowed); check the plan, "
                "then re-run with force" % (self.verb, risky, plan.managed, self.what, 100 * share,
                                            100 * self.ratio))


class Plan:
    """``changes`` (sorted by the service) against ``managed`` objects on the server."""

    def __init__(self, changes, managed=0, actions=()):
        self.changes = list(changes)
        self.managed = managed
        self.actions = tuple(actions)  # every action the service knows, counted even at 0

    def __bool__(self):
        return bool(self.changes)

    def __len__(self):
        return len(self.changes)

    @property
    def risky(self):
        return sum(1 for c in self.changes if c.risky)

    def counts(self):
        out = {action: 0 for action in self.actions}
        for change in self.changes:
            out[change.action] = out.get(change.action, 0) + 1
        return out

    def records(self):
        """The changes as masked dicts: the result, the plan document and the trail use these."""
        return [mask(change.as_dict()) for change in self.changes]

    def checksum(self):
        """SHA-256 of the changes in a canonical form (what a reviewer saw, nothing else)."""
        text = json.dumps([{k: r.get(k) for k in ("object", "action", "before", "after")}
                           for r in self.records()], sort_keys=True, ensure_ascii=False, default=str)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def diff(self, before_header="before", after_header="after"):
        """Before/after texts for Ansible's --diff: each change headed by its action and object."""
        before, after = [], []
        for change in self.changes:
            head = "# %s %s" % (change.action, change.object)
            before.extend([head] + text_lines(mask(change.before)))
            after.extend([head] + text_lines(mask(change.after)))
        return {"before": "\n".join(before) + ("\n" if before else ""),
                "after": "\n".join(after) + ("\n" if after else ""),
                "before_header": before_header, "after_header": after_header}
