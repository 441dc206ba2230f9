"""The audit trail: an append-only file of JSON lines on the control node.

One record per line, each written by a single ``write`` on a descriptor opened with
O_APPEND and synced before the apply goes on, so a record is either whole in the file
or absent, and a crash loses at most the record being written. Nothing here ever
rewrites or truncates the file. Events (docs/operations.md):

- ``run-start``: who (operator), what (playbook, inventory, check), on what authority
  (git commit of the registry, whether its work tree differed from it);
- ``change``: one per changed object (module, host, object, action, before, after);
- ``run-end``: ``ok``, ``failed`` or ``interrupted`` (written by the next run when the
  apply was killed before it could say so itself).

The reports read it with module_utils/city/reports/trail.py, which skips and
counts a damaged line instead of failing.
"""
import datetime
import json
import os

VERSION = 1
RUN_START, CHANGE, RUN_END = "run-start", "change", "run-end"
OK, FAILED, INTERRUPTED = "ok", "failed", "interrupted"


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class AuditTrail:
    def __init__(self, path):
        self.path = path

    def append(self, run, event, **fields):
        record = {"v": VERSION, "time": now_iso(), "run": run, "event": event}
        record.update(fields)
        line = (json.dumps(record, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode("utf-8")
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return record
