"""Rules over the main domain, its subdomains and the central address pools (D1-D8)."""
import ipaddress
import re

from ansible.module_utils.registry import renewal
from ansible.module_utils.registry.context import parse_date
from ansible.module_utils.registry.findings import WARNING
from ansible.module_utils.registry.ipam import Pool
from ansible.module_utils.registry.rules.base import Problem, reference, rule

F = "domain.yml"
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
RECORD_LABEL = re.compile(r"^(?:_?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|_[a-z0-9-]+)$")
HOST_TYPES = ("CNAME", "MX", "SRV")


def _subdomains(ctx):
    return ctx.entries(F, "subdomains")


def _records(ctx):
    """(path, subdomain or None for the apex, record) for every record."""
    for index, record in enumerate(ctx.section(F, "domain").get("apex", {}).get("records") or []):
        if isinstance(record, dict):
            yield ("domain", "apex", "records", index), None, record
    for sindex, sub in _subdomains(ctx):
        for rindex, record in enumerate(sub.get("records") or []):
            if isinstance(record, dict):
                yield ("subdomains", sindex, "records", rindex), sub, record


def _pools(ctx):
    pools = []
    for index, entry in ctx.entries(F, "pools"):
        try:
            pools.append((index, entry, Pool(entry.get("networks") or [],
                                             reserved=entry.get("reserved") or (),
                                             shared=entry.get("shared") or ())))
        except ValueError:
            continue  # reported by D8-POOL-DEF
    return pools


@rule("D1-MAIN-DOMAIN", "D1", "Names and addresses live under the main domain")
def main_domain(ctx):
    name = ctx.main_domain
    if name is None:
        return
    labels = name.split(".")
    if len(labels) < 2 or not all(LABEL.match(label) for label in labels):
        yield Problem(F, ("domain", "name"), "main domain %r is not a valid domain name" % name,
                      "write the registered domain, e.g. kota.go.id")
    for index, ns in enumerate(ctx.section(F, "domain").get("nameservers") or []):
        host = str(ns).rstrip(".").lower()
        if not host.endswith("." + name):
            yield Problem(F, ("domain", "nameservers", index),
                          "name server %s is not a name under %s" % (ns, name),
                          "serve the domain from the city's own servers (ns1.%s)" % name)
    for sindex, sub in _subdomains(ctx):
        label = sub.get("name")
        if isinstance(label, str) and "." in label:
            yield Problem(F, ("subdomains", sindex, "name"),
                          "subdomain %r is not directly under %s" % (label, name),
                          "use a single label; deeper names go in its records' name field")


@rule("D2-LABEL", "D2", "A subdomain is one lowercase LDH label named after its owner")
def subdomain_label(ctx):
    for sindex, sub in _subdomains(ctx):
        label = sub.get("name")
        if not isinstance(label, str) or "." in label:
            continue
        path = ("subdomains", sindex, "name")
        if not LABEL.match(label):
            yield Problem(F, path, "subdomain %r is not a lowercase LDH label of at most 63 "
                          "characters" % label,
                          "use only a-z, 0-9 and inner hyphens, e.g. %s" % re.sub(
                              r"[^a-z0-9-]", "", label.lower()).strip("-"))
            continue
        if sub.get("kind") != "agency":
            continue
        owner = ctx.agencies.get(sub.get("owner"))
        if owner is None:
            continue
        allowed = {ctx.mail_name(sub.get("owner")),
                   re.sub(r"[^a-z0-9]", "", str(owner.get("acronym", "")).lower()),
                   re.sub(r"[^a-z0-9]", "", str(owner.get("code", "")).lower())}
        if label not in allowed and label.replace("-", "") not in allowed:
            yield Problem(F, path, "subdomain %r of kind agency is not the official name, "
                          "abbreviation or acronym of %s" % (label, owner.get("code")),
                          "name it %s, or register it as kind: application" % " or ".join(
                              sorted(a for a in allowed if a)))


@rule("D2-OWNER", "D2", "A subdomain belongs to a registered agency")
def subdomain_owner(ctx):
    for sindex, sub in _subdomains(ctx):
        p = reference(F, ("subdomains", sindex, "owner"), sub.get("owner"), ctx.agencies,
                      "agency code", "agencies.yml")
        if p:
            yield p
        p = reference(F, ("subdomains", sindex, "officer"), sub.get("officer"), ctx.people,
                      "person", "people.yml")
        if p:
            yield p


@rule("D4-EXCEPTION", "D4", "Exceptions are approved by the communication agency")
def exception_approval(ctx):
    comms = ctx.roles.get("communication_agency")
    for sindex, sub in _subdomains(ctx):
        exc = sub.get("exception")
        if not isinstance(exc, dict):
            continue
        path = ("subdomains", sindex, "exception", "approved_by")
        who = exc.get("approved_by")
        p = reference(F, path, who, ctx.people, "person", "people.yml")
        if p:
            yield p
        elif who is not None and not ctx.person_in_agency(who, comms):
            yield Problem(F, path, "the exception of %s is approved by %s, who is not of %s"
                          % (sub.get("name"), who, comms),
                          "exceptions are coordinated with %s (the communication agency): "
                          "name its approver" % comms)


@rule("D5-OFFICER", "D5", "The domain officer (Pejabat Nama Domain) is a registered person")
def domain_officer(ctx):
    who = ctx.section(F, "domain").get("officer")
    p = reference(F, ("domain", "officer"), who, ctx.people, "person", "people.yml")
    if p:
        yield p
    elif who is not None and (ctx.people[who].get("status") != "active"):
        yield Problem(F, ("domain", "officer"), "domain officer %s is no longer active (%s)"
                      % (who, ctx.people[who].get("status")),
                      "record the officer newly appointed by the Sekda", severity=WARNING)


@rule("D6-RENEWAL", "D6", "The main domain is renewed within its window", severity=WARNING)
def renewal_window(ctx):
    expires = parse_date(ctx.section(F, "domain").get("expires"))
    if expires is None:
        return
    window, ahead = renewal.policy_days(ctx.policy)
    status = renewal.renewal_status(expires, ctx.today, window, ahead)
    days = status["days_left"]
    path = ("domain", "expires")
    if status["state"] == renewal.WARN:
        yield Problem(F, path, "%s expires in %d days (%s)" % (ctx.main_domain, days, expires),
                      "start the renewal with the registrar (the mayor's approval is needed)")
    elif status["state"] == renewal.WINDOW:
        yield Problem(F, path, "%s expired on %s: %d of the %d days of the renewal window are "
                      "left" % (ctx.main_domain, expires, status["window_days_left"], window),
                      "renew it now, then update domain.expires")
    elif status["state"] == renewal.OVERDUE:
        yield Problem(F, path, "%s expired on %s and the %d-day renewal window has passed"
                      % (ctx.main_domain, expires, window),
                      "renew with the registrar urgently, then update domain.expires")


@rule("D7-SUSPENSION", "D7", "Suspended names have a suspension target to point at")
def suspension_target(ctx):
    targets = [e for _, e in ctx.entries(F, "pools") if e.get("suspension_target")]
    if targets:
        return
    for sindex, sub in _subdomains(ctx):
        if sub.get("status") == "suspended":
            yield Problem(F, ("subdomains", sindex, "status"),
                          "%s is suspended but no pool has a suspension_target" % sub.get("name"),
                          "add suspension_target (A and/or AAAA) to the central pool")


@rule("D8-POOL-DEF", "D8", "The pools are valid networks")
def pool_definitions(ctx):
    for index, entry in ctx.entries(F, "pools"):
        try:
            pool = Pool(entry.get("networks") or [], reserved=entry.get("reserved") or (),
                        shared=entry.get("shared") or ())
        except ValueError as exc:
            yield Problem(F, ("pools", index), "pool %s is not valid: %s" % (entry.get("name"), exc),
                          "write networks as CIDRs without host bits, e.g. 192.0.2.0/24")
            continue
        target = entry.get("suspension_target") or {}
        for family, value in target.items() if isinstance(target, dict) else ():
            if isinstance(value, str) and _is_ip(value) and not pool.contains(value):
                yield Problem(F, ("pools", index, "suspension_target", family),
                              "suspension target %s is outside pool %s" % (value, entry.get("name")),
                              "point suspended names at an address of the pool")


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@rule("D8-POOL", "D8", "Addresses come from the central pool unless excepted")
def addresses_in_pool(ctx):
    pools = _pools(ctx)
    if not pools:
        return
    for path, sub, record in _records(ctx):
        if record.get("type") not in ("A", "AAAA") or not _is_ip(str(record.get("value"))):
            continue
        if sub is not None and sub.get("exception"):
            continue
        value = str(record.get("value"))
        owner = sub.get("name") if sub else ctx.main_domain
        inside = [p for _, _, p in pools if p.contains(value)]
        if not inside:
            yield Problem(F, path + ("value",), "%s of %s is outside the central pools (%s)" % (
                value, owner, ", ".join(str(e.get("name")) for _, e, _ in pools)),
                "allocate an address from the pool (bin/dns-allocate NAME), or record an exception "
                "approved by the communication agency (D4)")
        elif any(p.is_reserved(value) for p in inside):
            yield Problem(F, path + ("value",), "%s of %s is in a reserved range of the pool"
                          % (value, owner), "allocate a free address of the pool instead")


@rule("D8-SHARED", "D8", "An address serves one name unless the pool shares it")
def address_used_twice(ctx):
    pools = [p for _, _, p in _pools(ctx)]
    first = {}
    for path, sub, record in _records(ctx):
        if record.get("type") not in ("A", "AAAA") or not _is_ip(str(record.get("value"))):
            continue
        if sub is not None and sub.get("status") == "deactivated":
            continue
        value = ipaddress.ip_address(str(record.get("value")))
        owner = sub.get("name") if sub else "@"
        if any(p.is_shared(str(value)) for p in pools):
            continue
        if value in first and first[value][0] != owner:
            other, other_path = first[value]
            line = ctx.files[F].locate(other_path)[0]
            yield Problem(F, path + ("value",), "%s is used by %s and by %s (line %d)"
                          % (value, owner, other, line),
                          "give each name its own address, or list %s under the pool's "
                          "shared addresses (a reverse proxy)" % value)
        else:
            first.setdefault(value, (owner, path + ("value",)))


@rule("D8-TARGET", "D8", "Names point to hosts under the main domain unless excepted")
def host_targets(ctx):
    domain = ctx.main_domain
    if domain is None:
        return
    for path, sub, record in _records(ctx):
        if record.get("type") not in HOST_TYPES or (sub is not None and sub.get("exception")):
            continue
        target = str(record.get("value", ""))
        if not target.endswith("."):
            continue  # relative: under the main domain by construction
        host = target.rstrip(".").lower()
        if host != domain and not host.endswith("." + domain):
            yield Problem(F, path + ("value",), "%s record of %s points outside %s: %s" % (
                record.get("type"), sub.get("name") if sub else domain, domain, target),
                "serve it from the city's servers, or record an exception (D4)")


@rule("DNS-CNAME", "DNS", "A CNAME stands alone and never at the zone apex")
def cname_alone(ctx):
    names = {}
    for path, sub, record in _records(ctx):
        rel = str(record.get("name", "@"))
        fqdn = (rel, sub.get("name") if sub else None)
        names.setdefault(fqdn, []).append((path, record.get("type")))
    for (rel, sub), entries in names.items():
        types = [t for _, t in entries]
        if "CNAME" not in types:
            continue
        path = next(p for p, t in entries if t == "CNAME")
        if sub is None and rel == "@":
            yield Problem(F, path, "a CNAME at the apex of %s is not allowed" % ctx.main_domain,
                          "use A/AAAA records at the apex")
        elif len(types) > 1:
            yield Problem(F, path, "%s has a CNAME beside other records (%s)" % (
                ".".join(x for x in (rel if rel != "@" else None, sub) if x) or "@",
                ", ".join(sorted(set(types) - {"CNAME"})) or "another CNAME"),
                "keep either the CNAME alone or the other records")


@rule("DNS-RECORD-NAME", "DNS", "Record names are valid relative names")
def record_names(ctx):
    for path, sub, record in _records(ctx):
        rel = record.get("name", "@")
        if rel == "@":
            continue
        labels = str(rel).split(".")
        if not all(RECORD_LABEL.match(label) for label in labels):
            yield Problem(F, path + ("name",), "record name %r is not a valid relative name" % rel,
                          "use @, or labels of a-z, 0-9 and hyphens (a leading _ for service "
                          "names), e.g. www or _dmarc")


@rule("DNS-NS-ADDRESS", "DNS", "Name servers inside the domain keep an active address")
def nameserver_addresses(ctx):
    domain = ctx.main_domain
    if domain is None:
        return
    addressed = {rel for _, sub, rec in _records(ctx) if rec.get("type") in ("A", "AAAA")
                 for rel in [_relative_owner(sub, rec)] if sub is None or sub.get("status") == "active"}
    for index, ns in enumerate(ctx.section(F, "domain").get("nameservers") or []):
        host = str(ns).rstrip(".").lower()
        if not host.endswith("." + domain):
            continue  # reported by D1-MAIN-DOMAIN
        rel = host[: -len(domain) - 1]
        if rel not in addressed:
            yield Problem(F, ("domain", "nameservers", index),
                          "name server %s has no A or AAAA record in an active name of the registry"
                          % ns, "keep the subdomain %s active with its address (the server refuses "
                          "an update that leaves a name server without one)" % rel.split(".")[-1])


def _relative_owner(sub, record):
    """The record's owner name relative to the main domain ('' for the apex)."""
    rel = str(record.get("name", "@"))
    parts = [p for p in (None if rel == "@" else rel, sub.get("name") if sub else None) if p]
    return ".".join(parts)
