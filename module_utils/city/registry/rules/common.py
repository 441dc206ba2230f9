"""Rules over agencies, people, the city's roles and uniqueness of keys.

Also the indexes of what agencies.yml and people.yml define (:func:`defined`), which every
rule that follows a reference uses, so that a reference is reported as "not defined" only
when it really names nothing: not when the list it points into did not load, is not a list,
or holds an entry whose key is malformed (the loader or the schema reports that once, and
the reference may well be meant for that entry).
"""
import datetime
import re

from ansible.module_utils.city.registry.findings import shown
from ansible.module_utils.city.registry.rules.base import Problem, rule, unique

AG, PE = "agencies.yml", "people.yml"
# The shapes of the keys, as the schemas write them (definitions agencyCode and personId):
# a value not of this shape is the schema's error, never also a rule's.
AGENCY_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,31}\Z")
PERSON_ID = re.compile(r"(?:[0-9]{18}|[a-z][a-z0-9-]{2,63})\Z")


def is_nip(value):
    """An 18-digit string (the shape of a NIP), without a regular expression: most ids are."""
    return len(value) == 18 and value.isascii() and value.isdigit()


def _person_id(value):
    return is_nip(value) or PERSON_ID.match(value) is not None


def _agency_code(value):
    return AGENCY_CODE.match(value) is not None


LEFT = ("retired", "moved", "stopped", "deceased")


class Defined:
    """The keys (``field``) of the entries of list ``key`` of ``relname``.

    ``complete`` is False when the list cannot be read whole: the file did not load (or is
    not a mapping), ``key`` is not a list, or an entry is not a mapping or has no key of
    the right shape. Then a reference that resolves to nothing may be meant for the broken
    entry, and :meth:`missing` never says it is missing.
    """

    def __init__(self, ctx, relname, key, field, shape, noun):
        self.relname, self.key, self.field, self.noun = relname, key, field, noun
        self.shape = shape  # value -> bool: of the key's form
        self.index = {}  # key value -> index of its first entry
        items = ctx.data(relname).get(key)
        self.complete = isinstance(items, list)
        for position, item in enumerate(items if self.complete else ()):
            value = item.get(field) if isinstance(item, dict) else None
            if not isinstance(value, str) or not shape(value):
                self.complete = False
            if isinstance(value, str):
                self.index.setdefault(value, position)

    def __contains__(self, value):
        return isinstance(value, str) and value in self.index

    def well_formed(self, value):
        return isinstance(value, str) and self.shape(value)

    def missing(self, value):
        """True when ``value`` is a key of the right shape that no entry defines, in a list
        read whole. A value of the wrong type or shape is the schema's error, not this."""
        return (isinstance(value, str) and value not in self.index and self.complete
                and self.shape(value))


def defined(ctx, what):
    """The :class:`Defined` index of ``"agencies"`` or ``"people"``, built once per run.

    Each call reads the file as far as Context.broken is concerned (a rule that uses the
    index of a structurally broken file depends on it, and stays silent)."""
    relname = AG if what == "agencies" else PE
    if relname in getattr(ctx, "broken", ()):
        ctx.touched_broken.add(relname)
    cache = ctx.__dict__.setdefault("_defined_indexes", {})
    if what not in cache:
        cache[what] = (Defined(ctx, AG, "agencies", "code", _agency_code, "agency")
                       if what == "agencies" else
                       Defined(ctx, PE, "people", "id", _person_id, "person"))
    return cache[what]


def undefined(index, relname, path, value, what):
    """A Problem when ``value`` (``what``, e.g. "the head of DINKES") names no entry of
    ``index``; None when it does, or when that cannot be told (see :class:`Defined`)."""
    if not index.missing(value):
        return None
    return Problem(relname, path, "%s is %s, but no %s in %s has that %s" % (
        what, shown(value), index.noun, index.relname, index.field),
        "write the %s of an entry of %s (check for a typing error), or add the %s there" % (
            index.field, index.relname, index.noun))


def _lower(value):
    """compared regardless of case"""
    return str(value).lower()


@rule("REG-UNIQUE", "REG", "Codes, ids, names and addresses are unique in their list")
def unique_keys(ctx):
    yield from unique(ctx, AG, "agencies", "code", "agency code")
    yield from unique(ctx, PE, "people", "id", "person id")
    yield from unique(ctx, "domain.yml", "pools", "name", "pool name")
    yield from unique(ctx, "domain.yml", "subdomains", "name", "subdomain", normalise=_lower)
    yield from unique(ctx, "mail.yml", "accounts", "address", "mail address",
                      normalise=_lower)
    yield from unique(ctx, "sms.yml", "groups", "name", "group")
    yield from unique(ctx, "sms.yml", "gateways", "name", "gateway")
    yield from unique(ctx, "sms-users.yml", "users", "id", "user ID")
    yield from unique(ctx, "sms-users.yml", "users", "login", "user login")
    yield from unique(ctx, "sms-users.yml", "users", "person", "person with an SMS user")


# The kind of parent each kind of agency needs (agencies.schema.json requires a parent of
# these kinds): a kelurahan is part of a kecamatan, a bagian of the Sekretariat Daerah.
PARENT_KIND = {"kelurahan": "kecamatan", "bagian": "sekretariat-daerah"}
_KIND_NAME = {"kecamatan": "a kecamatan", "sekretariat-daerah": "the Sekretariat Daerah"}


@rule("REG-AGENCY-TREE", "REG", "Parents exist, kelurahan sit under a kecamatan and bagian "
      "under the Sekretariat Daerah, no cycles")
def agency_tree(ctx):
    agencies = defined(ctx, "agencies")
    parents = {}  # code -> (index, parent code) of the agencies whose parent is defined
    for index, agency in ctx.entries(AG, "agencies"):
        code, parent = agency.get("code"), agency.get("parent")
        if not isinstance(parent, str):  # a missing parent is the schema's error
            continue
        path = ("agencies", index, "parent")
        problem = undefined(agencies, AG, path, parent, "the parent of %s" % shown(code))
        if problem:
            yield problem
            continue
        if parent not in agencies:
            continue
        if isinstance(code, str):
            parents.setdefault(code, (index, parent))
        kind = agency.get("kind")
        need = PARENT_KIND.get(kind) if isinstance(kind, str) else None
        parent_kind = (ctx.agencies.get(parent) or {}).get("kind")
        if need and isinstance(parent_kind, str) and parent_kind != need:
            yield Problem(AG, path, "the parent of %s %s is %s, of kind %s; a %s belongs to "
                          "%s (kind %s)" % (kind, shown(code), parent, shown(parent_kind), kind,
                                            _KIND_NAME[need], need),
                          "set parent to the code of %s that %s is part of" % (
                              _KIND_NAME[need], shown(code)))
    yield from _cycles(parents)


def _cycles(parents):
    """One Problem per cycle of parents (at the first agency of the cycle in the file)."""
    done = set()
    for start in parents:
        walk, code = [], start
        while code in parents and code not in done and code not in walk:
            walk.append(code)
            code = parents[code][1]
        if code in walk:
            cycle = walk[walk.index(code):]
            first = min(cycle, key=lambda c: parents[c][0])
            at = cycle.index(first)
            chain = cycle[at:] + cycle[:at] + [first]
            yield Problem(AG, ("agencies", parents[first][0], "parent"),
                          "the parents of %s form a cycle: %s; the parents must lead up to "
                          "an agency without a parent" % (first, " -> ".join(chain)),
                          "correct the parent of one of %s" % ", ".join(sorted(cycle)))
        done.update(walk)


@rule("REG-REF", "REG", "Every person and agency a registry names exists")
def person_references(ctx):
    people, agencies = defined(ctx, "people"), defined(ctx, "agencies")
    for index, agency in ctx.entries(AG, "agencies"):
        for field in ("head", "mail_admin"):
            p = undefined(people, AG, ("agencies", index, field), agency.get(field),
                          "%s of %s" % (field, shown(agency.get("code"))))
            if p:
                yield p
    for index, person in ctx.entries(PE, "people"):
        p = undefined(agencies, PE, ("people", index, "agency"), person.get("agency"),
                      "the agency of %s" % shown(person.get("name")))
        if p:
            yield p
    for role, code in ctx.roles.items():
        p = undefined(agencies, "city.yml", ("roles", role), code, "roles.%s" % role)
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
        return "digit 15 is %s, not 1 (male) or 2 (female)" % nip[14]
    if nip[15:18] == "000":
        return "the sequence number (last 3 digits) is 000, not 001-999"
    return None


@rule("P1-NIP", "P1", "An ASN's id is a well-formed 18-digit NIP; a non-ASN's id is not a NIP")
def nip_structure(ctx):
    # The schema checks the shape every id has (18 digits or a lowercase slug); this rule
    # checks which of the two a person's kind needs, and what the 18 digits say.
    for index, person in ctx.entries(PE, "people"):
        nip, kind = person.get("id"), person.get("kind")
        if not isinstance(nip, str) or kind not in ("asn", "non-asn"):
            continue
        nip_shaped = is_nip(nip)
        if not nip_shaped and not PERSON_ID.match(nip):
            continue  # the schema's error
        path, name = ("people", index, "id"), shown(person.get("name"))
        if kind == "asn" and not nip_shaped:
            yield Problem(PE, path, "the id of ASN %s is %s, not a NIP; an ASN's id is the "
                          "18-digit NIP" % (name, shown(nip)),
                          "write the NIP from the personnel record, quoted; or set kind: "
                          "non-asn if the person is not an ASN")
        elif kind == "asn":
            why = _nip_problem(nip)
            if why:
                yield Problem(PE, path, "NIP %s of %s is not valid: %s" % (nip, name, why),
                              "check the NIP against the personnel record (BKPSDM)")
        elif kind == "non-asn" and nip_shaped:
            yield Problem(PE, path, "the id of non-ASN %s is %s, which has the form of a NIP; "
                          "a non-ASN has no NIP and is known by a lowercase slug" % (
                              name, shown(nip)),
                          "set kind: asn if the person is an ASN; otherwise give an id such as "
                          "walikota-2025")
