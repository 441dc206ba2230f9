"""The plan of a check-mode run, as Markdown for reviewers and JSON for machines."""
import json
import os

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.operate import plan_check

# Each toolkit module names its own section ({title, what, object}: the ``city`` key of
# its result, module_utils/city/service/base.py); every other task is configuration.
OTHER = {"title": "Server configuration", "what": "role tasks that would change a server (packages, files, services)"}
# The parts of the plan a tag skips (playbooks/plan.yml): a read-only plan skips both.
PARTS = [
    ("city_server", "Server configuration",
     "the roles dns_server, ldap_directory and sms_gateway over SSH (packages, files, services, the "
     "phonebook), which need the apply's secrets"),
    ("city_sms_blast", "SMS blasts", "the approved blasts to enqueue, read on the gateways over SSH"),
]


def _cell(value):
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, list):
        value = "<br>".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = "; ".join("%s: %s" % (k, ", ".join(map(str, v)) if isinstance(v, list) else v)
                          for k, v in value.items())
    return str(value).replace("|", "\\|").replace("\n", "<br>")


def _counts(records):
    out = {}
    for record in records:
        out[record["action"]] = out.get(record["action"], 0) + 1
    return out


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _rows(section, records):
    if section is None:
        return (["Host", "Task", "Before", "After"],
                [(r["host"], r["object"], r["before"], r["after"]) for r in records])
    return (["Action", section.get("object") or "Object", "Before", "After"],
            [(r["action"], r["object"], r["before"], r["after"]) for r in records])


def summary(records, sections=None):
    out = {}
    for record in records:
        section = out.setdefault(record["module"] if record["module"] in (sections or {}) else "configuration", {})
        section[record["action"]] = section.get(record["action"], 0) + 1
    return out


def not_planned(skip_tags):
    """The parts of PARTS that ``skip_tags`` leaves out: [{tag, part, what}]."""
    skipped = set(skip_tags or ())
    return [{"tag": tag, "part": part, "what": what} for tag, part, what in PARTS if tag in skipped]


def document(run, records, notes=(), errors=(), sections=None):
    """The plan as a JSON-ready dict; ``sections``: {module: {title, what, object}} of the toolkit's modules."""
    sections = dict(sections or {})
    return {"v": 1, "run": run.get("run"), "created": run.get("started"), "operator": run.get("operator"),
            "commit": run.get("commit"), "dirty": run.get("dirty"), "playbook": run.get("playbook"),
            "inventory": run.get("inventory"), "readonly": bool(run.get("readonly")),
            "not_planned": list(run.get("not_planned") or []), "complete": not errors,
            "empty": not records and not errors, "summary": summary(records, sections), "sections": sections, "changes": list(records),
            "checksum": plan_check.checksum(records), "notes": list(notes), "errors": list(errors)}


def _scope(doc):
    """What the plan says first about what it covers: a read-only plan, the parts left out."""
    lines = []
    if doc.get("readonly"):
        lines += ["**Read-only plan.** Made with read-only credentials only (the DNS transfer-only key, the "
                  "directory's read-only account) and the vault password of the vault id `plan`: no "
                  "secret that can change a server was within its reach. It covers what the registry "
                  "changes in the DNS zone and the mail directory.", ""]
    if doc.get("not_planned"):
        lines += ["Not planned here%s:" % (
            ", planned only after approval, with the apply's credentials (`make plan`, as the apply job "
            "does before it applies)" if doc.get("readonly") else " (skipped with --skip-tags)"), ""]
        lines += ["- **%s**: %s." % (p["part"], p["what"]) for p in doc["not_planned"]] + [""]
    return lines


def _checksum(doc):
    """The plan's checksum, and how to apply exactly this plan (plan_check)."""
    if not doc.get("checksum"):
        return []
    if doc["errors"]:
        return ["Checksum `%s`. An incomplete plan cannot be applied as reviewed: make it again." % doc["checksum"],
                ""]
    return ["Checksum `%s`. To apply exactly this plan: `make site PLAN=<this plan's plan.json>` (with the "
            "same INVENTORY). It plans again first and changes nothing when the registry or the servers no "
            "longer give this plan, saying what differs (`bin/plan-check`)." % doc["checksum"], ""]


def markdown(doc):
    commit = doc.get("commit") or "no git commit"
    if doc.get("dirty"):
        commit += " plus uncommitted changes to the registry"
    lines = ["# Plan", "",
             "Made %s by %s with `%s` on inventory `%s`, registry at %s. Nothing was changed: every "
             "module ran in check mode; secrets are masked." % (
                 doc.get("created"), doc.get("operator"), doc.get("playbook"),
                 ", ".join(doc.get("inventory") or []), commit), ""]
    lines += _scope(doc)
    lines += _checksum(doc)
    if doc["errors"]:
        lines += ["## The plan is incomplete", "",
                  "These tasks could not be planned, so the plan may miss what they would change:", ""]
        lines += ["- **%s** on %s: %s" % (e["task"], e["host"], e["msg"]) for e in doc["errors"]] + [""]
    if doc["empty"] and doc.get("not_planned"):
        lines += ["**No changes** in what this plan covers: the servers already match the registry there.", ""]
    elif doc["empty"]:
        lines += ["**No changes.** The servers already match the registry.", ""]
    records, sections = doc["changes"], doc.get("sections") or {}
    for module, section in list(sections.items()) + [(None, None)]:
        chosen = [r for r in records if (r["module"] == module if module else r["module"] not in sections)]
        if not chosen:
            continue
        title, what = (section or OTHER)["title"], (section or OTHER)["what"]
        counts = ", ".join("%d to %s" % (n, a) for a, n in sorted(_counts(chosen).items()))
        lines += ["## %s" % title, "", "%s: %s." % (what[0].upper() + what[1:], counts), ""]
        header, rows = _rows(section, chosen)
        lines += _table(header, rows) + [""]
    if doc["notes"]:
        lines += ["## Notes", ""] + ["- " + n for n in doc["notes"]] + [""]
    return "\n".join(lines)


def write(directory, doc, name="plan"):
    """Write ``<name>.md`` and ``<name>.json`` atomically; return their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    as_json = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    for suffix, text in ((".md", markdown(doc)), (".json", as_json)):
        paths.append(fsutil.atomic_write(os.path.join(directory, name + suffix), text, mode=0o644))
    return paths
