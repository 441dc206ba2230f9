"""The DNS part of the registry as RRsets, and which RRsets the registry owns.

Ownership decides what the toolkit may change or delete in the zone:

* the RRsets of the managed types (A, AAAA, CNAME, MX, TXT, SRV, CAA) at or below a
  subdomain that the registry lists, whatever its status;
* at the main domain itself and at the names its ``apex.records`` use, the RRsets of
  the managed types;
* never a name with a label in ``unmanaged_labels`` (``_acme-challenge`` by default:
  certificate robots write there), never SOA, NS or DNSSEC records, never a name the
  registry does not mention (someone else's).

A subdomain removed from the registry is no longer owned and is left alone: the
lifecycle removes names by ``status: deactivated`` first (D7).
"""
try:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.ANY.CAA
    import dns.rdtypes.ANY.TXT

    MANAGED_TYPES = frozenset(dns.rdatatype.from_text(t) for t in
                              ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"))
    IN = dns.rdataclass.IN
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    MANAGED_TYPES = frozenset()
    IN = None
DEFAULT_TTL = 3600


class RRset:
    """The records of one (name, type) with one TTL."""
    __slots__ = ("name", "rdtype", "ttl", "rdatas")

    def __init__(self, name, rdtype, ttl, rdatas):
        self.name, self.rdtype, self.ttl, self.rdatas = name, rdtype, ttl, frozenset(rdatas)

    def __eq__(self, other):
        return (self.name, self.rdtype, self.ttl, self.rdatas) == (
            other.name, other.rdtype, other.ttl, other.rdatas)

    def lines(self):
        """Zone-file lines, sorted, for plans and diffs."""
        owner = self.name.to_text()
        kind = dns.rdatatype.to_text(self.rdtype)
        return sorted("%s %d IN %s %s" % (owner, self.ttl, kind, rd.to_text()) for rd in self.rdatas)


def _txt_chunks(text):
    # A TXT string holds at most 255 bytes: long values (DKIM keys) are split.
    data = text.encode("utf-8")
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


def make_rdata(record, origin):
    """The dnspython rdata of one registry record."""
    kind = str(record["type"]).upper()
    value = str(record.get("value", ""))
    rdtype = dns.rdatatype.from_text(kind)
    if kind == "TXT":
        return dns.rdtypes.ANY.TXT.TXT(IN, rdtype, _txt_chunks(value))
    if kind == "CAA":
        return dns.rdtypes.ANY.CAA.CAA(IN, rdtype, int(record.get("flags", 0)),
                                       str(record["tag"]).encode(), value.encode())
    if kind == "MX":
        text = "%d %s" % (int(record["priority"]), value)
    elif kind == "SRV":
        text = "%d %d %d %s" % (int(record["priority"]), int(record["weight"]),
                                int(record["port"]), value)
    else:
        text = value
    return dns.rdata.from_text(IN, rdtype, text, origin=origin, relativize=False)


class Ownership:
    """Decides whether the registry owns an RRset of the zone (see the module doc)."""

    def __init__(self, zone, subdomain_labels, apex_names, unmanaged_labels):
        self.zone = zone
        self.subdomains = {dns.name.Name((label.lower(),)) for label in subdomain_labels}
        self.apex_names = set(apex_names) | {dns.name.empty}
        self.unmanaged = {label.lower().encode() for label in unmanaged_labels}

    def owns(self, name, rdtype):
        if rdtype not in MANAGED_TYPES:
            return False
        rel = name.relativize(self.zone) if name.is_subdomain(self.zone) else None
        if rel is None:
            return False
        labels = rel.labels
        if any(label.lower() in self.unmanaged for label in labels):
            return False
        if rel in self.apex_names:
            return True
        return bool(labels) and dns.name.Name(labels[-1:]) in self.subdomains


def desired_state(domain_doc, zone=None, unmanaged_labels=("_acme-challenge",)):
    """(zone name, {(name, rdtype): RRset}, Ownership) from the parsed domain.yml."""
    domain = domain_doc["domain"]
    zone = dns.name.from_text(zone or domain["name"])
    default_ttl = int(domain.get("default_ttl") or DEFAULT_TTL)
    suspension = {}
    for pool in domain_doc.get("pools") or []:
        for family, address in (pool.get("suspension_target") or {}).items():
            suspension.setdefault(family, address)
    want = {}

    def put(name, record, ttl):
        rd = make_rdata(record, zone)
        key = (name, rd.rdtype)
        ttl = int(record.get("ttl") or ttl)
        old = want.get(key)
        # An RRset has one TTL: the smallest its records ask for.
        want[key] = RRset(name, rd.rdtype, min(ttl, old.ttl) if old else ttl,
                          (old.rdatas if old else frozenset()) | {rd})

    def absolute(rel, base):
        rel = str(rel or "@")
        return base if rel == "@" else dns.name.from_text(rel, origin=base)

    apex_names = set()
    for record in (domain.get("apex") or {}).get("records") or []:
        name = absolute(record.get("name"), zone)
        apex_names.add(name.relativize(zone))
        put(name, record, default_ttl)
    labels = []
    for sub in domain_doc.get("subdomains") or []:
        labels.append(sub["name"])
        base = dns.name.from_text(sub["name"], origin=zone)
        ttl = int(sub.get("ttl") or default_ttl)
        status = sub.get("status")
        if status == "active":
            for record in sub.get("records") or []:
                put(absolute(record.get("name"), base), record, ttl)
        elif status == "suspended":
            # D7: the name shows the suspension page; its records stay in the
            # registry and come back unchanged when it is active again.
            for family, address in sorted(suspension.items()):
                put(base, {"type": family, "value": address}, ttl)
    owner = Ownership(zone, labels, apex_names, unmanaged_labels)
    return zone, want, owner
