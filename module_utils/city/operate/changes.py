"""Turn a task's result into change records: the same records for a plan and an apply.

A plan (check mode) and the apply that follows it go through the same function, so
"what the plan said" and "what the trail recorded" can be compared key by key
(:func:`key`). The toolkit's own modules report what they change object by object;
any other task (a role's template, package, service) is one change of its task.
"""
import difflib

from ansible.module_utils.city.operate.masking import MASK, mask

MAX_DIFF_LINES = 200
NO_LOG_NOTE = "(hidden: the task is no_log)"


def _dns_zone(result):
    for change in result.get("changes") or []:
        yield {"object": "%s %s" % (change["name"], change["type"]), "action": change["action"],
               "before": change.get("before") or [], "after": change.get("after") or []}


def _mail_accounts(result):
    failed = {(f.get("action"), f.get("address")) for f in result.get("failures") or []}
    # A failure with no per-entry list (a refusal, a lost connection) applied nothing for sure.
    all_failed = bool(result.get("failed")) and not failed
    for op in result.get("operations") or []:
        after = dict(op.get("changes") or {})
        if op.get("ticket"):
            after["ticket"] = op["ticket"]
        if op.get("password"):
            after["password"] = op["password"]  # the note that it was handed over, never a value
        if op.get("handover_to"):
            after["handover_to"] = op["handover_to"]  # the one person who can open it (Pasal 35)
        yield {"object": op["address"], "action": op["action"], "before": op.get("before") or {},
               "after": after, "status": "failed" if all_failed or (op["action"], op["address"]) in failed else "ok"}


def _mail_unused(result):
    for path in result.get("queued") or []:
        yield {"object": path.rsplit("/", 1)[-1], "action": "queue-warning", "before": None,
               "after": {"file": path}}


def _sms_blast(result):
    blast = result.get("blast") or {}
    if not result.get("enqueued") and not result.get("recovered"):
        return
    yield {"object": "blast %s" % blast.get("id", "?"), "action": "enqueue",
           "before": {"already_enqueued": result.get("already_enqueued", 0)},
           "after": {"enqueued": result.get("enqueued", 0), "recovered": result.get("recovered", 0),
                     "recipients": result.get("recipient_count"), "segments": result.get("segments"),
                     "encoding": result.get("encoding"), "total_sms": result.get("total_sms"),
                     "kind": blast.get("kind"), "originator": blast.get("originator"),
                     "estimated_minutes": result.get("estimated_minutes")}}


def _sms_blast_claim(_result):
    # The control node's ledger of blasts is bookkeeping, like the trail itself: what a
    # blast changes is its sms_blast record. Yielding nothing keeps a plan (which claims
    # in check mode) and its apply (which also records) comparable.
    return iter(())


EXTRACTORS = {"dns_zone": _dns_zone, "mail_accounts": _mail_accounts, "mail_unused": _mail_unused,
              "sms_blast": _sms_blast, "sms_blast_claim": _sms_blast_claim}


def module_name(action):
    """``ansible.builtin.template`` -> ``template``; ``dns_zone`` -> ``dns_zone``."""
    return action.rsplit(".", 1)[-1]


def _text_diff(diff):
    """Removed and added lines of a --diff entry, capped."""
    before, after = diff.get("before"), diff.get("after")
    if isinstance(before, dict) or isinstance(after, dict):  # file state, mode, owner
        return before, after
    if not isinstance(before, str) or not isinstance(after, str):
        return None, None
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith("---") or line.startswith("+++") or line.startswith("@@"):
            continue
        (removed if line.startswith("-") else added).append(line[1:])

    def cap(lines):
        return lines if len(lines) <= MAX_DIFF_LINES else (
            lines[:MAX_DIFF_LINES] + ["(%d more lines)" % (len(lines) - MAX_DIFF_LINES)])
    return cap(removed), cap(added)


def _generic(result, task_name):
    label = result.get("_ansible_item_label", result.get("item"))
    obj = task_name if label is None else "%s [%s]" % (task_name, label if isinstance(label, str) else mask(label))
    if result.get("censored") or result.get("_ansible_no_log"):
        return [{"object": obj, "action": "change", "before": NO_LOG_NOTE, "after": NO_LOG_NOTE}]
    diffs = result.get("diff")
    diffs = diffs if isinstance(diffs, list) else [diffs] if isinstance(diffs, dict) else []
    before, after = [], []
    for diff in diffs:
        b, a = _text_diff(diff)
        for lines, part in ((before, b), (after, a)):
            if isinstance(part, list):
                lines.extend(part)
            elif part is not None:
                lines.append(part)
    where = {k: result[k] for k in ("dest", "path", "name", "state") if isinstance(result.get(k), str)}
    return [{"object": obj, "action": "change", "before": before or None,
             "after": after or where or None}]


def from_result(action, result, host, task_name):
    """Change records of one task result on one host (loops: each changed item)."""
    module = module_name(action)
    items = result.get("results") if isinstance(result.get("results"), list) else [result]
    records = []
    for item in items:
        if not isinstance(item, dict):
            continue
        extractor = EXTRACTORS.get(module)
        if extractor:
            found = list(extractor(item))
        elif item.get("changed"):
            found = _generic(item, task_name)
        else:
            found = []
        for record in found:
            record = mask(record)
            record.setdefault("status", "failed" if item.get("failed") else "ok")
            records.append(dict({"module": module, "host": host, "task": task_name}, **record))
    return records


def notes_from_result(action, result):
    """What a plan should mention that is not a change (a blast not due yet)."""
    notes = []
    for item in result.get("results") if isinstance(result.get("results"), list) else [result]:
        if module_name(action) == "sms_blast" and isinstance(item, dict) and item.get("scheduled"):
            notes.append("blast %s is scheduled (send_after %s): nothing is enqueued before then"
                         % ((item.get("blast") or {}).get("id", "?"), item.get("send_after", "?")))
    return notes


def key(record):
    """What a plan entry and the trail record of its apply have in common."""
    return (record["module"], record["host"], record["object"], record["action"])


__all__ = ["MASK", "from_result", "key", "module_name", "notes_from_result"]
