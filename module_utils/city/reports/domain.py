"""D9: the yearly report on the subdomains, per agency (their owner) and for the city.

From the registry: every subdomain with its owner, kind, status (active, suspended,
deactivated; excepted when it has a D4 exception), decree, officer and the addresses it
is served at (as ``dns_zone`` publishes them: the suspension target for a suspended
name, nothing for a deactivated one). The main domain itself is one more row, owned by
the communication agency.

From the audit trail: the ``dns_zone`` changes of the year (in the city's time zone),
each attributed to the subdomain its name is under and so to that subdomain's owner
in the registry today.

From the DNS state snapshot (``dns_zone`` in check mode): the drift, what the server
holds that the registry does not say, attributed the same way.
"""
import ipaddress
import json

try:
    import dns.exception
    import dns.rdatatype
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city.dns.desired import desired_state, mail_names
from ansible.module_utils.city.reports import snapshots as snaps
from ansible.module_utils.city.reports import trail as trail_mod
from ansible.module_utils.city.reports.city import agency_name, local, person_name

MAIN = "@"  # the main domain's own names
ADDRESS_TYPES = ("A", "AAAA")
DRIFT_MEANING = {
    "add": "in the registry, missing on the server",
    "change": "on the server, different from the registry",
    "delete": "on the server, the registry says it must go",
}
SUBDOMAIN_COLUMNS = [
    ("fqdn", "Name"), ("owner", "Owner"), ("owner_name", "Owner name"), ("kind", "Kind"),
    ("status", "Status"), ("excepted", "Excepted (D4)"), ("exception_reference", "Exception reference"),
    ("decree", "Decree (D3)"), ("officer", "Officer (D10)"), ("officer_name", "Officer name"),
    ("addresses", "Addresses served"), ("records", "Records in the registry"),
    ("changes", "Changes in the year"), ("drift", "Drift"), ("description", "Description")]
CHANGE_COLUMNS = [
    ("time", "Time"), ("fqdn", "Subdomain"), ("owner", "Owner"), ("object", "Record set"),
    ("action", "Action"), ("status", "Status"), ("before", "Before"), ("after", "After"),
    ("host", "Server"), ("operator", "Operator"), ("commit", "Registry commit"), ("playbook", "Playbook"),
    ("run", "Run")]
DRIFT_COLUMNS = [
    ("host", "Server"), ("fqdn", "Subdomain"), ("owner", "Owner"), ("name", "Name"), ("type", "Type"),
    ("action", "Plan"), ("meaning", "Meaning"), ("before", "On the server"), ("after", "In the registry"),
    ("taken_at", "Read at")]


class Attribution:
    """Which subdomain (and so which owner) a DNS name belongs to."""

    def __init__(self, zone, labels, apex_names):
        self.zone = zone.rstrip(".").lower()
        self.labels = {label.lower() for label in labels}
        self.apex_names = {name.lower() for name in apex_names}

    def subdomain(self, name):
        """The subdomain label of ``name``; MAIN for the main domain's names; None if unknown."""
        name = str(name or "").strip().rstrip(".").lower()
        if name == self.zone:
            return MAIN
        if not name.endswith("." + self.zone):
            return None
        rel = name[:-len(self.zone) - 1]
        label = rel.rsplit(".", 1)[-1]
        if label in self.labels:
            return label
        return MAIN if rel in self.apex_names else None


def _lines(value):
    """A record's before/after as lines of text (zone-file lines for dns_zone)."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, list):
        return [v if isinstance(v, str) else _json(v) for v in value]
    return [value if isinstance(value, str) else _json(value)]


def _json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _served(domain_doc, labels):
    """{label or MAIN: sorted addresses} as dns_zone publishes the registry's domain.yml."""
    try:
        origin, want, _owner = desired_state(domain_doc)
    except (KeyError, TypeError, ValueError, dns.exception.DNSException):
        return {}  # a registry the validation refuses: no addresses rather than no report
    out = {}
    for (name, rdtype), rrset in want.items():
        if dns.rdatatype.to_text(rdtype) not in ADDRESS_TYPES:
            continue
        rel = name.relativize(origin)
        label = rel.labels[-1].decode("ascii", "replace").lower() if rel.labels else MAIN
        out.setdefault(label if label in labels else MAIN, set()).update(rd.to_text() for rd in rrset.rdatas)
    return {k: sorted(v, key=_address_key) for k, v in out.items()}


def _address_key(text):
    try:
        address = ipaddress.ip_address(text)
        return (address.version, int(address))
    except ValueError:
        return (9, 0)


def build(ctx, trail, dns_snapshots, year, tz):
    """The city's data for the year: subdomains, changes, drift, per-agency summary."""
    zone = ctx.main_domain or ""
    domain = ctx.section("domain.yml", "domain")
    subdomains = [s for _i, s in ctx.entries("domain.yml", "subdomains") if isinstance(s.get("name"), str)]
    apex_names = [str(r.get("name") or "@") for r in (domain.get("apex") or {}).get("records") or []
                  if isinstance(r, dict) and str(r.get("name") or "@") != "@"] + mail_names(domain)
    attribution = Attribution(zone, [s["name"] for s in subdomains], apex_names)
    comm = ctx.roles.get("communication_agency")
    owners = {s["name"].lower(): s.get("owner") for s in subdomains}
    owners[MAIN] = comm
    served = _served(ctx.data("domain.yml"), set(owners) - {MAIN})

    def where(name):
        label = attribution.subdomain(name)
        if label is None:
            return {"subdomain": None, "fqdn": "(not in the registry)", "owner": None, "owner_name": ""}
        owner = owners.get(label)
        return {"subdomain": label, "fqdn": zone if label == MAIN else "%s.%s" % (label, zone),
                "owner": owner, "owner_name": agency_name(ctx, owner)}

    changes = []
    for record in trail_mod.changes(trail, "dns_zone", year, tz):
        obj = str(record.get("object") or "")
        name = obj.split(" ", 1)[0]
        run = record["_run"]
        changes.append(dict(where(name), time=local(record["_time"], tz), time_utc=record.get("time"),
                            object=obj, action=record.get("action"), status=record.get("status") or "ok",
                            before=_lines(record.get("before")), after=_lines(record.get("after")),
                            host=record.get("host"), task=record.get("task"), run=record.get("run"),
                            operator=run.get("operator"), commit=(run.get("commit") or "")[:12],
                            dirty=run.get("dirty"), playbook=run.get("playbook")))

    drift, states = [], []
    for snapshot in dns_snapshots:
        state = {"host": snapshot.get("host"), "taken_at": local(snaps.taken_at(snapshot), tz),
                 "error": snapshot.get("error"), "plan": snapshot.get("plan") or {}}
        states.append(state)
        for change in snapshot.get("changes") or []:
            action = change.get("action")
            drift.append(dict(where(change.get("name")), host=snapshot.get("host"), name=change.get("name"),
                              type=change.get("type"), action=action, meaning=DRIFT_MEANING.get(action, action),
                              before=_lines(change.get("before")), after=_lines(change.get("after")),
                              taken_at=state["taken_at"]))

    def count(rows, label):
        return sum(1 for r in rows if r["subdomain"] == label)

    rows = [{"subdomain": MAIN, "name": MAIN, "fqdn": zone, "owner": comm, "owner_name": agency_name(ctx, comm),
             "kind": "main-domain", "status": "active", "excepted": False, "exception_reference": "",
             "exception_approved_by": "", "decree": "", "officer": domain.get("officer"),
             "officer_name": person_name(ctx, domain.get("officer")), "addresses": served.get(MAIN, []),
             "records": len((domain.get("apex") or {}).get("records") or []),
             "description": "The main domain (D1), expires %s (D6); its officer (D5) by %s" % (
                 domain.get("expires"), domain.get("officer_decree") or "(no decree recorded)"),
             "changes": count(changes, MAIN), "drift": count(drift, MAIN)}]
    for sub in sorted(subdomains, key=lambda s: s["name"]):
        label = sub["name"].lower()
        exception = sub.get("exception") if isinstance(sub.get("exception"), dict) else None
        rows.append({
            "subdomain": label, "name": label, "fqdn": "%s.%s" % (label, zone), "owner": sub.get("owner"),
            "owner_name": agency_name(ctx, sub.get("owner")), "kind": sub.get("kind"), "status": sub.get("status"),
            "excepted": exception is not None,
            "exception_reference": (exception or {}).get("reference", ""),
            "exception_approved_by": person_name(ctx, (exception or {}).get("approved_by")),
            "decree": sub.get("decree"), "officer": sub.get("officer"),
            "officer_name": person_name(ctx, sub.get("officer")), "addresses": served.get(label, []),
            "records": len(sub.get("records") or []), "description": sub.get("description") or "",
            "changes": count(changes, label), "drift": count(drift, label)})

    agencies = {}
    for row in rows:
        entry = agencies.setdefault(row["owner"], {
            "code": row["owner"], "name": row["owner_name"], "subdomains": 0, "active": 0, "suspended": 0,
            "deactivated": 0, "excepted": 0, "changes": 0, "drift": 0})
        entry["subdomains"] += 1
        if row["status"] in ("active", "suspended", "deactivated"):
            entry[row["status"]] += 1
        entry["excepted"] += int(row["excepted"])
        entry["changes"] += row["changes"]
        entry["drift"] += row["drift"]
    unattributed = [c for c in changes if c["owner"] is None] + [d for d in drift if d["owner"] is None]
    return {"year": year, "zone": zone, "subdomains": rows, "changes": changes, "drift": drift,
            "dns_state": states, "agencies": sorted(agencies.values(), key=lambda a: str(a["code"])),
            "unattributed": len(unattributed), "trail": trail.summary()}


def for_agency(data, code):
    """The same report restricted to the subdomains of one agency."""
    mine = [r for r in data["subdomains"] if r["owner"] == code]
    return dict(data, agency=code, subdomains=mine,
                changes=[c for c in data["changes"] if c["owner"] == code],
                drift=[d for d in data["drift"] if d["owner"] == code],
                agencies=[a for a in data["agencies"] if a["code"] == code], unattributed=0)


def owner_codes(data):
    """The agencies that own at least one name, the ones a report is made for."""
    return [a["code"] for a in data["agencies"] if a["code"]]
