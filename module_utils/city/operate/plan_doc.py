"""The plan of a check-mode run, as Markdown for reviewers and JSON for machines."""
import json
import os

SECTIONS = [
    ("dns_zone", "DNS records", "records of the zone to add, change or delete (D1-D8)"),
    ("mail_accounts", "Mail accounts", "accounts to create, modify, deactivate, reactivate, reset or delete (E1-E11)"),
    ("mail_unused", "Warnings for unused mail accounts", "warnings to queue (E10)"),
    ("sms_blast", "SMS blasts", "approved blasts to enqueue (S2, S3)"),
]
OTHER = ("Server configuration", "role tasks that would change a server (packages, files, services)")
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


def _rows(module, records):
    if module == "dns_zone":
        return (["Action", "Record set", "Before", "After"],
                [(r["action"], r["object"], r["before"], r["after"]) for r in records])
    if module == "mail_accounts":
        return (["Action", "Account", "Before", "After"],
                [(r["action"], r["object"], r["before"], r["after"]) for r in records])
    if module == "sms_blast":
        return (["Blast", "Kind", "Messages", "Segments each", "Encoding", "SMS in all", "Minutes (est.)"],
                [(r["object"], r["after"].get("kind"), r["after"].get("enqueued"), r["after"].get("segments"),
                  r["after"].get("encoding"), r["after"].get("total_sms"), r["after"].get("estimated_minutes"))
                 for r in records])
    if module == "mail_unused":
        return (["Warning", "Queued as"], [(r["object"], r["after"].get("file")) for r in records])
    return (["Host", "Task", "Before", "After"],
            [(r["host"], r["object"], r["before"], r["after"]) for r in records])


def summary(records):
    out = {}
    for record in records:
        section = out.setdefault(record["module"] if record["module"] in dict(
            (m, 1) for m, _, _ in SECTIONS) else "configuration", {})
        section[record["action"]] = section.get(record["action"], 0) + 1
    return out


def not_planned(skip_tags):
    """The parts of PARTS that ``skip_tags`` leaves out: [{tag, part, what}]."""
    skipped = set(skip_tags or ())
    return [{"tag": tag, "part": part, "what": what} for tag, part, what in PARTS if tag in skipped]


def document(run, records, notes=(), errors=()):
    """The plan as a JSON-ready dict."""
    return {"v": 1, "run": run.get("run"), "created": run.get("started"), "operator": run.get("operator"),
            "commit": run.get("commit"), "dirty": run.get("dirty"), "playbook": run.get("playbook"),
            "inventory": run.get("inventory"), "readonly": bool(run.get("readonly")),
            "not_planned": list(run.get("not_planned") or []), "complete": not errors,
            "empty": not records and not errors, "summary": summary(records), "changes": list(records),
            "notes": list(notes), "errors": list(errors)}


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
    if doc["errors"]:
        lines += ["## The plan is incomplete", "",
                  "These tasks could not be planned, so the plan may miss what they would change:", ""]
        lines += ["- **%s** on %s: %s" % (e["task"], e["host"], e["msg"]) for e in doc["errors"]] + [""]
    if doc["empty"] and doc.get("not_planned"):
        lines += ["**No changes** in what this plan covers: the servers already match the registry there.", ""]
    elif doc["empty"]:
        lines += ["**No changes.** The servers already match the registry.", ""]
    records = doc["changes"]
    for module, title, what in SECTIONS + [(None,) + OTHER]:
        chosen = [r for r in records if (r["module"] == module if module else
                                         r["module"] not in [m for m, _, _ in SECTIONS])]
        if not chosen:
            continue
        counts = ", ".join("%d to %s" % (n, a) for a, n in sorted(_counts(chosen).items()))
        lines += ["## %s" % title, "", "%s: %s." % (what[0].upper() + what[1:], counts), ""]
        header, rows = _rows(module, chosen)
        lines += _table(header, rows) + [""]
    if doc["notes"]:
        lines += ["## Notes", ""] + ["- " + n for n in doc["notes"]] + [""]
    return "\n".join(lines)


def write(directory, doc, name="plan"):
    """Write ``<name>.md`` and ``<name>.json`` atomically; return their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for suffix, text in ((".md", markdown(doc)), (".json", json.dumps(doc, indent=2, ensure_ascii=False,
                                                                         default=str) + "\n")):
        path = os.path.join(directory, name + suffix)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths
