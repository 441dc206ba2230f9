"""Rules over the official mail accounts (E1-E11)."""
import re

from ansible.module_utils.registry.context import parse_date
from ansible.module_utils.registry.findings import WARNING
from ansible.module_utils.registry.names import localpart_matches_name, name_to_localpart
from ansible.module_utils.registry.rules.base import Problem, reference, rule

F = "mail.yml"
LOCAL_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SLUG = r"[a-z0-9]+(?:[.-][a-z0-9]+)*"
LEFT = ("retired", "moved", "stopped", "deceased")


def _accounts(ctx):
    return ctx.entries(F, "accounts")


def _split(address):
    if not isinstance(address, str) or address.count("@") != 1:
        return None, None
    local, domain = address.split("@")
    return local, domain.lower()


@rule("E1-ADDRESS", "E1", "Addresses are well formed and on the main domain")
def address_domain(ctx):
    domain = ctx.main_domain
    for index, acc in _accounts(ctx):
        local, at = _split(acc.get("address"))
        path = ("accounts", index, "address")
        if local is None:
            yield Problem(F, path, "%r is not a mail address" % acc.get("address"),
                          "write local-part@%s" % domain)
            continue
        if domain and at != domain:
            yield Problem(F, path, "%s is not on the main domain %s" % (acc["address"], domain),
                          "official addresses are <name>@%s" % domain)
        if not LOCAL_PART.match(local) or len(local) > 64:
            yield Problem(F, path, "local part %r must be lowercase letters and digits joined by "
                          "single dots, hyphens or underscores (at most 64)" % local,
                          "e.g. %s" % re.sub(r"[^a-z0-9.]", "", local.lower()).strip("."))


@rule("E1-AGENCY", "E1", "An agency's account is <agency mail name>@domain, one per agency")
def agency_accounts(ctx):
    seen = {}
    for index, acc in _accounts(ctx):
        if acc.get("kind") != "agency" or acc.get("owner") not in ctx.agencies:
            continue
        local, _ = _split(acc.get("address"))
        expected = ctx.mail_name(acc["owner"])
        if local is not None and local != expected:
            yield Problem(F, ("accounts", index, "address"),
                          "the agency account of %s must be %s@%s, not %s" % (
                              acc["owner"], expected, ctx.main_domain, acc["address"]),
                          "use the agency's mail name (agencies.yml mail_name or acronym)")
        if acc.get("status") == "active":
            if acc["owner"] in seen:
                yield Problem(F, ("accounts", index, "owner"),
                              "%s has a second active agency account" % acc["owner"],
                              "keep one official address per agency; use kind event or "
                              "position for others")
            seen[acc["owner"]] = index


@rule("E2-POSITION", "E2", "Position accounts follow the city's address template")
def position_accounts(ctx):
    templates = (ctx.policy.get("mail") or {}).get("position_addresses") or {}
    for index, acc in _accounts(ctx):
        if acc.get("kind") != "position":
            continue
        position = acc.get("position")
        if position not in templates:
            yield Problem(F, ("accounts", index, "position"),
                          "position %r has no address template" % position,
                          "use one of %s, or add it to city.yml policy.mail.position_addresses"
                          % ", ".join(sorted(templates)))
            continue
        local, _ = _split(acc.get("address"))
        template = str(templates[position])
        pattern = re.escape(template).replace(re.escape("{agency}"), re.escape(
            ctx.mail_name(acc.get("owner")))).replace(re.escape("{slug}"), SLUG)
        if local is not None and not re.fullmatch(pattern, local):
            yield Problem(F, ("accounts", index, "address"),
                          "position account %s does not follow the template %r for %s" % (
                              acc["address"], template, position),
                          "name it %s@%s" % (template.replace(
                              "{agency}", ctx.mail_name(acc.get("owner"))), ctx.main_domain))


@rule("E2-PERSONAL", "E2", "A personal account is an ASN's, named after the ASN")
def personal_accounts(ctx):
    for index, acc in _accounts(ctx):
        if acc.get("kind") != "personal":
            continue
        person = ctx.people.get(acc.get("holder"))
        local, _ = _split(acc.get("address"))
        if person is None or local is None:
            continue
        if person.get("kind") != "asn":
            yield Problem(F, ("accounts", index, "holder"),
                          "personal account %s belongs to %s, who is not an ASN" % (
                              acc["address"], person.get("name")),
                          "personal accounts are for ASN; use a position or event account")
        name = str(person.get("name", ""))
        if not localpart_matches_name(local, name):
            try:
                suggestion = name_to_localpart(name)
            except ValueError:
                suggestion = "<name>"
            yield Problem(F, ("accounts", index, "address"),
                          "%s is not formed from the holder's name %r" % (acc["address"], name),
                          "use the name without titles, e.g. %s@%s" % (suggestion, ctx.main_domain))


@rule("E2-REFS", "E2", "Owners and holders of accounts exist")
def account_references(ctx):
    for index, acc in _accounts(ctx):
        for field, known, what, where in (("owner", ctx.agencies, "agency code", "agencies.yml"),
                                          ("holder", ctx.people, "person", "people.yml")):
            p = reference(F, ("accounts", index, field), acc.get(field), known, what, where)
            if p:
                yield p


@rule("E3-EVENT", "E3", "Event accounts are separate from the agency's account")
def event_accounts(ctx):
    agency_names = {ctx.mail_name(code) for code in ctx.agencies}
    for index, acc in _accounts(ctx):
        local, _ = _split(acc.get("address"))
        if acc.get("kind") == "event" and local in agency_names:
            yield Problem(F, ("accounts", index, "address"),
                          "event account %s takes the name of an agency's account" % acc["address"],
                          "give the event its own name (e.g. harijadi)")


@rule("E4-ADMIN", "E4", "An agency with its own account names the admin of its mail")
def agency_admin(ctx):
    # Position accounts are run by their holders and personal ones by Kepegawaian:
    # only the agency's own account needs an admin.
    owners = {acc.get("owner") for _, acc in _accounts(ctx)
              if acc.get("status") == "active" and acc.get("kind") == "agency"}
    for index, agency in ctx.entries("agencies.yml", "agencies"):
        if agency.get("code") in owners and not agency.get("mail_admin"):
            yield Problem("agencies.yml", ("agencies", index),
                          "%s has an agency mail account but no mail_admin" % agency.get("code"),
                          "set mail_admin to the person its head appointed; new passwords are "
                          "handed to that admin")


@rule("E9-VALIDATION", "E9", "Deactivation carries Kepegawaian's validation")
def deactivation_validated(ctx):
    personnel = ctx.roles.get("personnel_agency")
    for index, acc in _accounts(ctx):
        deact = acc.get("deactivation")
        if not isinstance(deact, dict) or deact.get("reason") == "breach":
            continue
        path = ("accounts", index, "deactivation")
        who = deact.get("validated_by")
        if who is None or not deact.get("validation_ref"):
            yield Problem(F, path, "%s is deactivated (%s) without Kepegawaian's validation" % (
                acc.get("address"), deact.get("reason")),
                "add validated_by (a person of %s) and validation_ref" % personnel, at="key")
            continue
        p = reference(F, path + ("validated_by",), who, ctx.people, "person", "people.yml")
        if p:
            yield p
        elif not ctx.person_in_agency(who, personnel):
            yield Problem(F, path + ("validated_by",),
                          "%s was validated by %s, who is not of %s" % (
                              acc.get("address"), who, personnel),
                          "departures are validated by %s (the personnel agency)" % personnel)


@rule("E9-HOLDER-LEFT", "E9", "Accounts of people who left are deactivated", severity=WARNING)
def holder_left(ctx):
    for index, acc in _accounts(ctx):
        person = ctx.people.get(acc.get("holder")) or {}
        if acc.get("status") == "active" and person.get("status") in LEFT:
            yield Problem(F, ("accounts", index, "status"),
                          "%s is active but its holder %s has %s" % (
                              acc.get("address"), person.get("name"), person.get("status")),
                          "deactivate it once Kepegawaian validates the departure")


@rule("E11-REACTIVATION", "E11", "Reactivation needs request, minutes and echelon-II approval")
def reactivation(ctx):
    for index, acc in _accounts(ctx):
        deact, react = acc.get("deactivation"), acc.get("reactivation")
        path = ("accounts", index)
        status = acc.get("status")
        if not isinstance(deact, dict):
            if isinstance(react, dict):
                yield Problem(F, path + ("reactivation",), "%s has a reactivation but was never "
                              "deactivated" % acc.get("address"), "remove the reactivation")
            continue
        ddate = parse_date(deact.get("date"))
        if status == "active" and not isinstance(react, dict):
            yield Problem(F, path + ("status",), "%s was deactivated on %s and is active "
                          "again without a reactivation record" % (acc.get("address"), ddate),
                          "add reactivation (request, minutes, statement, approved_by, date) or "
                          "set status: deactivated")
            continue
        if not isinstance(react, dict):
            continue
        rdate = parse_date(react.get("date"))
        if ddate and rdate and rdate <= ddate:
            yield Problem(F, path + ("reactivation", "date"), "reactivation of %s (%s) is not "
                          "after its deactivation (%s)" % (acc.get("address"), rdate, ddate),
                          "correct the dates")
        elif status != "active" and ddate and rdate:
            yield Problem(F, path + ("status",), "%s has a reactivation after its deactivation "
                          "but status %s" % (acc.get("address"), status),
                          "set status: active, or remove the reactivation")
        who = react.get("approved_by")
        p = reference(F, path + ("reactivation", "approved_by"), who, ctx.people, "person",
                      "people.yml")
        if p:
            yield p
        elif who is not None and (ctx.people[who].get("echelon") not in ("I", "II")):
            yield Problem(F, path + ("reactivation", "approved_by"),
                          "reactivation of %s is approved by %s, who is not echelon II or above"
                          % (acc.get("address"), ctx.people[who].get("name")),
                          "the direct superior at echelon II must approve it")


@rule("E5-RESET", "E5", "A reset ticket is used once")
def reset_tickets(ctx):
    seen = {}
    for index, acc in _accounts(ctx):
        for rindex, reset in enumerate(acc.get("password_resets") or []):
            ticket = reset.get("ticket") if isinstance(reset, dict) else None
            if ticket is None:
                continue
            if ticket in seen:
                yield Problem(F, ("accounts", index, "password_resets", rindex, "ticket"),
                              "reset ticket %s is used twice (also for %s)" % (ticket, seen[ticket]),
                              "each written request gets its own ticket")
            seen.setdefault(ticket, acc.get("address"))
