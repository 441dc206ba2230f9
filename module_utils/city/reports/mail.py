"""E10: the inventory of the mail accounts, with the accounts unused for a month.

Every account of ``mail.yml`` (address, kind, agency, holder, status) joined with the
directory as ``mail_inventory`` read it (``read_usage`` of the mail code): whether the
entry exists, whether it is locked, when it was last used (slapd's ``pwdLastSuccess``,
else its creation time). An account is flagged unused by the mail code's own
``unused`` with ``policy.mail.unused_warning_days``, counted back from the moment the
directory was read, so an old snapshot gives the answer of its day. Entries of the
directory that the registry does not list are rows too.
"""
import datetime

from ansible.module_utils.city.mail.unused import unused
from ansible.module_utils.city.reports import snapshots as snaps
from ansible.module_utils.city.reports.city import agency_name, local, person_name

DEFAULT_DAYS = 30
NOT_IN_REGISTRY = "not-in-registry"
COLUMNS = [
    ("address", "Address"), ("kind", "Kind"), ("owner", "Agency"), ("owner_name", "Agency name"),
    ("holder", "Holder"), ("holder_name", "Holder name"), ("position", "Position"), ("status", "Registry status"),
    ("directory", "In the directory"), ("locked", "Locked"), ("last_used", "Last used"),
    ("days_unused", "Days since last use"), ("unused", "Unused (E10)"), ("note", "Note")]


def usage_from_snapshot(snapshot):
    """The snapshot's accounts as ``read_usage`` returns them (``last_used`` a datetime)."""
    return [{"address": str(a.get("address") or "").lower(), "uid": a.get("uid"), "ou": a.get("ou"),
             "last_used": snaps.parse_time(a.get("last_used")), "locked": bool(a.get("locked"))}
            for a in snapshot.get("accounts") or []]


def _note(status, entry):
    if entry is None:
        return {"active": "not in the directory yet (playbooks/mail.yml creates it)",
                "deactivated": "not in the directory"}.get(status, "")
    if status == "active" and entry["locked"]:
        return "locked in the directory: a deactivation still applied, or failed logins (ppolicy)"
    if status == "deactivated" and not entry["locked"]:
        return "not locked: the deactivation is not applied yet"
    if status == "deleted":
        return "still in the directory: the deletion is not applied yet"
    return ""


def build(ctx, mail_snapshots, tz):
    """Rows of every account, the summary by agency and the state of the read."""
    policy = (ctx.policy.get("mail") or {}) if isinstance(ctx.policy.get("mail"), dict) else {}
    days = int(policy.get("unused_warning_days") or DEFAULT_DAYS)
    usable = [s for s in mail_snapshots if not s.get("error")]
    # The toolkit reads the first directory host (the provider); with several files, the newest.
    snapshot = max(usable, key=lambda s: snaps.taken_at(s) or datetime.datetime.min.replace(
        tzinfo=datetime.timezone.utc)) if usable else None
    state = {"snapshots": [{"host": s.get("host"), "taken_at": local(snaps.taken_at(s), tz), "error": s.get("error")}
                           for s in mail_snapshots],
             "host": snapshot.get("host") if snapshot else None,
             "taken_at": local(snaps.taken_at(snapshot), tz) if snapshot else None}
    usage, flagged, now = [], set(), None
    if snapshot is not None:
        usage = usage_from_snapshot(snapshot)
        now = snaps.taken_at(snapshot)
        flagged = {u["address"] for u in unused(usage, now, days)}
    by_address = {u["address"]: u for u in usage}

    def directory_fields(entry):
        if snapshot is None:
            return {"directory": None, "locked": None, "last_used": None, "days_unused": None, "unused": None}
        if entry is None:
            return {"directory": False, "locked": None, "last_used": None, "days_unused": None, "unused": False}
        last = entry["last_used"]
        return {"directory": True, "locked": entry["locked"],
                "last_used": local(last, tz) if last else None,
                "days_unused": (now - last).days if last else None, "unused": entry["address"] in flagged}

    rows, seen = [], set()
    for _i, acc in ctx.entries("mail.yml", "accounts"):
        address = str(acc.get("address") or "").lower()
        seen.add(address)
        entry = by_address.get(address)
        row = {"address": address, "kind": acc.get("kind"), "owner": acc.get("owner"),
               "owner_name": agency_name(ctx, acc.get("owner")), "holder": acc.get("holder"),
               "holder_name": person_name(ctx, acc.get("holder")), "position": acc.get("position"),
               "status": acc.get("status"), "note": _note(acc.get("status"), entry) if snapshot else ""}
        row.update(directory_fields(entry))
        rows.append(row)
    for entry in usage:
        if entry["address"] in seen:
            continue
        row = {"address": entry["address"], "kind": None, "owner": entry["ou"] or None,
               "owner_name": agency_name(ctx, entry["ou"]), "holder": None, "holder_name": "", "position": None,
               "status": NOT_IN_REGISTRY, "note": "in the directory only: the registry does not list it"}
        row.update(directory_fields(entry))
        rows.append(row)
    rows.sort(key=lambda r: (str(r["owner"] or "~"), r["address"]))

    agencies = {}
    for row in rows:
        entry = agencies.setdefault(row["owner"], {"code": row["owner"], "name": row["owner_name"],
                                                   "accounts": 0, "active": 0, "deactivated": 0, "deleted": 0,
                                                   NOT_IN_REGISTRY: 0, "unused": 0, "notes": 0})
        entry["accounts"] += 1
        if row["status"] in entry:
            entry[row["status"]] += 1
        entry["unused"] += int(bool(row["unused"]))
        entry["notes"] += int(bool(row["note"]))
    unused_rows = sorted((r for r in rows if r["unused"]), key=lambda r: (-(r["days_unused"] or 0), r["address"]))
    totals = {"accounts": len(rows), "unused": len(unused_rows), "notes": sum(1 for r in rows if r["note"]),
              "in_directory": sum(1 for r in rows if r["directory"])}
    for status in ("active", "deactivated", "deleted", NOT_IN_REGISTRY):
        totals[status] = sum(1 for r in rows if r["status"] == status)
    return {"days": days, "rows": rows, "unused": unused_rows, "totals": totals, "state": state,
            "agencies": sorted(agencies.values(), key=lambda a: str(a["code"] or "~"))}
