"""The rule catalogue: every cross-file rule registers here with its requirement.

A rule is a generator over a :class:`Context` that yields ``Problem`` tuples; the
runner turns them into findings with the rule's id, severity and requirement, so
the rule code says only what is wrong and how to fix it.
"""
from collections import namedtuple

from ansible.module_utils.registry.findings import ERROR, Finding

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
        try:
            for problem in item.func(ctx):
                findings.append(Finding(problem.severity or item.severity, item.id,
                                        item.requirement, ctx.display(problem.file),
                                        problem.path, problem.message, problem.fix,
                                        at=problem.at))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Usually a shape the schema already rejected. Fail closed all the same: a
            # rule that could not run must never let a registry through.
            findings.append(Finding(ERROR, item.id, item.requirement, "(registry)", (),
                                    "rule could not be checked (%s: %s)" % (
                                        type(exc).__name__, exc),
                                    "fix the errors above and validate again"))
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
            yield Problem(relname, (key, index, field),
                          "%s %r is used twice (first at line %d)" % (describe, value, line),
                          "give each %s a distinct %s, or remove one entry" % (describe, field))
        else:
            first[norm] = index


def reference(relname, path, value, known, what, fix_where):
    """A Problem when ``value`` is not in ``known``, else None."""
    if value is None or value in known:
        return None
    return Problem(relname, path, "%s %r is not defined" % (what, value),
                   "use a %s defined in %s, or add it there" % (what, fix_where))
