"""Rules over the main domain's mail records, ``domain.mail`` (E1, E12).

The block is the one source of the main domain's MX, SPF, DKIM, DMARC and mail-service SRV
records (dns/desired.py renders them): while it exists, the same records written by hand in
``apex.records`` are an error, so that no reader has to guess which of two policies is
published. Shapes (a selector, an address, a host) are the schema's; the rules here tell
what the schema cannot: that a host has an address, that SPF allows only the city's servers,
that DMARC reports go to the city.
"""
import ipaddress

from ansible.module_utils.city.dns.desired import MAIL_SERVICES
from ansible.module_utils.city.registry.findings import shown
from ansible.module_utils.city.registry.rules.base import Problem, rule
from ansible.module_utils.city.registry.rules.domain import (F, FAMILY, _PoolView, _main_domain,
                                                             _pools, _records)

MAIL = ("domain", "mail")
ACCOUNTS = "mail.yml"


def _mail(ctx):
    mail = ctx.section(F, "domain").get("mail")
    return mail if isinstance(mail, dict) else None


def _hand_written(ctx, kinds):
    """Apex records that the mail block generates, as (record, what it is) for ``kinds``."""
    for rec in _records(ctx):
        if rec.sub is not None or rec.owner is None:
            continue
        owner, kind = rec.owner, rec.type
        if "MX" in kinds and kind == "MX" and owner == "":
            yield rec, "an MX record of the main domain", "exchangers"
        elif "SRV" in kinds and kind == "SRV" and owner.endswith("._tcp") \
                and owner[1:-len("._tcp")] in MAIL_SERVICES and owner.startswith("_"):
            yield rec, "the SRV record %s of a mail service" % owner, "services"
        elif "SPF" in kinds and kind == "TXT" and owner == "" and isinstance(rec.value, str) \
                and rec.value.strip().lower().startswith("v=spf1"):
            yield rec, "an SPF record (a TXT record v=spf1 of the main domain)", "spf"
        elif "DMARC" in kinds and owner == "_dmarc":
            yield rec, "%s record at _dmarc" % ("a TXT" if kind == "TXT" else "a %s" % shown(kind)), "dmarc"
        elif "DKIM" in kinds and (owner == "_domainkey" or owner.endswith("._domainkey")):
            yield rec, "a DKIM record (%s)" % owner, "dkim"


def _hand_written_problem(rec, what, field):
    return Problem(F, rec.path, "%s is written in apex.records while domain.mail exists: the "
                   "main domain's mail records come from domain.mail alone (one source, one "
                   "policy published)" % what,
                   "remove this record and state it in domain.mail.%s%s" % (
                       field, " (the key itself comes from the inventory's "
                       "city_mail__dkim_public_keys)" if field == "dkim" else ""))


def _addressed(ctx):
    """Names (relative to the main domain, "" for itself) with an active A or AAAA record."""
    return {rec.owner for rec in _records(ctx) if rec.type in FAMILY and rec.owner is not None
            and rec.status == "active"}


def _hosts(mail):
    """(path, host) of every exchanger and service host that is a string (the schema checks
    the form)."""
    exchangers = mail.get("exchangers")
    for index, exchanger in enumerate(exchangers if isinstance(exchangers, list) else ()):
        if isinstance(exchanger, dict) and isinstance(exchanger.get("host"), str):
            yield MAIL + ("exchangers", index, "host"), exchanger["host"], "exchanger"
    services = mail.get("services")
    for service, host in sorted((services if isinstance(services, dict) else {}).items()):
        if service in MAIL_SERVICES and isinstance(host, str):
            yield MAIL + ("services", service), host, "host of %s" % service


@rule("E1-MAIL-EXCHANGER", "E1", "The main domain's mail exchangers and mail service hosts are "
      "names of the zone with an active address; its MX and mail SRV records come from "
      "domain.mail alone")
def mail_exchangers(ctx):
    mail = _mail(ctx)
    if mail is None:
        return
    for rec, what, field in _hand_written(ctx, ("MX", "SRV")):
        yield _hand_written_problem(rec, what, field)
    domain = _main_domain(ctx)
    if domain is None:
        return
    addressed = _addressed(ctx)
    for path, host, what in _hosts(mail):
        rel = "" if host == "@" else host.lower()
        if rel in addressed:
            continue
        name = "%s.%s" % (rel, domain) if rel else domain
        yield Problem(F, path, "the %s %s (%s) has no active A or AAAA record in the registry: "
                      "mail for the city's addresses would go nowhere" % (what, shown(host), name),
                      "name a host with an address from the central pools (e.g. the subdomain "
                      "of the mail server), or give %s its A/AAAA records" % name)


def _spf_problems(ctx, mail):
    spf = mail.get("spf")
    mechanisms = spf.get("mechanisms") if isinstance(spf, dict) else None
    views = [v for v in _pools(ctx) if isinstance(v, _PoolView)]
    networks = [net for view in views for net in view.networks]
    complete = all(view.complete["networks"] for view in views)
    for index, mechanism in enumerate(mechanisms if isinstance(mechanisms, list) else ()):
        if not isinstance(mechanism, str) or not mechanism.startswith(("ip4:", "ip6:")):
            continue
        path = MAIL + ("spf", "mechanisms", index)
        family, text = (4 if mechanism.startswith("ip4:") else 6), mechanism[4:]
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            yield Problem(F, path, "the SPF mechanism %s is not an IPv%d address or network "
                          "without host bits" % (shown(mechanism), family),
                          "write e.g. %s" % ("ip4:192.0.2.25" if family == 4 else "ip6:2001:db8::25"))
            continue
        if network.version != family:
            yield Problem(F, path, "the SPF mechanism %s holds an IPv%d network after ip%d:"
                          % (shown(mechanism), network.version, family),
                          "write ip%d:%s" % (network.version, text))
        elif complete and not any(network.version == net.version and network.subnet_of(net)
                                  for net in networks):
            yield Problem(F, path, "the SPF mechanism %s allows %s, outside the central pools, to "
                          "send mail in the city's name" % (shown(mechanism), network),
                          "allow only the city's own mail servers (e.g. mx), whose addresses come "
                          "from the central pools")


def _report_problems(ctx, mail, domain):
    dmarc = mail.get("dmarc")
    if not isinstance(dmarc, dict):
        return
    active = None
    if ACCOUNTS in ctx.files:
        active = {str(acc.get("address", "")).lower() for unused_index, acc in ctx.entries(ACCOUNTS, "accounts")
                  if acc.get("status") == "active"}
    for key, tag in (("reports", "rua"), ("failure_reports", "ruf")):
        addresses = dmarc.get(key)
        for index, address in enumerate(addresses if isinstance(addresses, list) else ()):
            if not isinstance(address, str) or "@" not in address:
                continue  # the schema's error
            path = MAIL + ("dmarc", key, index)
            where = address.rsplit("@", 1)[1].lower()
            if where != domain:
                yield Problem(F, path, "the DMARC report address %s (%s) is on %s, not on %s: "
                              "receivers send reports to another domain only when that domain "
                              "publishes %s._report._dmarc.%s authorizing it (RFC 7489 section "
                              "7.1), which this registry cannot check, and the reports carry the "
                              "city's mail traffic" % (shown(address), tag, where, domain, domain,
                                                       where),
                              "send the reports to an address on %s (e.g. the communication "
                              "agency's account)" % domain)
            elif active is not None and address.lower() not in active:
                yield Problem(F, path, "the DMARC report address %s (%s) is not an active "
                              "account of %s: the reports would bounce"
                              % (shown(address), tag, ACCOUNTS),
                              "name an active account of %s (e.g. the communication agency's), "
                              "or add the account there" % ACCOUNTS)


@rule("E12-MAIL-AUTH", "E12", "SPF, DKIM and DMARC of the main domain come from domain.mail "
      "alone; SPF allows only the city's servers; DMARC reports go to active accounts on the "
      "main domain")
def mail_authentication(ctx):
    mail = _mail(ctx)
    if mail is None:
        return
    for rec, what, field in _hand_written(ctx, ("SPF", "DMARC", "DKIM")):
        yield _hand_written_problem(rec, what, field)
    yield from _spf_problems(ctx, mail)
    domain = _main_domain(ctx)
    if domain is not None:
        yield from _report_problems(ctx, mail, domain)
