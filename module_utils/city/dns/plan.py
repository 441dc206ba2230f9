"""Compare the desired RRsets with the zone: the record-set changes the service plans.

The DNS service (service.py) wraps each :class:`RRsetChange` in a service Change;
:func:`apply.apply_plan` sends them."""
try:
    import dns.rdatatype
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

ADD, CHANGE, DELETE = "add", "change", "delete"


class RRsetChange:
    __slots__ = ("action", "name", "rdtype", "before", "after")

    def __init__(self, action, name, rdtype, before, after):
        self.action, self.name, self.rdtype, self.before, self.after = (
            action, name, rdtype, before, after)

    def as_dict(self):
        return {"action": self.action, "name": self.name.to_text(),
                "type": dns.rdatatype.to_text(self.rdtype),
                "before": self.before.lines() if self.before else [],
                "after": self.after.lines() if self.after else []}


class ZonePlan:
    def __init__(self, changes, owned_before):
        self.changes = changes
        self.owned_before = owned_before

    def count(self, action):
        return sum(1 for c in self.changes if c.action == action)

    def summary(self):
        return {ADD: self.count(ADD), CHANGE: self.count(CHANGE), DELETE: self.count(DELETE),
                "owned_rrsets_before": self.owned_before}


def make_plan(want, have):
    """Changes that turn ``have`` (owned RRsets of the zone) into ``want``."""
    changes = []
    for key, new in want.items():
        old = have.get(key)
        if old is None:
            changes.append(RRsetChange(ADD, key[0], key[1], None, new))
        elif new != old:
            changes.append(RRsetChange(CHANGE, key[0], key[1], old, new))
    for key, old in have.items():
        if key not in want:
            changes.append(RRsetChange(DELETE, key[0], key[1], old, None))
    # Only the changes are sorted (for a readable plan): a no-op costs one comparison each.
    changes.sort(key=lambda c: (c.name.to_text(), c.rdtype))
    return ZonePlan(changes, len(have))
