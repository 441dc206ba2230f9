"""Rules over the official mail accounts (E1-E11).

A value of the wrong type or form (an address that is not one, an owner that is not an
agency code, a missing required key) is the JSON schema's error: these rules skip it, so
each problem comes out once, and they never fail on it.
"""
import re

from ansible.module_utils.city.registry import handover_keys
from ansible.module_utils.city.registry.context import parse_date
from ansible.module_utils.city.registry.findings import WARNING, shown
from ansible.module_utils.city.mail.desired import recipient_of
from ansible.module_utils.city.registry.names import localpart_matches_name, name_to_localpart
from ansible.module_utils.city.registry.rules.base import Problem, rule
from ansible.module_utils.city.registry.rules.common import LEFT, defined, undefined

F = "mail.yml"
AG = "agencies.yml"
# The address as mail.schema.json writes it (accounts[].address): an address not of this
# form is the schema's error. tests/registry/test_mail_rules.py keeps the two the same.
ADDRESS = re.compile(r"^(?=[^@]{1,64}@)[A-Za-z0-9]+([._-][A-Za-z0-9]+)*@([A-Za-z0-9]([A-Za-z0-9-]"
                     r"{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z")
POSITION_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")  # accounts[].position in the schema
SLUG = r"[a-z0-9]+(?:[.-][a-z0-9]+)*"
KINDS = ("agency", "position", "personal", "event")
STATUSES = ("active", "deactivated", "deleted")
REASONS = ("stopped", "retired", "moved", "deceased", "breach", "request")

# The position account each kind of agency's head holds: Perwal Kota Bekasi 17/2023 Pasal 29
# ayat (3) and Pasal 30 ayat (1) name the accounts of the Wali Kota, the Sekretaris Daerah,
# every Kepala Perangkat Daerah and every Direktur BUMD. The Perangkat Daerah of a city are
# the secretariats, the inspectorate, the dinas, the badan (with the Satpol PP) and the
# kecamatan (UU 23/2014 Pasal 209 ayat (2)): a bagian is a unit of the Setda, a kelurahan
# a part of its kecamatan and an RSUD a unit of the Dinas Kesehatan, so their heads need
# no account of their own (a city may still give them one).
HEAD_POSITION = {
    "pimpinan": "wali-kota",
    "sekretariat-daerah": "sekda",
    "sekretariat-dprd": "kepala-pd",
    "inspektorat": "kepala-pd",
    "dinas": "kepala-pd",
    "badan": "kepala-pd",
    "satuan": "kepala-pd",
    "kecamatan": "kepala-pd",
    "bumd": "direktur-bumd",
}

# The floor of the password policy (requirement E6; in Bekasi, Perwal 17/2023 Pasal 35
# ayat (5): "Password E-mail yang baik minimal 8 (Delapan) karakter, terdiri atas
# kombinasi antara huruf latin kecil, huruf latin besar, angka"). city.yml policy.mail may
# ask for more, never for less, so the floor is kept here and not in a registry value;
# the finding cites the city's own article of E6 (city.yml articles).
PASSWORD_MIN_LENGTH = 8
PASSWORD_CLASSES = ("lower", "upper", "digit")


def _accounts(ctx):
    return ctx.entries(F, "accounts")


def _str(value):
    return value if isinstance(value, str) else None


_NO_ADDRESS = (None, None)


def _split(address, cache):
    """(local part, lowercase domain) of an address of the schema's form, else (None, None);
    each address is matched once per run (``cache``, from :func:`_addresses`)."""
    if not isinstance(address, str):
        return _NO_ADDRESS
    found = cache.get(address)
    if found is None:
        if ADDRESS.match(address):
            local, domain = address.split("@")
            found = (local, domain.lower())
        else:
            found = _NO_ADDRESS
        cache[address] = found
    return found


def _addresses(ctx):
    return ctx.__dict__.setdefault("_mail_addresses", {})


def _agency(ctx, code):
    """The agencies.yml entry of ``code``, or None (also for a value that is no code)."""
    return ctx.agencies.get(code) if isinstance(code, str) else None


def _line(ctx, relname, path):
    loaded = ctx.files.get(relname)
    return loaded.locate(path)[0] if loaded is not None else 0


@rule("E1-ADDRESS", "E1", "Addresses are on the main domain and in lowercase")
def address_domain(ctx):
    domain, addresses = ctx.main_domain, _addresses(ctx)
    for index, acc in _accounts(ctx):
        address = acc.get("address")
        local, at = _split(address, addresses)
        if local is None:
            continue
        path = ("accounts", index, "address")
        if domain and at != domain:
            yield Problem(F, path, "%s is on the domain %s; official addresses are on the "
                          "main domain %s (domain.yml)" % (shown(address), at, domain),
                          "write %s@%s" % (local.lower(), domain))
        elif local != local.lower():
            yield Problem(F, path, "the local part of %s has capital letters; addresses are "
                          "written in lowercase" % shown(address),
                          "write %s" % address.lower())


@rule("E1-RENAMED", "E1", "A renamed account names its old address once, on the main domain, not in use")
def renamed_accounts(ctx):
    domain, addresses = ctx.main_domain, _addresses(ctx)
    current = {str(acc.get("address")).lower() for unused_index, acc in _accounts(ctx)
               if isinstance(acc.get("address"), str)}
    seen = {}
    for index, acc in _accounts(ctx):
        old = acc.get("renamed_from")
        local, at = _split(old, addresses)
        if local is None:
            continue
        path = ("accounts", index, "renamed_from")
        key = old.lower()
        if domain and at != domain:
            yield Problem(F, path, "%s was never an official address: it is not on the main domain %s"
                          % (shown(old), domain), "write the account's old address at %s" % domain)
        elif key == str(acc.get("address")).lower():
            yield Problem(F, path, "%s is renamed from its own address" % shown(old),
                          "remove renamed_from")
        elif key in current:
            yield Problem(F, path, "%s is still the address of another account of mail.yml: an "
                          "entry cannot be renamed while it is in use" % shown(old),
                          "rename one account only, or remove renamed_from")
        elif key in seen:
            yield Problem(F, path, "%s is the old address of accounts[%d] as well: one entry "
                          "(and its mailbox) goes to one account" % (shown(old), seen[key]),
                          "keep renamed_from on one account")
        seen.setdefault(key, index)


@rule("E1-AGENCY", "E1", "An agency's account is <agency mail name>@domain, one per agency")
def agency_accounts(ctx):
    seen, addresses = {}, _addresses(ctx)
    for index, acc in _accounts(ctx):
        owner = acc.get("owner")
        if acc.get("kind") != "agency" or _agency(ctx, owner) is None:
            continue
        local, unused_domain = _split(acc.get("address"), addresses)
        expected = ctx.mail_name(owner)
        if local is not None and local.lower() != expected:
            yield Problem(F, ("accounts", index, "address"),
                          "the agency account of %s is %s; an agency's account is its mail name "
                          "at the main domain, %s@%s" % (
                              owner, shown(acc["address"]), expected, ctx.main_domain),
                          "write %s@%s, or correct mail_name of %s in agencies.yml" % (
                              expected, ctx.main_domain, owner))
        if acc.get("status") == "active":
            if owner in seen:
                yield Problem(F, ("accounts", index, "owner"),
                              "%s has a second active agency account (the first is at line "
                              "%d); an agency has one official address" % (
                                  owner, _line(ctx, F, ("accounts", seen[owner], "address"))),
                              "keep one agency account per agency; make this one kind: event "
                              "or position, or deactivate it")
            seen.setdefault(owner, index)


_TEMPLATES = {}


def _template_pattern(template, mail_name):
    """The compiled local part of a position address (a few per registry, built once)."""
    key = (template, mail_name)
    if key not in _TEMPLATES:
        if len(_TEMPLATES) > 4096:
            _TEMPLATES.clear()
        _TEMPLATES[key] = re.compile(re.escape(template).replace(
            re.escape("{agency}"), re.escape(mail_name)).replace(re.escape("{slug}"), SLUG)
            + r"\Z")
    return _TEMPLATES[key]


@rule("E2-POSITION", "E2", "Position accounts follow the city's address template; only they "
      "have a position")
def position_accounts(ctx):
    templates = ctx.section("city.yml", "policy", "mail").get("position_addresses")
    templates = templates if isinstance(templates, dict) else None
    addresses = _addresses(ctx)
    for index, acc in _accounts(ctx):
        kind, position = acc.get("kind"), acc.get("position")
        if kind != "position":
            if kind in KINDS and "position" in acc:
                yield Problem(F, ("accounts", index, "position"),
                              "%s is an account of kind %s with a position (%s); only a "
                              "position account has one" % (
                                  shown(acc.get("address")), kind, shown(position)),
                              "remove position, or set kind: position if this is the account "
                              "of an office", at="key")
            continue
        if templates is None or not isinstance(position, str) or not POSITION_KEY.match(position):
            continue  # city.yml's or the schema's error
        if position not in templates:
            yield Problem(F, ("accounts", index, "position"),
                          "position %s is not a position of city.yml policy.mail."
                          "position_addresses (%s)" % (shown(position), ", ".join(sorted(
                              str(k) for k in templates))),
                          "use one of those, or add the position and its address there")
            continue
        local, unused_domain = _split(acc.get("address"), addresses)
        template, owner = templates[position], acc.get("owner")
        if local is None or not isinstance(template, str) or (
                "{agency}" in template and _agency(ctx, owner) is None):
            continue
        mail_name = ctx.mail_name(owner) if "{agency}" in template else ""
        if not _template_pattern(template, mail_name).match(local):
            expected = template.replace("{agency}", mail_name)
            yield Problem(F, ("accounts", index, "address"),
                          "position account %s does not follow the address of %s, %s@%s "
                          "(city.yml policy.mail.position_addresses)" % (
                              shown(acc["address"]), position, expected, ctx.main_domain),
                          "name it %s@%s%s" % (expected, ctx.main_domain,
                                               " ({slug} names the field)"
                                               if "{slug}" in template else ""))


def _head_accounts(ctx):
    """((owner, position) -> [(index, account)], owners in doubt, all in doubt).

    An account whose kind, owner, position or status is malformed may be the head's
    account: the schema reports it, and the heads it may belong to are not reported."""
    held, doubtful = {}, set()
    items = ctx.data(F).get("accounts")
    if not isinstance(items, list):
        return held, doubtful, True
    agencies = defined(ctx, "agencies")
    for index, acc in enumerate(items):
        if not isinstance(acc, dict):
            return held, doubtful, True
        kind, owner, position = acc.get("kind"), acc.get("owner"), acc.get("position")
        if kind in ("agency", "personal", "event"):
            continue
        # A position account, or one whose kind is malformed (it may be one).
        if not agencies.well_formed(owner):
            return held, doubtful, True
        if kind != "position" or not isinstance(position, str) or \
                acc.get("status") not in STATUSES:
            doubtful.add(owner)
            continue
        held.setdefault((owner, position), []).append((index, acc))
    return held, doubtful, False


def _counts(acc):
    """An account that serves its holder: active, or deactivated for a breach (E11: it
    comes back on reactivation); not one deactivated or deleted because its holder left."""
    deact = acc.get("deactivation")
    return acc.get("status") == "active" or (
        acc.get("status") == "deactivated" and isinstance(deact, dict)
        and deact.get("reason") == "breach")


@rule("E2-HEAD", "E2", "The head of the mayor's office, the Setda, each Perangkat Daerah and "
      "each BUMD holds its position account")
def head_accounts(ctx):
    people, agencies = defined(ctx, "people"), defined(ctx, "agencies")
    held, doubtful, in_doubt = _head_accounts(ctx)
    if in_doubt:
        return
    templates = ctx.section("city.yml", "policy", "mail").get("position_addresses")
    templates = templates if isinstance(templates, dict) else {}
    for index, agency in ctx.entries(AG, "agencies"):
        code, head, kind = agency.get("code"), agency.get("head"), agency.get("kind")
        position = HEAD_POSITION.get(kind) if isinstance(kind, str) else None
        person = ctx.people.get(head) if isinstance(head, str) else None
        if position is None or person is None or not agencies.well_formed(code) or \
                code in doubtful:
            continue  # no head (a vacant post), or one REG-REF reports
        path, name = ("agencies", index, "head"), shown(person.get("name"))
        if person.get("status") in LEFT:
            yield Problem(AG, path, "the head of %s is %s (%s), whose status in people.yml is "
                          "%s; the head is a person in office" % (
                              code, name, head, person.get("status")),
                          "name the new head, or remove head while the post is vacant (led by "
                          "a Plt.)")
            continue
        all_of = held.get((code, position), ())
        accounts = [(i, acc) for i, acc in all_of if _counts(acc)]
        if not accounts:
            gone = ("; its account %s is %s" % (shown(all_of[0][1].get("address")),
                                                all_of[0][1].get("status"))) if all_of else ""
            template = templates.get(position)
            address = ("%s@%s" % (template.replace("{agency}", ctx.mail_name(code)),
                                  ctx.main_domain)
                       if isinstance(template, str) else "<address>")
            yield Problem(AG, path, "the head of %s, %s (%s), has no position account: "
                          "mail.yml has no active account of kind position, position %s, "
                          "owner %s%s; the regulation gives every %s one" % (
                              code, name, head, position, code, gone, _HOLDERS[position]),
                          "%sadd to mail.yml: {address: %s, kind: position, owner: %s, "
                          "position: %s, holder: \"%s\", status: active}" % (
                              "reactivate it for the new head (reactivation), or " if gone
                              and all_of[0][1].get("status") == "deactivated" else "",
                              address, code, position, head))
            continue
        holders = [acc.get("holder") for unused_index, acc in accounts]
        if head in holders or not all(people.well_formed(h) for h in holders):
            continue  # a missing or malformed holder is the schema's error
        first, acc = accounts[0]
        yield Problem(F, ("accounts", first, "holder"),
                      "%s is the position account of the head of %s, but its holder is %s%s "
                      "while agencies.yml names %s (%s) as head (line %d); only the head "
                      "knows its password" % (
                          shown(acc.get("address")), code, acc.get("holder"),
                          " (%s)" % shown(ctx.people[acc.get("holder")].get("name"))
                          if acc.get("holder") in ctx.people else "", head, name,
                          _line(ctx, AG, path)),
                      "set holder: \"%s\" and reset the password (password_resets reason: "
                      "head-changed), or correct head in agencies.yml" % head)


_HOLDERS = {"wali-kota": "Wali Kota", "sekda": "Sekretaris Daerah",
            "kepala-pd": "Kepala Perangkat Daerah", "direktur-bumd": "Direktur BUMD"}


@rule("E2-PERSONAL", "E2", "A personal account is an ASN's, named after the ASN")
def personal_accounts(ctx):
    addresses = _addresses(ctx)
    for index, acc in _accounts(ctx):
        if acc.get("kind") != "personal":
            continue
        holder = acc.get("holder")
        person = ctx.people.get(holder) if isinstance(holder, str) else None
        local, unused_domain = _split(acc.get("address"), addresses)
        if person is None or local is None:
            continue
        if person.get("kind") == "non-asn":
            yield Problem(F, ("accounts", index, "holder"),
                          "personal account %s belongs to %s, who is not an ASN (kind "
                          "non-asn); personal accounts are for ASN" % (
                              shown(acc["address"]), shown(person.get("name"))),
                          "make it a position or event account, or correct the holder")
        name = person.get("name")
        if not isinstance(name, str) or not name:
            continue
        if not localpart_matches_name(local.lower(), name):
            try:
                suggestion = name_to_localpart(name)
            except ValueError:
                suggestion = "<name>"
            if len(suggestion) > 64:  # RFC 5321: a local part has at most 64 characters
                suggestion = "<the name without titles, shortened to 64 characters>"
            yield Problem(F, ("accounts", index, "address"),
                          "%s is not formed from its holder's name %s; a personal address is "
                          "the name without titles" % (shown(acc["address"]), shown(name)),
                          "write e.g. %s@%s (or correct the holder)" % (suggestion,
                                                                        ctx.main_domain))


@rule("E2-REFS", "E2", "Owners and holders of accounts exist")
def account_references(ctx):
    agencies, people = defined(ctx, "agencies"), defined(ctx, "people")
    for index, acc in _accounts(ctx):
        address = shown(acc.get("address"))
        for field, index_of in (("owner", agencies), ("holder", people)):
            p = undefined(index_of, F, ("accounts", index, field), acc.get(field),
                          "the %s of %s" % (field, address))
            if p:
                yield p


@rule("E3-EVENT", "E3", "Event accounts are separate from the agency's account")
def event_accounts(ctx):
    names = {ctx.mail_name(code): code for code in ctx.agencies}
    addresses = _addresses(ctx)
    for index, acc in _accounts(ctx):
        if acc.get("kind") != "event":
            continue
        local, unused_domain = _split(acc.get("address"), addresses)
        if local is not None and local.lower() in names:
            yield Problem(F, ("accounts", index, "address"),
                          "event account %s takes the address of the agency account of %s; an "
                          "event account is separate from the agency's" % (
                              shown(acc["address"]), names[local.lower()]),
                          "give the event its own name (e.g. harijadi)")


@rule("E4-ADMIN", "E4", "An agency with its own account names the admin of its mail, a person "
      "in service")
def agency_admin(ctx):
    # Position accounts are run by their holders and personal ones by Kepegawaian:
    # only the agency's own account needs an admin.
    owners = {acc.get("owner") for unused_index, acc in _accounts(ctx)
              if acc.get("status") == "active" and acc.get("kind") == "agency"
              and isinstance(acc.get("owner"), str)}
    for index, agency in ctx.entries(AG, "agencies"):
        code, admin = agency.get("code"), agency.get("mail_admin")
        if "mail_admin" not in agency:
            if isinstance(code, str) and code in owners:
                yield Problem(AG, ("agencies", index),
                              "%s has an active agency account but no mail_admin; its head "
                              "appoints an admin for it" % code,
                              "set mail_admin to the id (people.yml) of the admin its head "
                              "appointed; new passwords are handed to that admin", at="key")
            continue
        person = ctx.people.get(admin) if isinstance(admin, str) else None
        if person is not None and person.get("status") in LEFT:
            yield Problem(AG, ("agencies", index, "mail_admin"),
                          "the mail_admin of %s is %s (%s), whose status in people.yml is %s; "
                          "the admin of an agency's mail is a person in service" % (
                              code if isinstance(code, str) and len(code) <= 32 else shown(code),
                              shown(person.get("name")), admin,
                              person.get("status")),
                          "set mail_admin to the admin its head appointed in their place, and "
                          "reset the agency account's password")


@rule("E6-POLICY", "E6", "The password policy is not weaker than the regulation's floor")
def password_policy(ctx):
    policy = ctx.section("city.yml", "policy", "mail")
    path = ("policy", "mail")
    length = policy.get("password_min_length")
    if isinstance(length, int) and not isinstance(length, bool) and length < PASSWORD_MIN_LENGTH:
        yield Problem("city.yml", path + ("password_min_length",),
                      "password_min_length is %d; the regulation (E6) requires at least %d "
                      "characters" % (length, PASSWORD_MIN_LENGTH),
                      "set password_min_length to %d or more: the city may ask for more than "
                      "the regulation, never for less" % PASSWORD_MIN_LENGTH)
    classes = policy.get("password_classes")
    if isinstance(classes, list):
        lacking = [c for c in PASSWORD_CLASSES if c not in classes]
        if lacking:
            yield Problem("city.yml", path + ("password_classes",),
                          "password_classes lacks %s; the regulation (E6) requires "
                          "lowercase, uppercase and digits (lower, upper, digit)"
                          % ", ".join(lacking),
                          "list at least lower, upper and digit (symbol may be added)")


@rule("E9-VALIDATION", "E9", "Deactivation carries Kepegawaian's validation")
def deactivation_validated(ctx):
    personnel = ctx.roles.get("personnel_agency")
    personnel = personnel if isinstance(personnel, str) else None
    people = defined(ctx, "people")
    for index, acc in _accounts(ctx):
        deact = acc.get("deactivation")
        if not isinstance(deact, dict):
            continue
        reason = deact.get("reason")
        if reason not in REASONS or reason == "breach":
            continue  # a breach needs no validation; a malformed reason is the schema's
        path = ("accounts", index, "deactivation")
        who = deact.get("validated_by")
        lacking = [k for k in ("validated_by", "validation_ref") if k not in deact]
        if lacking:
            yield Problem(F, path, "%s is deactivated (%s) without %s; a departure is "
                          "deactivated only after Kepegawaian (%s) validated it" % (
                              shown(acc.get("address")), reason, " and ".join(lacking),
                              personnel),
                          "add validated_by (the id of the person of %s who validated it) and "
                          "validation_ref (the reference of the validation)" % personnel,
                          at="key")
            if "validated_by" in lacking:
                continue
        p = undefined(people, F, path + ("validated_by",), who,
                      "the validator of the deactivation of %s" % shown(acc.get("address")))
        if p:
            yield p
        elif who in people and personnel and ctx.agencies.get(personnel) is not None \
                and not ctx.person_in_agency(who, personnel):
            yield Problem(F, path + ("validated_by",),
                          "the deactivation of %s was validated by %s, who is not of %s; a "
                          "departure is validated by the personnel agency (city.yml roles."
                          "personnel_agency)" % (shown(acc.get("address")), who, personnel),
                          "name the person of %s who validated it" % personnel)


@rule("E9-HOLDER-LEFT", "E9", "Accounts of people who left are deactivated", severity=WARNING)
def holder_left(ctx):
    for index, acc in _accounts(ctx):
        holder = acc.get("holder")
        person = (ctx.people.get(holder) if isinstance(holder, str) else None) or {}
        if acc.get("status") == "active" and person.get("status") in LEFT:
            yield Problem(F, ("accounts", index, "status"),
                          "%s is active but its holder %s has %s" % (
                              shown(acc.get("address")), shown(person.get("name")),
                              person.get("status")),
                          "deactivate it once Kepegawaian validates the departure")


@rule("E11-REACTIVATION", "E11", "Reactivation needs request, minutes and echelon-II approval")
def reactivation(ctx):
    people = defined(ctx, "people")
    for index, acc in _accounts(ctx):
        deact, react = acc.get("deactivation"), acc.get("reactivation")
        path = ("accounts", index)
        status, address = acc.get("status"), shown(acc.get("address"))
        if "deactivation" not in acc:
            if "reactivation" in acc:
                yield Problem(F, path + ("reactivation",), "%s has a reactivation but no "
                              "deactivation; only a deactivated account is reactivated" % address,
                              "remove the reactivation, or add the deactivation it undoes",
                              at="key")
            continue
        if not isinstance(deact, dict):
            continue
        ddate = parse_date(deact.get("date"))
        if status == "active" and "reactivation" not in acc:
            yield Problem(F, path + ("status",), "%s was deactivated on %s and is active again "
                          "without a reactivation record; reactivation needs a request, "
                          "minutes and the approval of the echelon-II superior" % (
                              address, ddate or "(no date)"),
                          "add reactivation (request, minutes, statement, approved_by, date) or "
                          "set status: deactivated")
            continue
        if not isinstance(react, dict):
            continue
        rdate = parse_date(react.get("date"))
        if ddate and rdate and rdate <= ddate:
            yield Problem(F, path + ("reactivation", "date"), "the reactivation of %s (%s) is "
                          "not after its deactivation (%s)" % (address, rdate, ddate),
                          "correct the dates: an account is reactivated after it was "
                          "deactivated")
        elif status in STATUSES and status != "active" and ddate and rdate:
            yield Problem(F, path + ("status",), "%s has a reactivation after its deactivation "
                          "but status %s; a reactivated account is active" % (address, status),
                          "set status: active, or remove the reactivation")
        who = react.get("approved_by")
        p = undefined(people, F, path + ("reactivation", "approved_by"), who,
                      "the approver of the reactivation of %s" % address)
        if p:
            yield p
        elif isinstance(who, str) and who in ctx.people and (
                ctx.people[who].get("echelon") not in ("I", "II")):
            yield Problem(F, path + ("reactivation", "approved_by"),
                          "the reactivation of %s is approved by %s, whose echelon is %s; it "
                          "needs the approval of an echelon I or II superior" % (
                              address, shown(ctx.people[who].get("name")),
                              shown(ctx.people[who].get("echelon")) if ctx.people[who].get(
                                  "echelon") is not None else "none"),
                          "the direct superior at echelon II (or I) must approve it")


@rule("E5-RESET", "E5", "A reset ticket is used once")
def reset_tickets(ctx):
    seen = {}
    for index, acc in _accounts(ctx):
        resets = acc.get("password_resets")
        for rindex, reset in enumerate(resets if isinstance(resets, list) else ()):
            ticket = reset.get("ticket") if isinstance(reset, dict) else None
            if not isinstance(ticket, str):
                continue
            if ticket in seen:
                yield Problem(F, ("accounts", index, "password_resets", rindex, "ticket"),
                              "reset ticket %s is used a second time (first for %s); each "
                              "written request is used once" % (
                                  shown(ticket), shown(seen[ticket])),
                              "give this reset the ticket of its own written request")
            seen.setdefault(ticket, acc.get("address"))


PE = "people.yml"


def _handover_recipients(ctx):
    """{person id: [addresses]} of everyone a new or reset password would be handed to: the
    holders of position and personal accounts, the mail_admin of an agency with an agency or
    event account; accounts not deleted (a deactivated one is created locked, with a
    password, and comes back by reactivation with it)."""
    out = {}
    for unused_index, acc in _accounts(ctx):
        if acc.get("status") not in STATUSES or acc.get("status") == "deleted" or \
                acc.get("kind") not in KINDS:
            continue
        person = recipient_of(acc, ctx.agencies)
        if person is not None:
            out.setdefault(person, []).append(acc.get("address"))
    return out


def _keys_of(person):
    keys = person.get("handover_keys")
    return keys if isinstance(keys, list) else None


def _parsed(ctx, key):
    """(identity, None) or (None, why) of a hand-over key; each key is parsed once a run."""
    cache = ctx.__dict__.setdefault("_handover_keys", {})
    if key not in cache:
        try:
            cache[key] = (handover_keys.parse(key)[1], None)
        except handover_keys.HandoverKeyError as exc:
            cache[key] = (None, str(exc))
    return cache[key]


@rule("E6-HANDOVER-KEY", "E6", "Whoever receives new passwords has a hand-over key of their own: "
      "the holder of a position or personal account, the mail_admin of an agency account")
def handover_key_holders(ctx):
    recipients = _handover_recipients(ctx)
    owner_of = {}  # key identity -> (person id, index in people.yml)
    for index, person in ctx.entries(PE, "people"):
        pid = person.get("id")
        if not isinstance(pid, str):
            continue
        keys = _keys_of(person)
        if "handover_keys" not in person and pid in recipients:
            addresses = recipients[pid]
            yield Problem(PE, ("people", index),
                          "%s (%s) receives the new passwords of %s but has no handover_keys: "
                          "a password is handed only to its holder or the agency's e-mail "
                          "officer, encrypted to their own public key" % (
                              shown(person.get("name")), pid,
                              ", ".join(shown(a) for a in addresses[:3])
                              + (" and %d more" % (len(addresses) - 3) if len(addresses) > 3 else "")),
                          "ask them for a public key and add handover_keys: [\"age1...\"] (age-keygen "
                          "-y KEYFILE prints it) or [\"ssh-ed25519 AAAA...\"] (ssh-keygen -y -f "
                          "KEYFILE); never a private key", at="key")
            continue
        for kindex, key in enumerate(keys or ()):
            ident = _parsed(ctx, key)[0] if isinstance(key, str) else None
            if ident is None:
                continue  # the schema's or E6-HANDOVER-KEY-FORMAT's error
            first = owner_of.setdefault(ident, (pid, index, kindex))
            if first[0] != pid:
                yield Problem(PE, ("people", index, "handover_keys", kindex),
                              "this hand-over key is also a key of %s (line %d): a hand-over "
                              "file opens for one person only, so each person has keys of "
                              "their own" % (first[0], _line(ctx, PE, (
                                  "people", first[1], "handover_keys", first[2]))),
                              "list here the public key of %s's own key pair" % pid)


@rule("E6-HANDOVER-KEY-FORMAT", "E6", "A hand-over key is one age encrypts to: an age X25519 key "
      "(bech32 checksum, 32 bytes), or an ssh-ed25519 or ssh-rsa (2048 to 16384 bits) key, parsed")
def handover_key_format(ctx):
    for index, person in ctx.entries(PE, "people"):
        for kindex, key in enumerate(_keys_of(person) or ()):
            if not isinstance(key, str) or not handover_keys.KEY_RE.match(key):
                continue  # not of the schema's form: the schema's error
            why = _parsed(ctx, key)[1]
            if why is not None:
                yield Problem(PE, ("people", index, "handover_keys", kindex),
                              "the hand-over key of %s is not a key age can encrypt to: %s" % (
                                  person.get("id") if isinstance(person.get("id"), str)
                                  and len(person.get("id")) <= 64 else "this person", why),
                              "paste the public key line again as the tool printed it: "
                              "age-keygen -y KEYFILE (age1...) or ssh-keygen -y -f KEYFILE "
                              "(ssh-ed25519 AAAA... or ssh-rsa AAAA...)")
