"""The DNS part of the registry as RRsets, and which RRsets the registry owns.

Ownership decides what the toolkit may change or delete in the zone:

* the RRsets of the managed types (A, AAAA, CNAME, MX, TXT, SRV, CAA) at or below a
  subdomain that the registry lists, whatever its status;
* at the main domain itself and at the names its ``apex.records`` use, the RRsets of
  the managed types;
* with a ``mail:`` block, the names it generates: ``_dmarc``, the SRV names of every mail
  service it knows (``_submission._tcp``, ...) and every name under ``_domainkey`` (a key
  rotated out of ``dkim.selectors`` is removed, not left behind) when the caller passes the
  DKIM keys;
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


# The main domain's mail records (domain.mail): what each field renders.
MAIL_SERVICES = {"submission": 587, "submissions": 465, "imap": 143, "imaps": 993, "pop3": 110,
                 "pop3s": 995}  # RFC 6186, RFC 8314
SPF_ALL = {"fail": "-all", "softfail": "~all"}
DKIM_LABEL = "_domainkey"


def mail_selectors(domain_doc):
    """The DKIM selectors domain.mail names (a list, maybe empty)."""
    mail = (domain_doc.get("domain") or {}).get("mail") or {}
    return list((mail.get("dkim") or {}).get("selectors") or [])


def mail_names(domain):
    """Names (relative to the main domain) a ``domain.mail`` block publishes or owns, for
    whoever attributes the zone's names to the registry's entries (the reports)."""
    mail = domain.get("mail") if isinstance(domain, dict) else None
    if not isinstance(mail, dict):
        return []
    names = ["_dmarc"] + ["_%s._tcp" % service for service in MAIL_SERVICES]
    selectors = (mail.get("dkim") or {}).get("selectors") if isinstance(mail.get("dkim"), dict) else None
    return names + ["%s.%s" % (s, DKIM_LABEL) for s in selectors or [] if isinstance(s, str)]


def spf_text(spf):
    return " ".join(["v=spf1"] + [str(m) for m in spf.get("mechanisms") or []] + [SPF_ALL[spf["all"]]])


def dmarc_text(dmarc):
    """The DMARC record: v and p first (RFC 7489 section 6.4), then the optional tags."""
    tags = [("v", "DMARC1"), ("p", dmarc["policy"])]
    if dmarc.get("subdomain_policy"):
        tags.append(("sp", dmarc["subdomain_policy"]))
    if dmarc.get("percent") not in (None, 100):
        tags.append(("pct", str(int(dmarc["percent"]))))
    alignment = dmarc.get("alignment") or {}
    for tag, key in (("adkim", "dkim"), ("aspf", "spf")):
        if alignment.get(key):
            tags.append((tag, alignment[key][0]))  # r or s
    for tag, key in (("rua", "reports"), ("ruf", "failure_reports")):
        if dmarc.get(key):
            tags.append((tag, ",".join("mailto:%s" % address for address in dmarc[key])))
    return "; ".join("%s=%s" % tag for tag in tags)


def mail_records(mail, dkim_records=None):
    """Registry-shaped records (name relative to the main domain) of a ``domain.mail`` block.

    Hosts are relative to the main domain (the schema allows no other form), as make_rdata
    reads them with the zone as origin.

    ``dkim_records`` maps a selector to the text of its key record (dkim.key_record); a
    selector without one is left out (the module refuses that case before it gets here).
    """
    out = [{"type": "MX", "priority": int(ex["priority"]), "value": str(ex["host"])}
           for ex in mail.get("exchangers") or []]
    if mail.get("spf"):
        out.append({"type": "TXT", "value": spf_text(mail["spf"])})
    for selector in (mail.get("dkim") or {}).get("selectors") or []:
        if dkim_records and selector in dkim_records:
            out.append({"name": "%s.%s" % (selector, DKIM_LABEL), "type": "TXT",
                        "value": dkim_records[selector]})
    if mail.get("dmarc"):
        out.append({"name": "_dmarc", "type": "TXT", "value": dmarc_text(mail["dmarc"])})
    for service, host in sorted((mail.get("services") or {}).items()):
        out.append({"name": "_%s._tcp" % service, "type": "SRV", "priority": 0, "weight": 1,
                    "port": MAIL_SERVICES[service], "value": str(host)})
    return out


class Ownership:
    """Decides whether the registry owns an RRset of the zone (see the module doc)."""

    def __init__(self, zone, subdomain_labels, apex_names, unmanaged_labels, subtrees=()):
        self.zone = zone
        self.subdomains = {dns.name.Name((label.lower(),)) for label in subdomain_labels}
        self.apex_names = set(apex_names) | {dns.name.empty}
        self.unmanaged = {label.lower().encode() for label in unmanaged_labels}
        # Labels directly under the main domain whose whole subtree is owned (_domainkey).
        self.subtrees = {label.lower().encode() for label in subtrees}

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
        if len(labels) >= 2 and labels[-1].lower() in self.subtrees:
            return True
        return bool(labels) and dns.name.Name(labels[-1:]) in self.subdomains


def desired_state(domain_doc, zone=None, unmanaged_labels=("_acme-challenge",), dkim_records=None):
    """(zone name, {(name, rdtype): RRset}, Ownership) from the parsed domain.yml.

    ``dkim_records`` ({selector: key record text}, from the inventory) publishes the DKIM
    keys of ``domain.mail``; without it (None: a report, a benchmark) no DKIM record is
    generated and the ``_domainkey`` names are not owned, so nothing there is deleted.
    """
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
    subtrees = ()
    mail = domain.get("mail")
    if mail:
        mail_ttl = int(mail.get("ttl") or default_ttl)
        # Every name the block can generate is owned, so a service or policy taken out of
        # the block is deleted from the zone, not left behind.
        apex_names.add(dns.name.from_text("_dmarc", origin=None))
        apex_names.update(dns.name.from_text("_%s._tcp" % s, origin=None) for s in MAIL_SERVICES)
        if dkim_records is not None:
            subtrees = (DKIM_LABEL,)
        for record in mail_records(mail, dkim_records):
            put(absolute(record.get("name"), zone), record, mail_ttl)
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
    owner = Ownership(zone, labels, apex_names, unmanaged_labels, subtrees)
    return zone, want, owner
