"""The checksum of a plan, and what an apply holds to when it is given the plan that was reviewed.

Modelled on octodns' ``--checksum`` and Terraform's saved plans: the reviewers approve a
plan, the plan carries a checksum of what it would change, and the apply given that plan
plans again and changes nothing unless it finds the same changes. Between the review and
the apply the registry may have moved on (another merge) and so may the servers (a change
by hand, another tool): either way the apply would do something nobody reviewed.

What the checksum covers is what an apply does to a server: per change record (changes.py)
its module, host, target (the module's server or scope, where the module names one),
object, action, before and after, secrets masked. Never what differs from one run to the
next although nothing else does: the run, when, by whom, the task name, the status, paths
of the control node.

Two checks use this module. ``bin/plan-check`` compares the whole reviewed plan with a plan
made just before the apply. And each of the toolkit's modules, given the reviewed plan at
apply time, compares what it is about to change with ``section()`` of it, after reading the
server and before changing it, so the comparison and the change see the same server state.
Standard library only: modules import it on their own.
"""
import hashlib
import json
import re

from ansible.module_utils.city.operate.masking import mask

FIELDS = ("module", "host", "target", "object", "action", "before", "after")
# A module at apply time compares its own part of the plan: it knows neither the
# inventory host its task ran for nor needs the target it was chosen by.
SECTION_FIELDS = ("module", "object", "action", "before", "after")
# What identifies one change, as opposed to what it does.
_IDENTITY = ("module", "host", "target", "object")
# A run id (run_info.new_run_id) inside a task name or an item label: a generic task's
# object is its name, which must not make two plans of the same change differ.
_RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{8}\b")
# A task that is none of the toolkit's modules configures a server: the part a plan skips
# with --skip-tags city_server. The toolkit's modules name their part themselves (the
# ``part`` of their section in the plan, service/base.py; None: every plan covers it).
SERVER_PART = "city_server"
SHORT = 70


class PlanCheckError(Exception):
    """A plan that cannot be applied as reviewed: not a plan, incomplete, or changed since it was made."""


PlanError = PlanCheckError


def _json(value):
    """``value`` as it reads back from a plan's JSON file (tuples as lists, keys as text)."""
    return json.loads(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def _dump(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _reduce(record, fields):
    out = {}
    for field in fields:
        value = record.get(field)
        if field == "object" and isinstance(value, str):
            value = _RUN_ID.sub("<run>", value)
        out[field] = value
    # mask() again: a record a module builds itself at apply time is compared masked,
    # as the plan holds it (masking a masked value changes nothing).
    return _json(mask(out))


def canonical(records, fields=FIELDS):
    """The records reduced to ``fields``, JSON-normalised, masked, in a fixed order."""
    reduced = [_reduce(r, fields) for r in records]
    return sorted(reduced, key=_dump)


def checksum(records, fields=FIELDS):
    """``sha256:<hex>`` of the canonical form of ``records``."""
    return "sha256:" + hashlib.sha256(_dump(canonical(records, fields)).encode("utf-8")).hexdigest()


def _clean(text):
    """``text`` fit for a terminal: registry values are untrusted, a control character could
    rewrite what the operator reads."""
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in " ".join(str(text).split()))


def _short(value, width=SHORT):
    if value in (None, "", [], {}):
        text = "-"
    elif isinstance(value, list):
        text = "[%s]" % ", ".join(v if isinstance(v, str) else _dump(v) for v in value)
    elif isinstance(value, dict):
        text = "{%s}" % ", ".join("%s: %s" % (k, v if isinstance(v, str) else _dump(v))
                                  for k, v in sorted(value.items()))
    else:
        text = str(value)
    text = _clean(text)
    return text if len(text) <= width else text[:width - 3] + "..."


def _where(record):
    where = _clean(record.get("module"))
    if record.get("host"):
        where += " on %s" % _clean(record["host"])
    if record.get("target"):
        where += " (%s)" % _clean(record["target"])
    return where + ": " + _clean(record.get("object"))


def _what(record):
    return "%s %s -> %s" % (_clean(record.get("action")), _short(record.get("before")), _short(record.get("after")))


def differences(reviewed_records, records, limit=20, fields=FIELDS):
    """Readable lines: the changes new since the review, gone since, changed; [] when the same.

    At most ``limit`` lines about changes (None: all), then one that says how many more.
    ``reviewed_records`` None (``section()`` of a part the plan left out): nothing to hold to, [].
    """
    if reviewed_records is None:
        return []
    identity = [f for f in _IDENTITY if f in fields]
    sides = []
    for side in (reviewed_records, records):
        grouped = {}
        for record in canonical(side, fields):
            grouped.setdefault(_dump([record.get(f) for f in identity]), []).append(record)
        sides.append(grouped)
    reviewed, now = sides
    lines = []
    for key in sorted(set(reviewed) | set(now)):
        before, after = list(reviewed.get(key, [])), list(now.get(key, []))
        for record in list(before):  # what both hold, as many times as both hold it
            if record in after:
                before.remove(record)
                after.remove(record)
        for old, new in zip(before, after):
            lines.append("changed since the review: %s: reviewed %s; now %s" % (_where(new), _what(old), _what(new)))
        lines += ["new since the review: %s: %s" % (_where(r), _what(r)) for r in after[len(before):]]
        lines += ["gone since the review: %s: %s" % (_where(r), _what(r)) for r in before[len(after):]]
    if limit is not None and len(lines) > limit:
        lines = lines[:limit] + ["... and %d more difference(s)" % (len(lines) - limit)]
    return lines


def _is_plan(doc):
    if not isinstance(doc, dict) or doc.get("v") != 1 or not isinstance(doc.get("changes"), list):
        return False
    if not all(k in doc for k in ("run", "complete", "summary", "errors")):
        return False
    return all(isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("module", "host", "object", "action"))
               for r in doc["changes"])


def load_reviewed(path, what="the reviewed plan"):
    """The plan (plan.json) at ``path``, refused with PlanError unless it can be applied as reviewed."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        raise PlanError("%s cannot be read: %s" % (what, exc)) from None
    if not _is_plan(doc):
        raise PlanError("%s (%s) is not a plan of this toolkit: `make plan` writes one (plan.json)" % (what, path))
    if not isinstance(doc.get("checksum"), str) or not doc["checksum"].startswith("sha256:"):
        raise PlanError("%s (%s) carries no checksum: it was made by an older version of the toolkit; "
                        "make the plan again and have it reviewed" % (what, path))
    if not doc["complete"]:
        tasks = ", ".join("%s on %s" % (e.get("task"), e.get("host")) for e in doc["errors"][:5]
                          if isinstance(e, dict))
        raise PlanError("%s (%s) is incomplete: %d task(s) could not be planned (%s), so it does not say all an "
                        "apply would change; make it again once they can" % (what, path, len(doc["errors"]), tasks))
    actual = checksum(doc["changes"])
    if actual != doc["checksum"]:
        raise PlanError("%s (%s) was changed after it was made: it says checksum %s, its changes give %s"
                        % (what, path, doc["checksum"], actual))
    return doc


def part_of(module, sections=None):
    """The tag of the plan's part (plan_doc.PARTS) ``module`` belongs to; None: always planned.

    ``sections``: the plan's ``sections``, where each of the toolkit's modules names its part.
    """
    section = (sections or {}).get(module)
    if isinstance(section, dict):
        return section.get("part")
    return SERVER_PART


def _left_out(doc):
    return {p.get("tag") for p in doc.get("not_planned") or [] if isinstance(p, dict)}


def covers(doc, module):
    """Whether the plan ``doc`` planned what ``module`` changes (its part was not skipped)."""
    return part_of(module, doc.get("sections")) not in _left_out(doc)


def section(doc, module, target=None):
    """The reviewed records of ``module`` for ``target``, [] when the plan holds no change of it;
    None when the plan left the module's part out (nothing to hold to).

    The host is ignored: the records come without it, so that ``differences(section(...),
    records)`` compares them with what a module builds itself (it knows no inventory host).
    Records that name no target (plans made before the modules named one) belong to every
    target, and come with ``target``.
    """
    if not covers(doc, module):
        return None
    chosen = [r for r in doc["changes"] if r.get("module") == module
              and (target is None or r.get("target") in (None, "", target))]
    return [dict({k: v for k, v in r.items() if k != "host"}, **({"target": target} if target else {}))
            for r in chosen]


def compare_section(doc, module, target, records, limit=20):
    """What a module is about to change (``records``: changes.from_result's records) against
    its section of the reviewed plan: difference lines, [] when the same; None when not covered."""
    reviewed = section(doc, module, target)
    if reviewed is None:
        return None
    return differences(reviewed, [dict(r, module=module) for r in records], limit, SECTION_FIELDS)


def compare(reviewed, now, limit=20):
    """The reviewed plan against a plan made now, over the parts both cover.

    Returns ``(same, lines)``: the checksums compared, then the differences, or what is not compared.
    """
    skipped = _left_out(reviewed) | _left_out(now)
    sections = dict(reviewed.get("sections") or {}, **(now.get("sections") or {}))
    chosen = [[r for r in doc["changes"] if part_of(r["module"], sections) not in skipped]
              for doc in (reviewed, now)]
    sums = [checksum(c) for c in chosen]
    lines = ["reviewed plan: %s (run %s)" % (sums[0], reviewed.get("run")),
             "plan now:      %s (run %s)" % (sums[1], now.get("run"))]
    parts = sorted(_left_out(now) - _left_out(reviewed))
    if parts:
        lines.append("not compared (the plan now left it out): %s" % ", ".join(parts))
    if sums[0] == sums[1]:
        return True, lines
    return False, lines + differences(chosen[0], chosen[1], limit)


__all__ = ["FIELDS", "SECTION_FIELDS", "PlanCheckError", "PlanError", "canonical", "checksum", "compare",
           "compare_section", "covers", "differences", "load_reviewed", "part_of", "section"]
