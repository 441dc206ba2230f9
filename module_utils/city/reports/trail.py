"""The audit trail as the reports read it.

The trail (written by the callback plugin ``apply_session``) is JSON Lines: one
record per line, ``{"v": 1, "time": ISO 8601 UTC, "run": id, "event": ...}``, with
the events ``run-start`` (operator, commit, playbook, check...), ``change`` (module,
host, task, object, action, before, after, status) and ``run-end``.

A report must come out even from a damaged trail, and must say what it could not
read: a line that is not a JSON object, a record of another format version or
without a readable time is skipped and counted in ``problems``, never fatal. A
missing trail is no recorded change, and the reports say so.
"""
import datetime
import json

from ansible.module_utils.city.reports.snapshots import parse_time

VERSION = 1
CHANGE, RUN_START, RUN_END = "change", "run-start", "run-end"
MAX_PROBLEMS = 20


class Trail:
    """What was read: ``records`` (valid, in order), ``runs`` (run id -> run-start record)."""

    def __init__(self, path, exists, records, problems, skipped):
        self.path, self.exists, self.records = path, exists, records
        self.problems, self.skipped = problems, skipped
        self.runs = {r.get("run"): r for r in records if r.get("event") == RUN_START}

    def summary(self):
        return {"path": self.path, "exists": self.exists, "records": len(self.records),
                "runs": len(self.runs), "skipped": self.skipped, "problems": list(self.problems)}


def read(path):
    """Read the trail at ``path`` (None or a missing file: an empty trail that does not exist)."""
    if not path:
        return Trail(path, False, [], [], 0)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return Trail(path, False, [], [], 0)
    records, problems, skipped = [], [], 0

    def skip(number, why):
        nonlocal skipped
        skipped += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append("line %d: %s" % (number, why))

    with handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                skip(number, "not a JSON record (a torn line of an interrupted write?)")
                continue
            if not isinstance(record, dict):
                skip(number, "not a JSON object")
                continue
            if record.get("v") != VERSION:
                skip(number, "format version %r, this toolkit reads %d" % (record.get("v"), VERSION))
                continue
            moment = parse_time(record.get("time")) if isinstance(record.get("time"), str) else None
            if moment is None:
                skip(number, "no readable time")
                continue
            record["_time"] = moment
            records.append(record)
    return Trail(path, True, records, problems, skipped)


def changes(trail, module, year=None, tz=datetime.timezone.utc):
    """The ``change`` records of ``module`` (of ``year`` in the city's time zone ``tz``).

    Each record comes with what its run said of itself (operator, commit, playbook).
    Records of a run that declared itself a check are a plan, not a change: left out.
    """
    out = []
    for record in trail.records:
        if record.get("event") != CHANGE or record.get("module") != module:
            continue
        if year is not None and record["_time"].astimezone(tz).year != year:
            continue
        run = trail.runs.get(record.get("run")) or {}
        if run.get("check") is True:
            continue
        out.append(dict(record, _run=run))
    return out
