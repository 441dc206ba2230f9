"""Rules over agencies, people, the city's roles and uniqueness of keys."""
import datetime

from ansible.module_utils.registry.rules.base import Problem, reference, rule, unique

PERSON_FILES = "people.yml"


@rule("REG-UNIQUE", "REG", "Codes, ids, names and addresses are unique in their list")
def unique_keys(ctx):
    yield from unique(ctx, "agencies.yml", "agencies", "code", "agency code")
    yield from unique(ctx, "people.yml", "people", "id", "person id")
    yield from unique(ctx, "domain.yml", "pools", "name", "pool name")
    yield from unique(ctx, "domain.yml", "subdomains", "name", "subdomain",
                      normalise=lambda v: str(v).lower())
    yield from unique(ctx, "mail.yml", "accounts", "address", "mail address",
                      normalise=lambda v: str(v).lower())
    yield from unique(ctx, "sms.yml", "groups", "name", "group")
    yield from unique(ctx, "sms.yml", "gateways", "name", "gateway")
    yield from unique(ctx, "sms-users.yml", "users", "id", "user ID")
    yield from unique(ctx, "sms-users.yml", "users", "login", "user login")
    yield from unique(ctx, "sms-users.yml", "users", "person", "person with an SMS user")


@rule("REG-AGENCY-TREE", "REG", "Parents exist, kelurahan sit under a kecamatan, no cycles")
def agency_tree(ctx):
    for index, agency in ctx.entries("agencies.yml", "agencies"):
        parent = agency.get("parent")
        path = ("agencies", index, "parent")
        problem = reference("agencies.yml", path, parent, ctx.agencies, "agency code",
                            "agencies.yml")
        if problem:
            yield problem
            continue
        kind = agency.get("kind")
        parent_kind = (ctx.agencies.get(parent) or {}).get("kind")
        if kind == "kelurahan" and parent_kind != "kecamatan":
            yield Problem("agencies.yml", path if parent else ("agencies", index),
                          "kelurahan %s must have a kecamatan as parent" % agency.get("code"),
                          "set parent to the code of its kecamatan")
        chain = ctx.agency_and_ancestors(agency.get("code"))
        last = (ctx.agencies.get(chain[-1]) or {}).get("parent") if chain else None
        if last is not None and last in chain:
            yield Problem("agencies.yml", path, "the parents of %s form a cycle: %s" % (
                agency.get("code"), " -> ".join(chain + [last])), "break the cycle")


@rule("REG-REF", "REG", "Every person and agency a registry names exists")
def person_references(ctx):
    people, agencies = ctx.people, ctx.agencies
    for index, agency in ctx.entries("agencies.yml", "agencies"):
        for field in ("head", "mail_admin"):
            p = reference("agencies.yml", ("agencies", index, field), agency.get(field),
                          people, "person", PERSON_FILES)
            if p:
                yield p
    for index, person in ctx.entries("people.yml", "people"):
        p = reference("people.yml", ("people", index, "agency"), person.get("agency"),
                      agencies, "agency code", "agencies.yml")
        if p:
            yield p
    for role, code in ctx.roles.items():
        p = reference("city.yml", ("roles", role), code, agencies, "agency code",
                      "agencies.yml")
        if p:
            yield p


def _nip_problem(nip):
    """Why an 18-digit NIP is not well formed, or None."""
    try:
        born = datetime.date(int(nip[0:4]), int(nip[4:6]), int(nip[6:8]))
    except ValueError:
        return "its first 8 digits %s are not a birth date (YYYYMMDD)" % nip[0:8]
    year, month = int(nip[8:12]), int(nip[12:14])
    if not 1 <= month <= 12:
        return "digits 9-14 %s are not an appointment month (YYYYMM)" % nip[8:14]
    if (year, month) <= (born.year + 15, born.month):
        return "the appointment %s is not at least 15 years after the birth date" % nip[8:14]
    if nip[14] not in "12":
        return "digit 15 must be 1 (male) or 2 (female), not %s" % nip[14]
    if nip[15:18] == "000":
        return "the sequence number (last 3 digits) cannot be 000"
    return None


@rule("P1-NIP", "P1", "An ASN's id is a well-formed 18-digit NIP")
def nip_structure(ctx):
    for index, person in ctx.entries("people.yml", "people"):
        nip = person.get("id")
        if person.get("kind") != "asn" or not isinstance(nip, str):
            continue
        if len(nip) != 18 or not nip.isdigit():
            yield Problem("people.yml", ("people", index, "id"),
                          "NIP %r of %s must be 18 digits" % (nip, person.get("name")),
                          "copy the NIP from the personnel record, as a quoted string")
            continue
        why = _nip_problem(nip)
        if why:
            yield Problem("people.yml", ("people", index, "id"),
                          "NIP %s of %s is not valid: %s" % (nip, person.get("name"), why),
                          "check the NIP against the personnel record (BKPSDM)")
