"""The rule catalogue: every cross-file rule registers here with its requirement.

A rule is a generator over a :class:`Context` that yields ``Problem`` tuples; the
runner turns them into findings with the rule's id, severity and requirement, so
the rule code says only what is wrong and how to fix it.
"""
from collections import namedtuple

from ansible.module_utils.city.registry.findings import ERROR, Finding, shown

Problem = namedtuple("Problem", "file path message fix at severity")
Problem.__new__.__defaults__ = ("value", None)

RULES = []


class Rule:
    def __init__(self, rule_id, requirement, summary, severity, func):
        self.id = rule_id
        self.requirement = requirement
        self.summary = summary
        self.severity = severity
        self.func = func


def rule(rule_id, requirement, summary, severity=ERROR):
    """Register a rule function under ``rule_id`` (e.g. ``D8-POOL``)."""
    def register(func):
        RULES.append(Rule(rule_id, requirement, summary, severity, func))
        return func
    return register


def run_rules(ctx):
    findings = []
    for item in RULES:
        ctx.touched_broken.clear()
        found = []
        try:
            for problem in item.func(ctx):
                found.append(Finding(problem.severity or item.severity, item.id,
                                     item.requirement, ctx.display(problem.file),
                                     problem.path, problem.message, problem.fix,
                                     at=problem.at))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Usually a shape the schema already rejected. Fail closed all the same: a
            # rule that could not run must never let a registry through.
            found.append(Finding(ERROR, item.id, item.requirement, "(registry)", (),
                                 "rule could not be checked (%s: %s)" % (
                                     type(exc).__name__, str(exc)[:80]),
                                 "fix the errors above and validate again"))
        # A rule that read a structurally broken file would report its consequences (every
        # reference into it "not defined"); the file's own error is the one to fix. The
        # registry fails all the same.
        if not ctx.touched_broken:
            findings.extend(found)
    return findings


def unique(ctx, relname, key, field, describe, normalise=None):
    """Problems for entries of list ``key`` whose ``field`` repeats an earlier one."""
    first = {}
    for index, entry in ctx.entries(relname, key):
        value = entry.get(field)
        if value is None or isinstance(value, (list, dict)):
            continue
        norm = normalise(value) if normalise else value
        if norm in first:
            line = ctx.files[relname].locate((key, first[norm], field))[0]
            same = "" if normalise is None else " (%s)" % normalise.__doc__
            yield Problem(relname, (key, index, field),
                          "%s %s is used a second time%s: first at line %d; each %s is "
                          "unique in %s" % (describe, shown(value), same, line, describe,
                                            relname),
                          "give this entry its own %s, or remove one of the two entries"
                          % field)
        else:
            first[norm] = index


def reference(relname, path, value, known, what, where):
    """A Problem when ``value`` (a string; the schema reports other types) is not in
    ``known``, else None."""
    if not isinstance(value, str) or value in known:
        return None
    return Problem(relname, path, "%s %s is not defined in %s" % (what, shown(value), where),
                   "use a %s of %s, or add it there first" % (what, where))
