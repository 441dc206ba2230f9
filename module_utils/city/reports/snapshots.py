"""The servers' state for the reports, kept as JSON files (``reports/state/`` by default).

``playbooks/report.yml`` reads the servers (read-only) and hands each result to the
module ``city_report``, which keeps the result's ``state`` (what every reading module
returns: the data, and when it was read) here as one file per kind and host:

- ``dns-<host>.json``: ``dns_zone`` in check mode, ``{"plan": ..., "changes": [...]}``, the
  drift of the zone from the registry;
- ``mail-<host>.json``: ``mail_inventory``, ``{"base": ..., "accounts": [...]}``, every
  account of the directory with its last use and lock;
- ``sms-<host>.json``: ``sms_recap``, ``{"recap": ...}``, the gateway's blasts and messages.

Every file also has ``v``, ``kind``, ``host``, ``taken_at`` (ISO 8601 UTC) and, when the
read failed, ``error`` (the reason) instead of the data. ``bin/city-report`` renders the
reports again from these files, offline.
"""
import datetime
import json
import os
import re

VERSION = 1
KINDS = ("dns", "mail", "sms")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _error(result):
    if not isinstance(result, dict):
        return "no result"
    if result.get("unreachable"):
        return "unreachable: %s" % result.get("msg", "")
    if result.get("skipped"):
        return "skipped: %s" % (result.get("skip_reason") or result.get("msg") or "")
    if result.get("failed"):
        return str(result.get("msg") or "failed")
    return None


def host_of(result):
    """The host a registered read is of: ``host``, else its loop variable (``ansible_loop_var``)."""
    if not isinstance(result, dict):
        return None
    return result.get("host") or result.get(result.get("ansible_loop_var") or "item")


def from_result(kind, host, result, now=None):
    """A snapshot from a module's result (or the failure of the read)."""
    if kind not in KINDS:
        raise ValueError("unknown snapshot kind %r (one of %s)" % (kind, ", ".join(KINDS)))
    if not host:
        raise ValueError("a %s read names no host (register it from a loop over the hosts, or give host)" % kind)
    now = now or _now()
    snapshot = {"v": VERSION, "kind": kind, "host": str(host),
                "taken_at": now.isoformat(timespec="seconds")}
    error = _error(result)
    if error is None and not isinstance(result.get("state"), dict):
        error = "not a read of this toolkit's modules (its result has no state)"
    if error is not None:
        snapshot["error"] = error
        return snapshot
    # Every reading module reports what it read the same way (its result's ``state``).
    state = result["state"]
    snapshot.update((key, value) for key, value in state.items() if key != "taken_at")
    snapshot["taken_at"] = state.get("taken_at") or snapshot["taken_at"]
    return snapshot


def file_name(snapshot):
    return "%s-%s.json" % (snapshot["kind"], _UNSAFE.sub("_", snapshot["host"]) or "host")


def dump(snapshot):
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_all(state_dir):
    """({kind: [snapshot, ...] by host}, [problem, ...]) of the files in ``state_dir``."""
    out = {kind: [] for kind in KINDS}
    problems = []
    if not state_dir or not os.path.isdir(state_dir):
        return out, problems
    for name in sorted(os.listdir(state_dir)):
        kind = name.split("-", 1)[0]
        if kind not in KINDS or not name.endswith(".json"):
            continue
        path = os.path.join(state_dir, name)
        try:
            with open(path, encoding="utf-8") as fh:
                snapshot = json.load(fh)
        except (OSError, ValueError) as exc:
            problems.append("%s: unreadable (%s)" % (name, exc))
            continue
        if not isinstance(snapshot, dict) or snapshot.get("v") != VERSION or snapshot.get("kind") != kind:
            problems.append("%s: not a state snapshot of this toolkit" % name)
            continue
        out[kind].append(snapshot)
    for kind in KINDS:
        out[kind].sort(key=lambda s: str(s.get("host")))
    return out, problems


def taken_at(snapshot):
    """The time a snapshot was taken, as an aware datetime (None when unknown)."""
    return parse_time(snapshot.get("taken_at") if snapshot else None)


def parse_time(text):
    """An ISO 8601 time (``Z`` allowed) as an aware datetime, UTC when it has no offset; None."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
