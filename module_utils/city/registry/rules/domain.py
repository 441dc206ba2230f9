"""Rules over the main domain, its subdomains and the central address pools (D1-D8).

Each problem is reported once, where it is: a value the JSON schema already rejects (its
type, or a pattern the schema holds, repeated here as ``*_SCHEMA`` and kept equal to the
schema by a test) is left to the schema, and a broken definition (a pool's network, the
main domain's name, a record's name) is reported by its own rule and never again by the
rules that use it, which stay silent about what they can no longer tell.
"""
import ipaddress
import re
import unicodedata

from ansible.module_utils.city.registry import renewal
from ansible.module_utils.city.registry.context import parse_date
from ansible.module_utils.city.registry.findings import WARNING, shown
from ansible.module_utils.city.registry.ipam import Pool, parse_ranges
from ansible.module_utils.city.registry.rules.base import Problem, rule
from ansible.module_utils.city.registry.rules.common import defined, undefined

F = "domain.yml"
HOST_TYPES = ("CNAME", "MX", "SRV")

# Patterns of domain.schema.json (tests/registry/test_domain_rules.py keeps them equal): a
# value that does not match is the schema's error, and the rules here skip it.
DOMAIN_NAME_SCHEMA = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
NAMESERVER_SCHEMA = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.$"
RECORD_NAME_SCHEMA = (r"^(@|_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
                      r"(\._?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$")
HOST_SCHEMA = (r"^(\.|(_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
               r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?)$")
_DOMAIN_NAME = re.compile(DOMAIN_NAME_SCHEMA[:-1] + r"\Z")
_NAMESERVER = re.compile(NAMESERVER_SCHEMA[:-1] + r"\Z")
_RECORD_NAME = re.compile(RECORD_NAME_SCHEMA[:-1] + r"\Z")
_HOST = re.compile(HOST_SCHEMA[:-1] + r"\Z")
# A subdomain: one LDH label (D2). The schema leaves it to D1-MAIN-DOMAIN (a dot) and
# D2-LABEL (anything else), whose messages say what to write instead.
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_NOT_LDH = re.compile(r"[^a-z0-9-]")


def _memo(ctx):
    """Indexes over domain.yml shared by the rules of one run. Reading domain.yml first
    keeps the context's account of which files a rule used."""
    ctx.data(F)
    return ctx.__dict__.setdefault("_domain_rules", {})


def _main_domain(ctx):
    """The main domain, or None when it is missing or not a domain name (the schema's
    error): the rules that compare names with it then say nothing."""
    name = ctx.section(F, "domain").get("name")
    if isinstance(name, str) and len(name) <= 253 and _DOMAIN_NAME.match(name):
        return name
    return None


def _subdomains(ctx):
    return ctx.entries(F, "subdomains")


def _label(sub):
    """The subdomain's label if it is one well-formed label, else None."""
    name = sub.get("name") if sub is not None else None
    return name if isinstance(name, str) and LABEL.match(name) else None


class _Record:
    """One record with what the rules need of it."""
    __slots__ = ("path", "sub", "record", "type", "value", "owner", "entry", "holder")

    def __init__(self, path, sub, record, entry):
        self.path, self.sub, self.record, self.entry = path, sub, record, entry
        # The entry that answers for the record's name: its own, or for an apex record
        # inside a subdomain's name (D3-LISTED's error), that subdomain.
        self.holder = entry
        self.type = record.get("type")
        value = record.get("value")
        self.value = value if isinstance(value, str) else None
        # The owner name relative to the main domain ("" for the apex itself), lowercase;
        # None when the record's name, or its subdomain's, is not well formed.
        name = record.get("name", "@")
        base = "" if sub is None else _label(sub)
        if base is None or not isinstance(name, str) or not _RECORD_NAME.match(name):
            self.owner = None
        elif name == "@":
            self.owner = base
        else:
            self.owner = name.lower() + ("." + base if base else "")

    @property
    def where(self):
        """The record, as a person finds it: 'the A record of dinkes', 'of www.dinkes', 'of
        the main domain'."""
        if self.owner is None:
            return "the %s record" % shown(self.type)
        return "the %s record of %s" % (self.type, self.owner or "the main domain")

    @property
    def excepted(self):
        return self.sub is not None and bool(self.sub.get("exception"))

    @property
    def status(self):
        return "active" if self.sub is None else self.sub.get("status")


def _records(ctx):
    """Every record of the apex and the subdomains, in file order (built once per run)."""
    memo = _memo(ctx)
    if "records" not in memo:
        out = []
        apex = ctx.section(F, "domain").get("apex")
        records = apex.get("records") if isinstance(apex, dict) else None
        for index, record in enumerate(records if isinstance(records, list) else ()):
            if isinstance(record, dict):
                out.append(_Record(("domain", "apex", "records", index), None, record, "apex"))
        labels = {}
        for sindex, sub in _subdomains(ctx):
            labels.setdefault(_label(sub), sindex)
            records = sub.get("records")
            for rindex, record in enumerate(records if isinstance(records, list) else ()):
                if isinstance(record, dict):
                    out.append(_Record(("subdomains", sindex, "records", rindex), sub, record,
                                       sindex))
        for rec in out:
            if rec.sub is None and rec.owner:
                rec.holder = labels.get(rec.owner.rsplit(".", 1)[-1], "apex")
        memo["records"] = out
    return memo["records"]


def _line(ctx, path):
    loaded = ctx.files.get(F)
    return loaded.locate(path)[0] if loaded is not None else 0


def _a(word):
    """The article of a record type spelled out: an A, an MX, an SRV, a TXT, a CAA."""
    return "an" if word[:1] and word[:1] in "AEFHILMNORSX" else "a"


def _fqdn(rel, domain):
    if domain is None:
        return rel or "the main domain"
    return "%s.%s" % (rel, domain) if rel else domain


# --- addresses -------------------------------------------------------------------------

FAMILY = {"A": 4, "AAAA": 6}


def _address(record):
    """The ipaddress of an A/AAAA record of the right family without a zone index, else
    None (the schema's format, or DNS-VALUE, reports it)."""
    version = FAMILY.get(record.type)
    if version is None or record.value is None or "%" in record.value:
        return None
    try:
        address = ipaddress.ip_address(record.value)
    except ValueError:
        return None
    return address if address.version == version else None


class _PoolView:
    """A pool as written, read item by item: each broken item is one problem at its line,
    and the pool is still known as far as its items can be read (a CIDR with host bits is
    taken as the network it names), so no rule that uses it reports its consequences."""

    def __init__(self, index, entry):
        self.index, self.entry = index, entry
        self.name = shown(entry.get("name"))
        self.problems = []
        self.complete = {"networks": isinstance(entry.get("networks"), list),
                         "reserved": True, "shared": True}
        nets = []
        for position, item in enumerate(self._items("networks")):
            net = self._network(("pools", index, "networks", position), item, "network")
            if net is None:
                self.complete["networks"] = False
            else:
                nets.append((net, position, item))
        self._overlaps(nets)
        self.networks = [net for net, unused_position, unused_item in nets]
        self.reserved = self._ranges("reserved")
        self.shared = self._ranges("shared")
        collapsed = [n for version in (4, 6) for n in ipaddress.collapse_addresses(
            [net for net in self.networks if net.version == version])]
        self.pool = Pool(collapsed, reserved=[t for t, unused_position in self.reserved],
                         shared=[t for t, unused_position in self.shared]) if collapsed else None

    def _items(self, key):
        items = self.entry.get(key)
        return items if isinstance(items, list) else ()

    def _network(self, path, item, what):
        """The network of a CIDR item (host bits forgiven once reported), or None."""
        if not isinstance(item, str):
            return None  # the schema's type error
        text = item.strip()
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            net = None
        if net is None or "/" not in text:
            self.problems.append(Problem(
                F, path, "%s %s of pool %s is not a network: expected an address, a slash and a "
                "prefix length, such as 192.0.2.0/24 or 2001:db8::/48" % (what, shown(item),
                                                                          self.name),
                "write the network in CIDR notation%s" % (
                    ", e.g. %s for the address alone" % net if net is not None else "")))
            return None
        if net.network_address != ipaddress.ip_interface(text).ip:
            self.problems.append(Problem(
                F, path, "%s %s of pool %s has host bits set: a /%d network starts at %s"
                % (what, shown(item), self.name, net.prefixlen, net.network_address),
                "write %s (or the prefix length you meant)" % net))
        return net

    def _overlaps(self, nets):
        """One problem per network that overlaps an earlier-listed one of the pool."""
        ordered = sorted(nets, key=lambda n: (n[0].version, int(n[0].network_address), n[1]))
        widest = {}  # version -> the network reaching furthest so far
        for current in ordered:
            net, position, item = current
            prev = widest.get(net.version)
            if prev is not None and int(net.network_address) <= int(prev[0].broadcast_address) \
                    and item != prev[2]:  # the same text twice is the schema's uniqueItems
                earlier, later = sorted((prev, current), key=lambda n: n[1])
                self.problems.append(Problem(
                    F, ("pools", self.index, "networks", later[1]),
                    "networks %s and %s of pool %s overlap: the networks of a pool are distinct"
                    % (earlier[0], later[0], self.name),
                    "remove %s, or give the networks prefixes that do not overlap" % later[0]))
            if prev is None or int(net.broadcast_address) > int(prev[0].broadcast_address):
                widest[net.version] = current

    def _ranges(self, key):
        """(text, (first, last, version)) of the readable items of ``reserved`` or ``shared``."""
        out = []
        for position, item in enumerate(self._items(key)):
            path = ("pools", self.index, key, position)
            text = item.strip() if isinstance(item, str) else None
            if text is not None and "/" in text:
                net = self._network(path, item, "%s entry" % key)
                if net is not None:
                    out.append((str(net), (int(net.network_address), int(net.broadcast_address),
                                           net.version)))
                    continue
            elif text is not None:
                try:
                    out.append((text, parse_ranges([text])[0]))
                    continue
                except ValueError:
                    self.problems.append(Problem(
                        F, path, "%s entry %s of pool %s is not an address, a network or a "
                        "range: expected e.g. 192.0.2.255, 192.0.2.0/29 or "
                        "192.0.2.1-192.0.2.7" % (key, shown(item), self.name),
                        "write one address, CIDR network or range a-b"))
            self.complete[key] = False
        return out

    def contains(self, address):
        return self.pool is not None and self.pool.contains(address)

    def reserved_by(self, address):
        """The reserved entry that holds ``address``, or None."""
        if self.pool is None or not self.pool.is_reserved(address):
            return None
        value = int(address)
        return next((text for text, (first, last, version) in self.reserved
                     if version == address.version and first <= value <= last), None)

    def is_shared(self, address):
        if self.pool is not None:
            return self.pool.is_shared(address)
        value = int(address)
        return any(version == address.version and first <= value <= last
                   for unused_range, (first, last, version) in self.shared)

    def describe(self, limit=4):
        nets = [str(n) for n in self.networks]
        more = len(nets) - limit
        return "%s: %s%s" % (self.name, ", ".join(nets[:limit]),
                             " and %d more" % more if more > 0 else "")


def _pools(ctx):
    memo = _memo(ctx)
    if "pools" not in memo:
        memo["pools"] = [_PoolView(index, entry) for index, entry in ctx.entries(F, "pools")]
    return memo["pools"]


# --- decrees (D3, D5) -------------------------------------------------------------------

ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
FIRST_DECREE_YEAR = 1990
DECREE_MAX_LENGTH = 300
_DECREE = re.compile(r"Keputusan (?P<issuer>\S.*?) Nomor:? (?P<number>\S+)(?: tentang \S.*)?\Z")
# <classification code>/<sequence number, with its unit>[/<more of the unit>]/<month>/<year>,
# e.g. 500.05/Kep.215-Diskominfostandi/V/2023 or 060/Kep.88-Setda.Tlm/III/2025.
_NUMBER = re.compile(r"(?P<code>[0-9]{3}(?:\.[0-9]+)*)/(?P<seq>(?:[A-Za-z]+\.)?(?P<n>[0-9]+)"
                     r"(?:[-.][A-Za-z0-9][A-Za-z0-9.-]*)?)(?:/[A-Za-z][A-Za-z0-9.-]*)*"
                     r"/(?P<month>[A-Za-z]+)/(?P<year>[0-9]{4})\Z")
NUMBER_FORM = "<classification>/<number>/<month in roman numerals>/<year>"
ISSUERS = {
    # who decides, the words that name them, and how a city's short name (city.yml
    # city.short_name, e.g. "Kota Bekasi") completes them
    "mayor": ("the mayor", ("Wali Kota", "Walikota")),
    "sekda": ("the Sekretaris Daerah", ("Sekretaris Daerah",)),
}


def _issuer_names(ctx, who):
    """The accepted spellings of the issuer (casefolded), and the one to show."""
    short = ctx.section("city.yml", "city").get("short_name")
    short = " ".join(short.split()) if isinstance(short, str) else ""
    words = ISSUERS[who][1]
    if who == "mayor":
        place = short[5:] if short.lower().startswith("kota ") else ""
        names = ["%s %s" % (w, place) for w in words] if place else []
    else:
        names = ["%s %s" % (w, short) for w in words] if short else []
    shown_name = names[0] if names else "%s <%s>" % (words[0], "city")
    return {n.casefold() for n in names}, shown_name


def decree_problem(ctx, text, who):
    """Why ``text`` is not the reference of a decree of ``who`` ("mayor" or "sekda") in the
    official form, or None. The form: ``Keputusan <issuer> Nomor <classification>/<number>
    /<month in roman numerals>/<year>``, optionally followed by `` tentang <title>``."""
    names, issuer = _issuer_names(ctx, who)
    form = "'Keputusan %s Nomor %s'" % (issuer, NUMBER_FORM)
    if not isinstance(text, str):
        return None  # the schema's type error
    if len(text) > DECREE_MAX_LENGTH:
        return "is %d characters long, not a decree reference: expected %s" % (len(text), form)
    match = _DECREE.match(text)
    if match is None:
        return "is not a decree reference: expected %s" % form
    said = " ".join(match.group("issuer").split())
    folded = said.casefold()
    if not any(folded == w.casefold() or folded.startswith(w.casefold() + " ")
               for w in ISSUERS[who][1]):
        return "is a decision of %s, not of %s: expected %s" % (shown(said), ISSUERS[who][0],
                                                                form)
    if names and folded not in names:
        return "names the issuer %s, not %s: expected %s" % (shown(said), issuer, form)
    if not names and folded in (w.casefold() for w in ISSUERS[who][1]):
        return "names the issuer %s without the city: expected %s" % (shown(said), form)
    number = _NUMBER.match(match.group("number"))
    if number is None:
        return "has the number %s, not %s: expected %s" % (
            shown(match.group("number")), NUMBER_FORM, form)
    if int(number.group("n")) == 0:
        return "has the sequence number %s, a placeholder: a decree's number counts from 1" % (
            shown(number.group("seq")))
    month = number.group("month")
    if month not in ROMAN_MONTHS:
        return "has %s for the month, not a month in roman numerals (I to XII)" % shown(month)
    year, today = int(number.group("year")), ctx.today
    if year < FIRST_DECREE_YEAR:
        return "is dated %d, before %d: not a year of a decree in force" % (year, FIRST_DECREE_YEAR)
    if (year, ROMAN_MONTHS.index(month) + 1) > (today.year, today.month):
        return "is dated %s/%d, after today (%s): a decree is referenced once it is signed" % (
            month, year, today.isoformat())
    return None


def _example_decree(ctx, who):
    """A decree of the registry in the official form, to show as an example."""
    memo = _memo(ctx)
    key = "example-decree-" + who
    if key not in memo:
        memo[key] = None
        if who == "mayor":
            candidates = (sub.get("decree") for unused_index, sub in _subdomains(ctx))
        else:
            candidates = (ctx.section(F, "domain").get("officer_decree"),)
        for text in candidates:
            if isinstance(text, str) and decree_problem(ctx, text, who) is None:
                memo[key] = text
                break
    return memo[key]


# --- names under the main domain (D1, D2, D3) -------------------------------------------

@rule("D1-MAIN-DOMAIN", "D1", "Name servers are names under the main domain; every subdomain "
      "sits directly under it")
def main_domain(ctx):
    domain = _main_domain(ctx)
    if domain is None:
        return
    servers = ctx.section(F, "domain").get("nameservers")
    for index, ns in enumerate(servers if isinstance(servers, list) else ()):
        if not isinstance(ns, str) or not _NAMESERVER.match(ns):
            continue  # the schema's error
        if not ns[:-1].endswith("." + domain):
            yield Problem(F, ("domain", "nameservers", index),
                          "name server %s is not a name under %s: the domain is served by the "
                          "city's own name servers" % (shown(ns), domain),
                          "name a server of the city (e.g. ns1.%s.), with its address in the "
                          "subdomain of that name" % domain)
    for sindex, sub in _subdomains(ctx):
        label = sub.get("name")
        if isinstance(label, str) and "." in label:
            parts = label.rsplit(".", 1)
            yield Problem(F, ("subdomains", sindex, "name"),
                          "subdomain %s is not one label: a subdomain sits directly under %s"
                          % (shown(label), domain),
                          "name the subdomain %s and give the deeper name to its records "
                          "(name: %s)" % (shown(parts[1]), shown(parts[0]))
                          if parts[1] and parts[0] else "write one label, e.g. the owner's acronym")


def _owner_names(ctx, code):
    """The labels an agency's own subdomain may have (D2): its abbreviation or acronym (and
    mail name, code) and its full official name, lowercase, without spaces or punctuation."""
    memo = _memo(ctx).setdefault("owner-names", {})
    if code not in memo:
        agency = ctx.agencies.get(code) or {}
        names = {ctx.mail_name(code)}
        for field in ("acronym", "code", "name"):
            value = agency.get(field)
            if isinstance(value, str):
                ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore")
                names.add(_NOT_ALNUM.sub("", ascii_text.decode("ascii").lower()))
        memo[code] = {n for n in names if n and len(n) <= 63}
    return memo[code]


@rule("D2-LABEL", "D2", "A subdomain is one lowercase LDH label; an agency's is its "
      "abbreviation, acronym or full official name")
def subdomain_label(ctx):
    for sindex, sub in _subdomains(ctx):
        label = sub.get("name")
        if not isinstance(label, str) or "." in label:
            continue  # the schema's type error, or D1-MAIN-DOMAIN's
        path = ("subdomains", sindex, "name")
        if not LABEL.match(label):
            better = _NOT_LDH.sub("", label.lower()).strip("-")[:63].strip("-")
            yield Problem(F, path, "subdomain %s is not a DNS label: expected 1 to 63 lowercase "
                          "letters, digits and inner hyphens" % shown(label),
                          "write it as %s" % shown(better) if better and better != label
                          else "write a label such as the owner's acronym")
            continue
        code = sub.get("owner")
        if sub.get("kind") != "agency" or code not in ctx.agencies:
            continue  # an undefined owner is D2-OWNER's
        allowed = _owner_names(ctx, code)
        if label in allowed or label.replace("-", "") in allowed:
            continue
        agency = ctx.agencies[code]
        yield Problem(F, path, "subdomain %s of kind agency is not a name of %s (%s): expected "
                      "its abbreviation or acronym, or its full official name without spaces "
                      "or punctuation" % (shown(label), code, shown(agency.get("name"))),
                      "name it %s, or register it as kind: application if it serves an "
                      "application of the agency" % " or ".join(
                          sorted(allowed, key=lambda n: (len(n), n))))


@rule("D2-OWNER", "D2", "A subdomain belongs to a registered agency; its officer is a "
      "registered person")
def subdomain_owner(ctx):
    agencies, people = defined(ctx, "agencies"), defined(ctx, "people")
    for sindex, sub in _subdomains(ctx):
        what = "subdomain %s" % shown(sub.get("name"))
        p = undefined(agencies, F, ("subdomains", sindex, "owner"), sub.get("owner"),
                      "the owner of " + what)
        if p:
            yield p
        p = undefined(people, F, ("subdomains", sindex, "officer"), sub.get("officer"),
                      "the officer of " + what)
        if p:
            yield p


@rule("D3-DECREE", "D3", "Each subdomain names the Keputusan Wali Kota that lists it, in the "
      "official form (issuer, Nomor, classification/number/month/year)")
def subdomain_decrees(ctx):
    for sindex, sub in _subdomains(ctx):
        text = sub.get("decree")
        why = decree_problem(ctx, text, "mayor")
        if why is None:
            continue
        example = _example_decree(ctx, "mayor")
        yield Problem(F, ("subdomains", sindex, "decree"),
                      "the decree of subdomain %s, %s, %s" % (shown(sub.get("name")),
                                                              shown(text), why),
                      "write the reference of the mayor's decree whose list holds this "
                      "subdomain%s; a name that no signed decree lists yet is not registered"
                      % (", as the other subdomains do: %s" % shown(example, 80)
                         if example else ""))


def _alias_of_apex(record, domain):
    """True for a CNAME to the main domain itself (www): another name of the main domain."""
    return record.type == "CNAME" and _target(record, domain) == ""


@rule("D3-LISTED", "D3", "A name under the main domain is a subdomain listed by decree: apex "
      "records define only the main domain, its aliases and service names")
def names_listed(ctx):
    domain = _main_domain(ctx)
    labels = {}
    for sindex, sub in _subdomains(ctx):
        label = _label(sub)
        if label is not None:
            labels.setdefault(label, sindex)
    reported = set()
    for rec in _records(ctx):
        if rec.sub is not None or not rec.owner or rec.type == "SRV":
            continue  # an SRV's name is _service._proto, or DNS-VALUE's error
        top = rec.owner.rsplit(".", 1)[-1]
        if top.startswith("_"):
            continue  # a service name (_dmarc, _submission._tcp): no host of its own
        if top in labels:
            sindex = labels[top]
            yield Problem(F, ("subdomains", sindex, "name"),
                          "subdomain %s is also defined at the apex: the apex record %s "
                          "(line %d) makes %s; a name is defined once, in its subdomain"
                          % (top, shown(rec.record.get("name")), _line(ctx, rec.path),
                             _fqdn(rec.owner, domain)),
                          "move that record into the records of subdomain %s (name: %s) and "
                          "remove it from domain.apex.records" % (
                              top, "@" if rec.owner == top else rec.owner[:-len(top) - 1]))
        elif domain is not None and not _alias_of_apex(rec, domain) and rec.owner not in reported:
            reported.add(rec.owner)
            yield Problem(F, rec.path + ("name",),
                          "the apex record %s adds %s, a name that no decree lists: a name "
                          "under %s is a subdomain recorded with the decree that lists it "
                          "(only an alias of the main domain, a CNAME to %s., needs none)"
                          % (shown(rec.record.get("name")), _fqdn(rec.owner, domain), domain,
                             domain),
                          "register %s under subdomains with its owner, kind and decree, and "
                          "move the record there" % shown(top))


# --- D4, D5 -----------------------------------------------------------------------------

@rule("D4-EXCEPTION", "D4", "Exceptions are approved by the communication agency")
def exception_approval(ctx):
    comms = ctx.roles.get("communication_agency")
    people = defined(ctx, "people")
    for sindex, sub in _subdomains(ctx):
        exc = sub.get("exception")
        if not isinstance(exc, dict):
            continue
        path = ("subdomains", sindex, "exception", "approved_by")
        who = exc.get("approved_by")
        what = "the approver of the exception of subdomain %s" % shown(sub.get("name"))
        p = undefined(people, F, path, who, what)
        if p:
            yield p
        elif who in ctx.people and isinstance(comms, str) and comms in ctx.agencies \
                and not ctx.person_in_agency(who, comms):
            person = ctx.people[who]
            yield Problem(F, path, "%s is %s (%s), of %s, not of %s, the communication agency: "
                          "an exception is coordinated with the communication agency"
                          % (what, shown(person.get("name")), who, shown(person.get("agency")),
                             comms),
                          "record the person of %s who approved the exception in "
                          "approved_by" % comms)


@rule("D5-OFFICER", "D5", "The domain officer (Pejabat Nama Domain) is a registered, active "
      "person appointed by a decree of the Sekretaris Daerah")
def domain_officer(ctx):
    section = ctx.section(F, "domain")
    who = section.get("officer")
    p = undefined(defined(ctx, "people"), F, ("domain", "officer"), who, "the domain officer")
    if p:
        yield p
    elif isinstance(who, str) and who in ctx.people:
        status = ctx.people[who].get("status")
        if status != "active":
            yield Problem(F, ("domain", "officer"), "the domain officer %s (%s) is %s in "
                          "people.yml, not active" % (shown(ctx.people[who].get("name")), who,
                                                      shown(status)),
                          "record the officer the Sekretaris Daerah appoints next in "
                          "domain.officer, and the decree in domain.officer_decree",
                          severity=WARNING)
    text = section.get("officer_decree")
    why = decree_problem(ctx, text, "sekda")
    if why is not None:
        example = _example_decree(ctx, "sekda")
        yield Problem(F, ("domain", "officer_decree"),
                      "the decree appointing the domain officer, %s, %s" % (shown(text), why),
                      "write the reference of the Sekretaris Daerah's decision that appoints "
                      "the officer%s" % (", e.g. %s" % shown(example, 80) if example else ""))


# --- D6 ---------------------------------------------------------------------------------

@rule("D6-RENEWAL", "D6", "The main domain is renewed within its window: a warning before the "
      "expiry and inside the window, an error once the window has passed")
def renewal_window(ctx):
    expires = parse_date(ctx.section(F, "domain").get("expires"))
    if expires is None:
        return  # the schema's error
    window, ahead = renewal.policy_days(ctx.policy)
    status = renewal.renewal_status(expires, ctx.today, window, ahead)
    days, name = status["days_left"], _main_domain(ctx) or "the main domain"
    path = ("domain", "expires")
    if status["state"] == renewal.WARN:
        yield Problem(F, path, "%s expires on %s, in %d day%s" % (
            name, expires, days, "" if days == 1 else "s"),
            "start the renewal with the registrar now (it needs the mayor's approval), then "
            "record the new expiry in domain.expires", severity=WARNING)
    elif status["state"] == renewal.WINDOW:
        left = status["window_days_left"]
        yield Problem(F, path, "%s expired on %s: it can be renewed within %d days of the "
                      "expiry, until %s (%s)" % (
                          name, expires, window, status["window_ends"],
                          "today is the last day" if left == 0 else "%d more day%s" % (
                              left, "" if left == 1 else "s")),
                      "renew it with the registrar now, then record the new expiry in "
                      "domain.expires", severity=WARNING)
    elif status["state"] == renewal.OVERDUE:
        late = (ctx.today - status["window_ends"]).days
        yield Problem(F, path, "%s expired on %s and its %d-day renewal window ended on %s, "
                      "%d day%s ago: the renewal is overdue" % (
                          name, expires, window, status["window_ends"], late,
                          "" if late == 1 else "s"),
                      "renew the domain with the registrar (with the mayor's approval) and "
                      "record the new expiry in domain.expires")
    elif days > renewal.FAR_AHEAD_DAYS:
        yield Problem(F, path, "%s expires on %s, %d days ahead: a registration runs a year, "
                      "so an expiry more than %d days ahead is a typing error" % (
                          name, expires, days, renewal.FAR_AHEAD_DAYS),
                      "write the expiry date the registrar shows for the domain")


# --- D7 ---------------------------------------------------------------------------------

@rule("D7-SUSPENSION", "D7", "A suspended name keeps its records, to come back unchanged, "
      "and has a suspension target to point at")
def suspension(ctx):
    suspended = []
    for sindex, sub in _subdomains(ctx):
        if sub.get("status") != "suspended":
            continue
        suspended.append((sindex, sub))
        records = sub.get("records")
        if isinstance(records, list) and not records:
            yield Problem(F, ("subdomains", sindex, "records"),
                          "subdomain %s is suspended and has no records: a suspended name "
                          "keeps its records so that it comes back unchanged"
                          % shown(sub.get("name")),
                          "restore the records it had when it was suspended (git log -p "
                          "domain.yml shows them); if it is not to come back, set status: "
                          "deactivated")
    pools = [entry for unused_index, entry in ctx.entries(F, "pools")]
    # No pool at all, or a target of the wrong shape, is the schema's error.
    if not suspended or not pools or any("suspension_target" in e for e in pools):
        return
    names = [shown(sub.get("name")) for unused_index, sub in suspended]
    yield Problem(F, ("subdomains", suspended[0][0], "status"),
                  "%s %s %s suspended, but no pool has a suspension_target for %s to point at"
                  % ("subdomain" if len(names) == 1 else "subdomains",
                     ", ".join(names[:3]) + (" and %d more" % (len(names) - 3)
                                             if len(names) > 3 else ""),
                     "is" if len(names) == 1 else "are", "it" if len(names) == 1 else "them"),
                  "add suspension_target (A and/or AAAA: the address of the page shown for a "
                  "suspended name) to a pool")


# --- D8 ---------------------------------------------------------------------------------

@rule("D8-POOL-DEF", "D8", "The pools are valid, distinct networks; reserved and shared entries "
      "are addresses, networks or ranges; the suspension target is an address of its pool")
def pool_definitions(ctx):
    for view in _pools(ctx):
        yield from view.problems
        target = view.entry.get("suspension_target")
        for family, value in target.items() if isinstance(target, dict) else ():
            if not isinstance(value, str):
                continue
            path = ("pools", view.index, "suspension_target", family)
            if "%" in value:
                yield Problem(F, path, "suspension target %s has a zone index (%%...): a zone "
                              "index means something only on one host" % shown(value),
                              "write the address without the % part")
                continue
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                continue  # the schema's format error
            if address.version == FAMILY.get(family) and view.complete["networks"] \
                    and not view.contains(address):
                yield Problem(F, path, "suspension target %s is outside pool %s (%s)"
                              % (address, view.name, view.describe()),
                              "point suspended names at an address of the pool")


@rule("D8-POOL", "D8", "Addresses come from the central pools, outside their reserved "
      "ranges, unless excepted")
def addresses_in_pool(ctx):
    pools = _pools(ctx)
    if not pools:
        return
    complete = all(p.complete["networks"] for p in pools)
    for rec in _records(ctx):
        address = _address(rec)
        if address is None or rec.excepted:
            continue
        inside = [p for p in pools if p.contains(address)]
        if not inside:
            if complete:  # else the address may be meant for the network that is broken
                yield Problem(F, rec.path + ("value",), "%s, %s, is outside the central pools "
                              "(%s): a name uses an address the communication agency manages"
                              % (address, rec.where, "; ".join(p.describe() for p in pools)),
                              "allocate a free address of the pool (bin/dns-allocate %s), or "
                              "record an exception approved by the communication agency (D4)"
                              % (_label(rec.sub) or "NAME") if rec.sub is not None else
                              "use an address of the pool for the main domain")
            continue
        for view in inside:
            held = view.reserved_by(address)
            if held is not None:
                yield Problem(F, rec.path + ("value",), "%s, %s, is reserved in pool %s (%s): "
                              "reserved addresses (network, gateways, broadcast) are never "
                              "given to a name" % (address, rec.where, view.name, held),
                              "allocate a free address instead (bin/dns-allocate %s)"
                              % (_label(rec.sub) or "NAME"))
                break


@rule("D8-SHARED", "D8", "An address serves one name unless the pool shares it")
def address_used_twice(ctx):
    pools = _pools(ctx)
    if not pools or not all(p.complete["shared"] for p in pools):
        return  # no pool is the schema's error; an address may be meant for a broken entry
    first = {}
    for rec in _records(ctx):
        address = _address(rec)
        if address is None or rec.status == "deactivated":
            continue
        if any(p.is_shared(address) for p in pools):
            continue
        owner = rec.holder
        if address in first and first[address][0] != owner:
            unused_owner, other, other_path = first[address]
            here = _entry_name(rec)
            yield Problem(F, rec.path + ("value",), "%s, %s, is also the address of %s (line "
                          "%d): outside the pool's shared addresses an address serves one name"
                          % (address, rec.where, other, _line(ctx, other_path)),
                          "allocate %s its own address (bin/dns-allocate %s), or list %s under "
                          "the pool's shared addresses if one server (a reverse proxy) serves both"
                          % (here, _label(rec.sub) or "NAME", address))
        elif address not in first:
            other = _entry_name(rec)
            first[address] = (owner, other, rec.path + ("value",))


def _entry_name(rec):
    return "the main domain" if rec.sub is None else "subdomain %s" % shown(rec.sub.get("name"))


def _target(rec, domain):
    """The in-zone target of a host record relative to the main domain ("" for the domain
    itself), False for a target outside the zone, None for no usable target ("." or a
    value the schema rejects)."""
    value = rec.value
    if value is None or value == "." or not _HOST.match(value):
        return None
    if not value.endswith("."):
        return value  # relative: under the main domain by construction
    host = value[:-1]
    if host == domain:
        return ""
    if host.endswith("." + domain):
        return host[:-len(domain) - 1]
    return False


def _is_ipv4(text):
    try:
        return ipaddress.ip_address(text.rstrip(".")).version == 4
    except ValueError:
        return False


@rule("D8-TARGET", "D8", "Names point to hosts under the main domain unless excepted")
def host_targets(ctx):
    domain = _main_domain(ctx)
    if domain is None:
        return
    for rec in _records(ctx):
        if rec.type not in HOST_TYPES or rec.excepted or rec.value is None or _is_ipv4(rec.value):
            continue  # an address is DNS-VALUE's error
        if _target(rec, domain) is False:
            yield Problem(F, rec.path + ("value",), "%s points outside %s, to %s: the city's "
                          "names are served from the city's servers" % (rec.where, domain,
                                                                        shown(rec.value)),
                          "point it at a host under %s%s" % (
                              domain, ", or record an exception approved by the communication "
                              "agency (D4)" if rec.sub is not None else ""))


# --- DNS: record values by their type ---------------------------------------------------

# A TXT record's text goes out as strings of at most 255 bytes, each with a length byte
# (dns/desired.py splits it). The DNS update that replaces a name's TXT records carries the
# old ones (its prerequisite) and the new ones in one message of at most 65,535 bytes, with
# the header, zone section and TSIG (dns/apply.py, HEADER_AND_TSIG): so the TXT records of
# one name, as they go on the wire, may take at most half of what is left.
DNS_MESSAGE_MAX = 65535
UPDATE_OVERHEAD = 512
RR_FIXED = 10  # type, class, TTL and data length of each record


def _txt_wire(text):
    size = len(text.encode("utf-8"))
    return size + max(1, -(-size // 255))


def _txt_limit(owner, domain):
    name = len(_fqdn(owner, domain)) + 2  # the owner name on the wire
    return (DNS_MESSAGE_MAX - UPDATE_OVERHEAD) // 2 - (name + RR_FIXED)


@rule("DNS-VALUE", "DNS", "Record values fit their type: addresses are usable, host targets "
      "are names, SRV names are _service._proto, CAA values fit their tag, TXT records fit a "
      "DNS message")
def record_values(ctx):
    domain = _main_domain(ctx) or "the main domain"
    txt = {}
    for rec in _records(ctx):
        value, path = rec.value, rec.path + ("value",)
        if value is None:
            continue
        if rec.type in FAMILY:
            if "%" in value:
                yield Problem(F, path, "%s is %s, with a zone index (%%...): a zone index means "
                              "something only on one host" % (rec.where, shown(value)),
                              "write the address without the % part")
                continue
            address = _address(rec)
            if address is None:
                continue  # the schema's format error
            kind = ("unspecified" if address.is_unspecified else "loopback" if address.is_loopback
                    else "multicast" if address.is_multicast else "link-local"
                    if address.is_link_local else None)
            if kind:
                yield Problem(F, path, "%s is %s, a %s address: no one else can reach the name "
                              "there" % (rec.where, address, kind),
                              "write the address of the server that serves the name")
        elif rec.type in HOST_TYPES:
            if _is_ipv4(value) and _HOST.match(value):
                yield Problem(F, path, "%s points to %s, an IP address: %s %s target is a host "
                              "name" % (rec.where, shown(value), _a(rec.type), rec.type),
                              "point it at the name of the host (e.g. mail.%s.), whose A "
                              "record holds the address" % domain)
            if rec.type == "SRV" and rec.owner is not None:
                labels = rec.owner.split(".")
                if len(labels) < 2 or not (labels[0].startswith("_") and labels[1].startswith("_")):
                    yield Problem(F, rec.path + ("name",) if "name" in rec.record else rec.path,
                                  "%s has the name %s: an SRV record's name starts with "
                                  "_service._protocol" % (rec.where,
                                                          shown(rec.record.get("name", "@"))),
                                  "name it after the service and protocol, e.g. _imaps._tcp")
        elif rec.type == "CAA":
            tag = rec.record.get("tag")
            if tag == "iodef" and not value.startswith(("mailto:", "https://", "http://")):
                yield Problem(F, path, "%s (iodef) is %s: an iodef value is a mailto: or "
                              "https:// URL where incidents are reported" % (rec.where,
                                                                             shown(value)),
                              "write e.g. mailto:security@%s" % domain)
            elif tag in ("issue", "issuewild") and not _CAA_ISSUER.match(value):
                yield Problem(F, path, "%s (%s) is %s: the value is the domain name of a "
                              "certificate authority, optionally followed by ;parameters"
                              % (rec.where, tag, shown(value)),
                              "write the authority's domain, e.g. letsencrypt.org, or ; to "
                              "allow none")
        elif rec.type == "TXT" and rec.owner is not None:
            key = (rec.entry, rec.owner)
            size = txt.get(key, 0) + _txt_wire(value) + len(_fqdn(rec.owner, domain)) + 2 + RR_FIXED
            limit = _txt_limit(rec.owner, domain)
            if txt.get(key, 0) <= limit < size:
                yield Problem(F, path, "the TXT records of %s take %d bytes in DNS, more than the "
                              "%d that fit: an update carries a name's old and new records in "
                              "one DNS message of at most %d bytes"
                              % (_fqdn(rec.owner, domain), size, limit, DNS_MESSAGE_MAX),
                              "shorten the text (a long document belongs on a web page the "
                              "record points to), or spread it over names")
            txt[key] = size


_CAA_ISSUER = re.compile(r"\s*(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)?\s*(?:;.*)?\Z")


def _defined_names(ctx):
    """(names, complete): the names under the main domain that exist (relative, "" for the
    domain itself): the apex, every record's owner and every subdomain not deactivated;
    with the subdomain of each. ``complete`` is False when a subdomain's or a record's name
    is not well formed: a target may be meant for it."""
    memo = _memo(ctx)
    if "names" not in memo:
        names, complete = {"": None}, True
        for unused_index, sub in _subdomains(ctx):
            label = _label(sub)
            if label is None:
                complete = False
            elif sub.get("status") != "deactivated":
                names.setdefault(label, sub)
        for rec in _records(ctx):
            if rec.owner is None:
                complete = False
            elif rec.status != "deactivated":
                names.setdefault(rec.owner, rec.sub)
        memo["names"] = (names, complete)
    return memo["names"]


@rule("DNS-TARGET", "DNS", "CNAME, MX and SRV targets under the main domain exist: no CNAME "
      "to itself or in a loop, no MX or SRV to an alias")
def target_names(ctx):
    domain = _main_domain(ctx)
    if domain is None:
        return
    names, complete = _defined_names(ctx)
    deactivated = {_label(sub): sub for unused_index, sub in _subdomains(ctx)
                   if sub.get("status") == "deactivated" and _label(sub)}
    cnames, hosts = {}, []
    for rec in _records(ctx):
        if rec.type not in HOST_TYPES or rec.owner is None or rec.status == "deactivated":
            continue
        target = _target(rec, domain)
        if target is None or target is False or _is_ipv4(rec.value):
            continue
        hosts.append((rec, target))
        if rec.type == "CNAME":
            cnames.setdefault(rec.owner, (target, rec))
    for rec, target in hosts:
        path = rec.path + ("value",)
        if rec.type == "CNAME" and target == rec.owner:
            yield Problem(F, path, "%s points to itself (%s): a name that is an alias of itself "
                          "resolves to nothing" % (rec.where, shown(rec.value)),
                          "point it at the name it stands for, or give %s its own records"
                          % _fqdn(rec.owner, domain))
        elif target not in names:
            if not complete:
                continue
            top = target.rsplit(".", 1)[-1]
            why = ("a name of subdomain %s, which is deactivated (no longer in DNS)" % top
                   if top in deactivated else
                   "which no subdomain or record of the registry defines")
            yield Problem(F, path, "%s points to %s, %s: the target does not exist"
                          % (rec.where, _fqdn(target, domain), why),
                          "point it at an existing name, or add the name (a subdomain listed "
                          "by decree, or a record)")
        elif rec.type in ("MX", "SRV") and target in cnames:
            yield Problem(F, path, "%s points to %s, an alias (a CNAME): %s %s target is the "
                          "host's own name" % (rec.where, _fqdn(target, domain), _a(rec.type),
                                               rec.type),
                          "point it at %s, the name the alias stands for" % (
                              shown(cnames[target][1].value)))
    yield from _cname_loops(cnames, domain)


def _cname_loops(cnames, domain):
    """One problem per loop of two or more CNAMEs, at its first record in the file."""
    done = set()
    for start in cnames:
        walk, name = [], start
        while name in cnames and name not in done and name not in walk:
            walk.append(name)
            name = cnames[name][0]
        if name in walk:
            loop = walk[walk.index(name):]
            if len(loop) > 1:
                first = min(loop, key=lambda n: cnames[n][1].path)
                at = loop.index(first)
                chain = loop[at:] + loop[:at] + [first]
                yield Problem(F, cnames[first][1].path + ("value",),
                              "the CNAMEs %s form a loop: the names resolve to nothing"
                              % " -> ".join(_fqdn(n, domain) for n in chain),
                              "point one of them at a name with A/AAAA records")
        done.update(walk)


@rule("DNS-CNAME", "DNS", "A CNAME stands alone and never at the zone apex")
def cname_alone(ctx):
    domain = _main_domain(ctx) or "the main domain"
    names = {}
    for rec in _records(ctx):
        if rec.owner is not None:
            names.setdefault((rec.entry, rec.owner), []).append(rec)
    for (entry, owner), recs in names.items():
        cnames = [r for r in recs if r.type == "CNAME"]
        if not cnames:
            continue
        if entry == "apex" and owner == "":
            yield Problem(F, cnames[0].path, "the apex record is a CNAME: %s itself holds the "
                          "SOA and NS records, and a name with a CNAME holds nothing else"
                          % domain, "give the apex A/AAAA records instead")
        elif len(recs) > 1:
            others = sorted({str(r.type) for r in recs if r is not cnames[0]})
            yield Problem(F, cnames[0].path, "%s has a CNAME and %s: a name with a CNAME holds "
                          "no other record" % (_fqdn(owner, domain), " and ".join(
                              "another CNAME" if t == "CNAME" else "%s %s record" % (
                                  _a(t), shown(t)[1:-1])
                              for t in others)),
                          "keep either the CNAME or the other records at this name (move them "
                          "to the name the CNAME points to)")


@rule("DNS-NS-ADDRESS", "DNS", "Name servers inside the domain keep an active address")
def nameserver_addresses(ctx):
    domain = _main_domain(ctx)
    if domain is None:
        return
    addressed = {rec.owner for rec in _records(ctx) if rec.type in FAMILY
                 and rec.owner is not None and rec.status == "active"}
    subs = {_label(sub): sub for unused_index, sub in _subdomains(ctx) if _label(sub)}
    servers = ctx.section(F, "domain").get("nameservers")
    for index, ns in enumerate(servers if isinstance(servers, list) else ()):
        if not isinstance(ns, str) or not _NAMESERVER.match(ns) \
                or not ns[:-1].endswith("." + domain):
            continue  # the schema's or D1-MAIN-DOMAIN's error
        rel = ns[:-len(domain) - 2]
        if rel in addressed:
            continue
        top = rel.rsplit(".", 1)[-1]
        sub = subs.get(top)
        why = ("no subdomain %s" % top if sub is None else
               "subdomain %s is %s" % (top, shown(sub.get("status")))
               if sub.get("status") != "active" else
               "no A or AAAA record of subdomain %s is named %s" % (top, rel))
        yield Problem(F, ("domain", "nameservers", index),
                      "name server %s has no address in the registry (%s): a name server "
                      "under the domain needs an active A or AAAA record" % (ns, why),
                      "keep subdomain %s active with the server's address (the server refuses "
                      "an update that leaves a name server without one)" % top)
