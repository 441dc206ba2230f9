"""The SMS Center's recap for the secretariat and the mayor (S7), read on the gateway host.

Per blast: its recipients in the ledger, how many of their outbox files gammu-smsd
sent, failed or still holds, and who reported non-receipt (with whether the center
did send them the message). Then the incoming messages by kind, keyword and agency,
unknown senders apart. Everything is read-only (docs/sms-design.md for the files):
SQLite databases opened with ``mode=ro``, spool folders listed, nothing written.
"""
import datetime
import json
import os
import re
import sqlite3
from urllib.parse import quote

from ansible.module_utils.city.sms.ledger import Ledger
from ansible.module_utils.city.errors import ToolkitError

FOLDERS = (("sent", "sent"), ("error", "failed"), ("outbox", "pending"))
STATES = ("sent", "failed", "pending", "missing")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FALLBACK = "incoming-fallback.jsonl"
RESCUE_DIR = "rescue"
# The router's stored_via (docs/sms-design.md): "receive" is on time, the others late.
LATE_WAYS = ("sweep", "fallback", "rescue")
# gammu-smsd's inbox file names: IN<date>_<time>_<serial>_<number>_<part>.<ext>; the
# parts of one message share the name but for the part (the router keys by the first).
INBOX_NAME_RE = re.compile(r"^(IN[0-9]{8}_[0-9]{6}_[0-9]+_(.*))_([0-9]+)\.([A-Za-z]+)$", re.DOTALL)
NO_KEYWORD = "(none)"
NO_AGENCY = "(no agency)"


class RecapError(ToolkitError):
    pass


def spool_index(spool_dir):
    """Outbox file name -> (phone_id, state) over every modem's sent/, error/ and outbox/."""
    index = {}
    if not os.path.isdir(spool_dir):
        return index
    for phone_id in sorted(os.listdir(spool_dir)):
        for folder, state in reversed(FOLDERS):  # sent wins over error, error over outbox
            path = os.path.join(spool_dir, phone_id, folder)
            if os.path.isdir(path):
                for name in os.listdir(path):
                    index[name] = (phone_id, state)
    return index


def read_ledger(path):
    """The ledger's blasts (dicts, oldest first) with their pairs under ``pairs``."""
    if not os.path.exists(path):
        return []
    with Ledger(path, readonly=True) as ledger:
        ids = [r[0] for r in ledger.db.execute(
            "SELECT blast_id FROM blasts UNION SELECT blast_id FROM enqueued")]
        blasts = []
        for blast_id in ids:
            blast = ledger.blast(blast_id) or {"blast_id": blast_id}
            blast.pop("signature_sha256", None)
            blast["pairs"] = ledger.pairs(blast_id)
            if not blast.get("planned_at"):
                blast["planned_at"] = min((p["planned_at"] for p in blast["pairs"]), default=None)
            blasts.append(blast)
    blasts.sort(key=lambda b: (str(b.get("planned_at") or ""), b["blast_id"]))
    return blasts


def read_incoming(path):
    """Every row of incoming.sqlite3 as dicts, oldest first ([] while it does not exist)."""
    if not os.path.exists(path):
        return []
    conn = sqlite3.connect("file:%s?mode=ro" % quote(os.path.abspath(path)), uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM incoming ORDER BY received_at, id")]
    finally:
        conn.close()


def read_phonebook(path):
    """Users by id from phonebook.json ({} when there is none)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        return {u["id"]: u for u in json.load(fh).get("users") or []}


def fallback_pending(data_dir):
    """Messages the router could only keep in its fallback file (not in the database yet)."""
    path = os.path.join(data_dir, FALLBACK)
    if not os.path.isfile(path):
        return 0
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _name_key(name):
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _inbox_waiting(inbox_dir, stored):
    """Messages of an inbox (the first part's file names) that are not in the database."""
    try:
        names = os.listdir(os.fsencode(inbox_dir))
    except OSError:
        return 0
    first = {}
    for name in names:
        if name.startswith(b"."):
            continue
        key = _name_key(name)
        match = INBOX_NAME_RE.match(key)
        group, part = (match.group(1), int(match.group(3))) if match else (key, 0)
        if group not in first or part < first[group][0]:
            first[group] = (part, key)
    return sum(1 for _part, key in first.values() if key not in stored)


def _concat_reference(udh_hex):
    """(reference, total) of a concatenated SMS's UDH (IEI 00 or 08), as the router groups parts."""
    try:
        udh = bytes.fromhex(udh_hex)
    except ValueError:
        return None
    pos = 1
    while pos + 1 < len(udh):
        iei, length = udh[pos], udh[pos + 1]
        data = udh[pos + 2:pos + 2 + length]
        if iei == 0x00 and length == 3 and len(data) == 3:
            return data[0], data[1]
        if iei == 0x08 and length == 4 and len(data) == 4:
            return (data[0] << 8) | data[1], data[2]
        pos += 2 + length
    return None


def _rescue_waiting(rescue_dir, stored):
    """Received messages of the rescue files (Gammu backups) that are not in the database;
    the router keys each ``<file>#<index of its first part>``."""
    try:
        names = sorted(n for n in os.listdir(rescue_dir) if n.endswith(".smsbackup"))
    except OSError:
        return 0
    waiting = 0
    for name in names:
        try:
            with open(os.path.join(rescue_dir, name), "rb") as fh:
                text = fh.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            continue
        sections, current = [], None
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                current = {} if line[1:].upper().startswith("SMSBACKUP") else None
                if current is not None:
                    sections.append(current)
            elif current is not None and "=" in line and not line.startswith(";"):
                key, value = line.split("=", 1)
                current[key.strip().lower()] = value.strip()
        seen = set()
        for index, section in enumerate(sections):
            if section.get("pdu", "Deliver").lower() != "deliver":
                continue
            concat = _concat_reference(section.get("udh", ""))
            group = ("c", section.get("numberunicode") or section.get("number"), concat) if concat else ("s", index)
            if group in seen:
                continue
            seen.add(group)
            if "%s#%03d" % (name, index) not in stored:
                waiting += 1
    return waiting


def _fallback_keys(data_dir):
    keys = []
    try:
        with open(os.path.join(data_dir, FALLBACK), "rb") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and row.get("file"):
                    keys.append((row.get("phone_id"), row["file"]))
    except OSError:
        pass
    return keys


def kept_aside(incoming, spool_dir, data_dir, since=None):
    """What the router could not store at once: stored late (by the sweep, from the fallback
    file, rescued off a modem) and still waiting (inbox and rescue files not in the
    database, the fallback file)."""
    late = dict.fromkeys(LATE_WAYS, 0)
    for row in incoming:
        if row.get("stored_via") in late and _on_or_after(row["received_at"], since):
            late[row["stored_via"]] += 1
    stored_by_phone = {}
    for row in incoming:
        stored_by_phone.setdefault(row.get("phone_id"), set()).add(row["file"])
    waiting = {"inbox": 0, "rescue": 0, "fallback": fallback_pending(data_dir)}
    # A message in the fallback file is counted there, not once more as its inbox file.
    for phone_id, key in _fallback_keys(data_dir):
        stored_by_phone.setdefault(phone_id, set()).add(key)
    if os.path.isdir(spool_dir):
        for phone_id in sorted(os.listdir(spool_dir)):
            stored = stored_by_phone.get(phone_id, set())
            waiting["inbox"] += _inbox_waiting(os.path.join(spool_dir, phone_id, "inbox"), stored)
            waiting["rescue"] += _rescue_waiting(os.path.join(spool_dir, phone_id, RESCUE_DIR), stored)
    return {"stored_late": sum(late.values()), "stored_late_by_way": late,
            "waiting": sum(waiting.values()), "waiting_by_place": waiting}


def _on_or_after(stamp, since):
    return since is None or str(stamp or "")[:10] >= since


def _count(counter, key):
    counter[key] = counter.get(key, 0) + 1


def recap(ledger_path, incoming_path, spool_dir, phonebook_path=None, since=None, blast_ids=None, now=None):
    """The recap as a dict (see the module's RETURN)."""
    if since is not None and not DATE_RE.match(since):
        raise RecapError("since must be a date YYYY-MM-DD, not %r" % (since,))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    users = read_phonebook(phonebook_path)
    try:
        ledger = read_ledger(ledger_path)
        incoming = read_incoming(incoming_path)
    except sqlite3.Error as exc:
        raise RecapError("cannot read the SMS Center's databases: %s" % exc)
    known = {b["blast_id"] for b in ledger}
    blasts = [b for b in ledger if _on_or_after(b.get("planned_at"), since)
              and (not blast_ids or b["blast_id"] in blast_ids)]
    index = spool_index(spool_dir)
    out_blasts = []
    for blast in blasts:
        counts = dict.fromkeys(STATES, 0)
        delivery = {}
        failed, missing = [], []
        for pair in blast["pairs"]:
            phone_id, state = index.get(pair["file"], (pair["phone_id"], None))
            if state is None:
                state = "pending" if pair.get("enqueued_at") is None else "missing"
            counts[state] += 1
            delivery[pair["user_id"]] = state
            entry = {"user_id": pair["user_id"], "agency": (users.get(pair["user_id"]) or {}).get("agency"),
                     "phone_id": phone_id}
            if state == "failed":
                failed.append(entry)
            elif state == "missing":
                missing.append(entry)
        reports, replies = {}, []
        for row in incoming:
            if row["blast_id"] != blast["blast_id"] or not row["user_id"]:
                continue
            if row["kind"] == "non-receipt":
                report = reports.setdefault(row["user_id"], {
                    "user_id": row["user_id"], "agency": row["agency"], "reports": 0,
                    "delivery": delivery.get(row["user_id"], "not-a-recipient")})
                report["reports"] += 1
                report["last_received_at"] = row["received_at"]
            elif row["kind"] == "reply":
                replies.append({"user_id": row["user_id"], "agency": row["agency"],
                                "received_at": row["received_at"], "text": row["text"]})
        out_blasts.append({
            "blast_id": blast["blast_id"], "planned_at": blast.get("planned_at"), "text": blast.get("text"),
            "segments": blast.get("segments"), "encoding": blast.get("encoding"),
            "recipients": len(blast["pairs"]), "sent": counts["sent"], "failed": counts["failed"],
            "pending": counts["pending"], "missing": counts["missing"],
            "failed_recipients": failed, "missing_recipients": missing,
            "non_receipt": sorted(reports.values(), key=lambda r: r["user_id"]), "replies": replies})
    recent = [r for r in incoming if _on_or_after(r["received_at"], since)]
    by_kind, by_keyword, by_agency, unknown = {}, {}, {}, {}
    for row in recent:
        _count(by_kind, row["kind"])
        _count(by_keyword, row["keyword"] or NO_KEYWORD)
        if row["user_id"] is None:
            _count(unknown, row["number"] or "")
            continue
        agency = by_agency.setdefault(row["agency"] or NO_AGENCY, {"total": 0, "by_kind": {}})
        agency["total"] += 1
        _count(agency["by_kind"], row["kind"])
    unmatched = [{"user_id": r["user_id"], "agency": r["agency"], "number": r["number"],
                  "received_at": r["received_at"], "blast_id": r["blast_id"], "text": r["text"]}
                 for r in recent if r["kind"] == "non-receipt" and r["user_id"] and r["blast_id"] not in known]
    return {
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "since": since,
        "blasts": out_blasts,
        "incoming": {
            "total": len(recent),
            "by_kind": dict(sorted(by_kind.items())),
            "by_keyword": dict(sorted(by_keyword.items())),
            "by_agency": dict(sorted(by_agency.items())),
            "unknown_senders": {"messages": sum(unknown.values()), "numbers": dict(sorted(unknown.items()))},
        },
        "non_receipt_unmatched": unmatched,
        "fallback_pending": fallback_pending(os.path.dirname(os.path.abspath(incoming_path))),
        "kept_aside": kept_aside(incoming, spool_dir, os.path.dirname(os.path.abspath(incoming_path)), since),
        "sources": {"ledger": os.path.exists(ledger_path), "incoming": os.path.exists(incoming_path),
                    "spool": os.path.isdir(spool_dir)},
    }


def _cell(value):
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for dummy in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def markdown(data):
    """The recap as Markdown, for the secretariat's report."""
    lines = ["# SMS Center recap", "",
             "Generated %s%s." % (data["generated_at"], ", since %s" % data["since"] if data["since"] else ""), ""]
    missing = [name for name, present in data["sources"].items() if not present]
    if missing:
        lines += ["> Not found on the gateway: %s." % ", ".join(missing), ""]
    if data["fallback_pending"]:
        lines += ["> **%d received message(s) are only in the router's fallback file** (%s): the "
                  "database could not be written; the next message received moves them in."
                  % (data["fallback_pending"], FALLBACK), ""]
    kept = data.get("kept_aside") or {}
    if kept.get("stored_late") or kept.get("waiting"):
        late, waiting = kept["stored_late_by_way"], kept["waiting_by_place"]
        lines += ["> Kept aside by the receive router: %d received message(s) stored late (by the sweep %d, "
                  "from the fallback file %d, rescued off a modem %d); %d still waiting (inbox files %d, "
                  "rescue files %d, fallback file %d), which the sweep stores."
                  % (kept["stored_late"], late["sweep"], late["fallback"], late["rescue"], kept["waiting"],
                     waiting["inbox"], waiting["rescue"], waiting["fallback"]), ""]
    lines += ["## Blasts", ""]
    if not data["blasts"]:
        lines += ["No blast.", ""]
    else:
        lines += _table(["Blast", "Planned", "Recipients", "Sent", "Failed", "Pending", "Missing",
                         "Non-receipt reports", "Replies"],
                        [[b["blast_id"], b["planned_at"], b["recipients"], b["sent"], b["failed"], b["pending"],
                          b["missing"], len(b["non_receipt"]), len(b["replies"])] for b in data["blasts"]]) + [""]
    for blast in data["blasts"]:
        if not (blast["non_receipt"] or blast["failed_recipients"] or blast["missing_recipients"]):
            continue
        lines += ["### Blast %s" % blast["blast_id"], ""]
        if blast["non_receipt"]:
            lines += ["Reported non-receipt (TIDAKTERIMA):", ""]
            lines += _table(["User", "Agency", "Reports", "Last report", "The center's delivery"],
                            [[r["user_id"], r["agency"], r["reports"], r["last_received_at"], r["delivery"]]
                             for r in blast["non_receipt"]]) + [""]
        for key, title in (("failed_recipients", "Failed (in error/)"),
                           ("missing_recipients", "Enqueued but in no spool folder")):
            if blast[key]:
                lines += ["%s: %s." % (title, ", ".join(
                    "%s (%s)" % (r["user_id"], r["agency"] or NO_AGENCY) for r in blast[key])), ""]
    if data["non_receipt_unmatched"]:
        lines += ["### Non-receipt reports naming no known blast", ""]
        lines += _table(["User", "Agency", "Received", "Blast named", "Text"],
                        [[r["user_id"], r["agency"], r["received_at"], r["blast_id"], r["text"]]
                         for r in data["non_receipt_unmatched"]]) + [""]
    incoming = data["incoming"]
    lines += ["## Incoming messages", "", "%d message(s)." % incoming["total"], ""]
    if incoming["total"]:
        lines += _table(["Kind", "Messages"], sorted(incoming["by_kind"].items())) + [""]
        lines += _table(["Keyword", "Messages"], sorted(incoming["by_keyword"].items())) + [""]
        kinds = sorted({k for a in incoming["by_agency"].values() for k in a["by_kind"]})
        if incoming["by_agency"]:
            lines += _table(["Agency", "Total"] + kinds,
                            [[name, a["total"]] + [a["by_kind"].get(k, 0) for k in kinds]
                             for name, a in incoming["by_agency"].items()]) + [""]
        unknown = incoming["unknown_senders"]
        lines += ["Unknown senders: %d message(s) from %d number(s)." % (unknown["messages"], len(unknown["numbers"])),
                  ""]
    return "\n".join(lines)
