"""Compare the desired RRsets with the zone and plan the changes."""
import dns.rdatatype

ADD, CHANGE, DELETE = "add", "change", "delete"


class Change:
    __slots__ = ("action", "name", "rdtype", "before", "after")

    def __init__(self, action, name, rdtype, before, after):
        self.action, self.name, self.rdtype, self.before, self.after = (
            action, name, rdtype, before, after)

    def as_dict(self):
        return {"action": self.action, "name": self.name.to_text(),
                "type": dns.rdatatype.to_text(self.rdtype),
                "before": self.before.lines() if self.before else [],
                "after": self.after.lines() if self.after else []}


class Plan:
    def __init__(self, changes, owned_before):
        self.changes = changes
        self.owned_before = owned_before

    def count(self, action):
        return sum(1 for c in self.changes if c.action == action)

    @property
    def destructive(self):
        return self.count(CHANGE) + self.count(DELETE)

    def summary(self):
        return {ADD: self.count(ADD), CHANGE: self.count(CHANGE), DELETE: self.count(DELETE),
                "owned_rrsets_before": self.owned_before}

    def diff(self):
        """Before/after texts of the changed RRsets, for Ansible's --diff."""
        before, after = [], []
        for change in self.changes:
            before.extend(change.before.lines() if change.before else [])
            after.extend(change.after.lines() if change.after else [])
        return {"before": "\n".join(before) + ("\n" if before else ""),
                "after": "\n".join(after) + ("\n" if after else ""),
                "before_header": "zone (records the registry owns, before)",
                "after_header": "zone (after)"}


def make_plan(want, have):
    """Changes that turn ``have`` (owned RRsets of the zone) into ``want``."""
    changes = []
    for key, new in want.items():
        old = have.get(key)
        if old is None:
            changes.append(Change(ADD, key[0], key[1], None, new))
        elif new != old:
            changes.append(Change(CHANGE, key[0], key[1], old, new))
    for key, old in have.items():
        if key not in want:
            changes.append(Change(DELETE, key[0], key[1], old, None))
    # Only the changes are sorted (for a readable plan): a no-op costs one comparison each.
    changes.sort(key=lambda c: (c.name.to_text(), c.rdtype))
    return Plan(changes, len(have))


def refuse_reason(plan, max_change_ratio, always_allowed=5):
    """Why the plan changes too much of the zone at once, or None."""
    destructive = plan.destructive
    if destructive <= always_allowed or plan.owned_before == 0:
        return None
    ratio = destructive / plan.owned_before
    if ratio > max_change_ratio:
        return ("the plan changes or deletes %d of the %d record sets the registry owns (%.0f%%, "
                "more than the %.0f%% allowed); check the plan, then re-run with force"
                % (destructive, plan.owned_before, 100 * ratio, 100 * max_change_ratio))
    return None
