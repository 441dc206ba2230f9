"""Turn a task's result into change records: the same records for a plan and an apply.

A plan (check mode) and the apply that follows it go through the same function, so
"what the plan said" and "what the trail recorded" can be compared key by key
(:func:`key`). The toolkit's own modules all report their plan in one shape, the
``city`` key of their result (module_utils/city/service/base.py): object by object,
whatever the service. Any other task (a role's template, package, service) is one
change of its task.
"""
import difflib

from ansible.module_utils.city.operate.masking import MASK, mask

MAX_DIFF_LINES = 200
NO_LOG_NOTE = "(hidden: the task is no_log)"


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


def _items(result):
    return [i for i in (result.get("results") if isinstance(result.get("results"), list) else [result])
            if isinstance(i, dict)]


def from_result(action, result, host, task_name):
    """Change records of one task result on one host (loops: each changed item)."""
    records = []
    for item in _items(result):
        plan = item.get("city") if isinstance(item.get("city"), dict) else None
        if plan is not None:
            module = str(plan.get("module") or module_name(action))
            found = [dict(change, target=plan.get("target")) for change in plan.get("changes") or []]
        else:
            module = module_name(action)
            found = _generic(item, task_name) if item.get("changed") else []
        for record in found:
            record = mask(record)
            record.setdefault("status", "failed" if item.get("failed") else "ok")
            records.append(dict({"module": module, "host": host, "task": task_name}, **record))
    return records


def sections_from_result(result):
    """{module: {title, what, object}} the toolkit's modules declare for the plan document."""
    out = {}
    for item in _items(result):
        plan = item.get("city")
        if isinstance(plan, dict) and isinstance(plan.get("section"), dict):
            out[str(plan.get("module"))] = plan["section"]
    return out


def notes_from_result(action, result):
    """What a plan should mention that is not a change (a blast not due yet)."""
    notes = []
    for item in _items(result):
        plan = item.get("city")
        if isinstance(plan, dict):
            notes.extend(str(n) for n in plan.get("notes") or [])
    return notes


def key(record):
    """What a plan entry and the trail record of its apply have in common."""
    return (record["module"], record["host"], record["object"], record["action"])


__all__ = ["MASK", "from_result", "key", "module_name", "notes_from_result", "sections_from_result"]
