"""S7: the SMS Center's recap per blast and for the period, for the secretariat and the mayor.

The data is what ``sms_recap`` read on each gateway (the ledger, the spool, the
received messages; ``module_utils/city/sms/recap.py``): per blast its recipients
and how many messages were sent, failed, are pending or missing, who reported
non-receipt and the replies; the incoming messages of the period by kind, keyword
and agency. The registry adds what the gateway does not know: each blast's kind,
originator and approval (S1-S3), each keyword's kind and meaning (S4) and the
agencies' names.
"""
from ansible.module_utils.city.reports import snapshots as snaps
from ansible.module_utils.city.reports.city import agency_name, local, person_name

BLAST_COLUMNS = [
    ("gateway", "Gateway"), ("blast_id", "Blast"), ("planned_at", "Planned (UTC)"), ("kind", "Kind (S3)"),
    ("originator", "Originator (S1)"), ("originator_name", "Originator name"), ("approved_on", "Approved (S2)"),
    ("recipients", "Recipients"), ("sent", "Sent"), ("failed", "Failed"), ("pending", "Pending"),
    ("missing", "Missing"), ("non_receipt_users", "Users reporting non-receipt (S6)"),
    ("non_receipt_reports", "Non-receipt reports"), ("replies", "Replies")]
KEYWORD_COLUMNS = [("gateway", "Gateway"), ("keyword", "Keyword"), ("kind", "Kind"),
                   ("description", "Meaning"), ("messages", "Messages")]
AGENCY_COLUMNS = [("gateway", "Gateway"), ("agency", "Agency"), ("agency_name", "Agency name"),
                  ("kind", "Kind"), ("messages", "Messages")]


def _registry_blasts(ctx):
    out = {}
    for name in ctx.blast_files:
        blast = ctx.data(name).get("blast")
        if isinstance(blast, dict) and blast.get("id"):
            out[str(blast["id"])] = blast
    return out


def _pick(row, keys):
    """The keys the templates use, present even when an older recap lacks one."""
    return {key: row.get(key) for key in keys}


def build(ctx, sms_snapshots, tz):
    """One section per gateway snapshot, with its blasts, keywords and agencies as rows."""
    registry_blasts = _registry_blasts(ctx)
    keywords = {str(k.get("keyword")).upper(): k for _i, k in ctx.entries("sms.yml", "keywords")}
    gateways = []
    for snapshot in sms_snapshots:
        host = snapshot.get("host")
        gateway = {"host": host, "taken_at": local(snaps.taken_at(snapshot), tz), "error": snapshot.get("error"),
                   "since": None, "sources": {}, "fallback_pending": 0, "unmatched": [], "blasts": [],
                   "keywords": [], "agencies": [], "kinds": [], "by_kind": [], "incoming_total": 0,
                   "unknown_senders": {"messages": 0, "numbers": []}}
        gateways.append(gateway)
        if snapshot.get("error"):
            continue
        recap = snapshot.get("recap") or {}
        gateway.update(since=recap.get("since"), sources=recap.get("sources") or {},
                       fallback_pending=recap.get("fallback_pending") or 0,
                       unmatched=[_pick(r, ("user_id", "agency", "number", "received_at", "blast_id", "text"))
                                  for r in recap.get("non_receipt_unmatched") or []])
        for blast in recap.get("blasts") or []:
            reg = registry_blasts.get(str(blast.get("blast_id"))) or {}
            approval = reg.get("approval") if isinstance(reg.get("approval"), dict) else {}
            gateway["blasts"].append({
                "gateway": host, "blast_id": blast.get("blast_id"), "planned_at": blast.get("planned_at"),
                "planned": local(snaps.parse_time(blast.get("planned_at")), tz),
                "in_registry": bool(reg), "kind": reg.get("kind"), "originator": reg.get("originator"),
                "originator_name": person_name(ctx, reg.get("originator")),
                "approved_on": approval.get("date"), "approved_by": person_name(ctx, approval.get("by")),
                "text": blast.get("text") or reg.get("text"), "segments": blast.get("segments"),
                "recipients": blast.get("recipients", 0), "sent": blast.get("sent", 0),
                "failed": blast.get("failed", 0), "pending": blast.get("pending", 0),
                "missing": blast.get("missing", 0),
                "non_receipt_users": len(blast.get("non_receipt") or []),
                "non_receipt_reports": sum(int(r.get("reports") or 0) for r in blast.get("non_receipt") or []),
                "replies": len(blast.get("replies") or []),
                "non_receipt": [{"user_id": r.get("user_id"), "agency": r.get("agency"),
                                 "agency_name": agency_name(ctx, r.get("agency")), "reports": r.get("reports", 0),
                                 "last_received_at": r.get("last_received_at"),
                                 "delivery": r.get("delivery") or "unknown"}
                                for r in blast.get("non_receipt") or []],
                "failed_recipients": [_pick(r, ("user_id", "agency", "phone_id"))
                                      for r in blast.get("failed_recipients") or []],
                "missing_recipients": [_pick(r, ("user_id", "agency", "phone_id"))
                                       for r in blast.get("missing_recipients") or []],
                "reply_list": [_pick(r, ("user_id", "agency", "received_at", "text"))
                               for r in blast.get("replies") or []]})
        incoming = recap.get("incoming") or {}
        gateway["incoming_total"] = incoming.get("total", 0)
        gateway["by_kind"] = [{"kind": k, "messages": n} for k, n in sorted((incoming.get("by_kind") or {}).items())]
        for keyword, count in sorted((incoming.get("by_keyword") or {}).items()):
            known = keywords.get(str(keyword).upper())
            gateway["keywords"].append({"gateway": host, "keyword": keyword, "messages": count,
                                        "kind": known.get("kind") if known else "unknown-keyword",
                                        "description": known.get("description") if known else ""})
        kinds = sorted({k for a in (incoming.get("by_agency") or {}).values() for k in (a.get("by_kind") or {})})
        gateway["kinds"] = kinds
        for code, agency in sorted((incoming.get("by_agency") or {}).items()):
            gateway["agencies"].append({"gateway": host, "agency": code, "agency_name": agency_name(ctx, code),
                                        "total": agency.get("total", 0), "by_kind": agency.get("by_kind") or {}})
        unknown = incoming.get("unknown_senders") or {}
        gateway["unknown_senders"] = {"messages": unknown.get("messages", 0),
                                      "numbers": sorted((unknown.get("numbers") or {}).items())}
    totals = {key: sum(b[key] for g in gateways for b in g["blasts"])
              for key in ("recipients", "sent", "failed", "pending", "missing", "non_receipt_users", "replies")}
    totals["blasts"] = sum(len(g["blasts"]) for g in gateways)
    totals["incoming"] = sum(g["incoming_total"] for g in gateways)
    return {"gateways": gateways, "totals": totals,
            "blast_rows": [b for g in gateways for b in g["blasts"]],
            "keyword_rows": [k for g in gateways for k in g["keywords"]],
            "agency_rows": [{"gateway": a["gateway"], "agency": a["agency"], "agency_name": a["agency_name"],
                             "kind": kind, "messages": n}
                            for g in gateways for a in g["agencies"] for kind, n in sorted(a["by_kind"].items())]}
