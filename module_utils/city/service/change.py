"""One change a service plans: the unit of a plan, of --diff, of the plan document and
of the audit trail.

A change names its ``object`` (a record set, an account, a blast) and its ``action``
(add, create, delete, enqueue...), with the object's state ``before`` and ``after``
as plain JSON values, never a secret (a new password is the note that one is handed
over). ``risky`` marks what the safety threshold counts (a change or deletion of
what exists). ``status`` is set after an apply that applied only part of a plan.
"""


class Change:
    __slots__ = ("object", "action", "before", "after", "risky", "status", "subject")

    def __init__(self, object, action, before=None, after=None, risky=False, subject=None):
        self.object, self.action, self.before, self.after = object, action, before, after
        self.risky = risky
        self.status = None
        # The service's own object behind the change (an RRset, an LDAP operation):
        # what its apply works from; never part of a result.
        self.subject = subject

    def as_dict(self):
        out = {"object": self.object, "action": self.action, "before": self.before, "after": self.after}
        if self.status:
            out["status"] = self.status
        return out

    def __repr__(self):
        return "Change(%r, %r)" % (self.object, self.action)


def text_lines(value):
    """``before``/``after`` as lines for --diff: lists line by line, dicts ``key: value``."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return ["%s: %s" % (k, ", ".join(map(str, v)) if isinstance(v, list) else v)
                for k, v in value.items()]
    return [str(value)]
