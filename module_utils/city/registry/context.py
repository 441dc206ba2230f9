"""The loaded registry as the rules see it: files, typed accessors and indexes.

Rules run even when a file has schema errors (every error in one run), so every
accessor tolerates wrong shapes: it yields only the entries that are mappings.
"""
import datetime
import re
from functools import cached_property


def _entries(data, key):
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item


ARCHIVE_PREFIX = "blasts/archive/"
_DOMAIN = re.compile(r"(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+(?!-)[A-Za-z0-9-]{2,63}(?<!-)\.?\Z")


class derived:
    """An index over a file, built once; each use counts as a read of the file, so a
    rule that uses it is known to depend on it (Context.broken)."""

    def __init__(self, relname):
        self.relname = relname

    def __call__(self, func):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__
        return self

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        if self.relname in ctx.broken:
            ctx.touched_broken.add(self.relname)
        cache = ctx.__dict__.setdefault("_derived", {})
        if self.name not in cache:
            cache[self.name] = self.func(ctx)
        return cache[self.name]


class Context:
    def __init__(self, files, today=None, approval_root=None, approval_root_source=None,
                 now=None, broken=()):
        # relname -> RegistryFile (only files that parsed)
        self.files = files
        # Files that are structurally wrong (missing, unreadable, not a mapping, a section
        # of the wrong type): their own error says so, and a rule that reads one reports
        # nothing, rather than every reference into it as a separate error.
        self.broken = frozenset(broken)
        self.touched_broken = set()
        self._today_given = today is not None
        self.today = today or datetime.date.today()
        # The inventory's trust anchor of blast approvals (sms_approval__root), and where it
        # was read, for the messages; None: not pinned (an error of rule S2-TRUST).
        self.approval_root = approval_root
        self.approval_root_source = approval_root_source or "sms_approval__root"
        self._now = now

    def data(self, relname):
        if relname in self.broken:
            self.touched_broken.add(relname)
        loaded = self.files.get(relname)
        return loaded.data if loaded is not None and isinstance(loaded.data, dict) else {}

    def display(self, relname):
        loaded = self.files.get(relname)
        return loaded.display if loaded is not None else relname

    def entries(self, relname, key):
        """(index, mapping) of the list ``key`` of file ``relname`` (built once: most
        rules walk the same lists)."""
        data = self.data(relname)
        cache = self.__dict__.setdefault("_entries_cache", {})
        found = cache.get((relname, key))
        if found is None:
            found = cache[(relname, key)] = list(_entries(data, key))
        return found

    def section(self, relname, *keys):
        node = self.data(relname)
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    @property
    def blast_files(self):
        """Every blast file, those to be sent and the archived records."""
        return [name for name in self.files if name.startswith("blasts/")]

    @property
    def active_blast_files(self):
        """blasts/<id>.yml: the blasts that may still be sent."""
        return [name for name in self.blast_files if not name.startswith(ARCHIVE_PREFIX)]

    @property
    def archived_blast_files(self):
        """blasts/archive/<id>.yml: records of blasts never to be sent (again)."""
        return [name for name in self.blast_files if name.startswith(ARCHIVE_PREFIX)]

    @derived("city.yml")
    def timezone(self):
        """The city's time zone (``city.timezone``); UTC when it is unknown here."""
        name = self.section("city.yml", "city").get("timezone")
        try:
            import zoneinfo
            return zoneinfo.ZoneInfo(name) if isinstance(name, str) else datetime.timezone.utc
        except (ImportError, ValueError, KeyError):  # an unknown zone (a KeyError): UTC
            return datetime.timezone.utc

    @cached_property
    def now(self):
        """The moment deadlines are checked at: the clock, or the first moment of ``today``
        in the city's time zone when a date was given."""
        if self._now is not None:
            return self._now
        if not self._today_given:
            return datetime.datetime.now(datetime.timezone.utc)
        return datetime.datetime.combine(self.today, datetime.time(0, 0), self.timezone)

    @derived("approval-trust.yml")
    def approval_trust(self):
        """(Trust, None) from the inventory's root and approval-trust.yml, or (None, why)."""
        from ansible.module_utils.city.sms import trust
        try:
            return trust.current(self.approval_root, trust.statements_of(
                self.data(trust.TRUST_FILE))), None
        except trust.TrustError as exc:
            return None, str(exc)

    # Indexes built once and shared by every rule.
    @derived("agencies.yml")
    def agencies(self):
        return {a.get("code"): a for unused_index, a in self.entries("agencies.yml", "agencies")
                if isinstance(a.get("code"), str)}

    @derived("people.yml")
    def people(self):
        return {p.get("id"): p for unused_index, p in self.entries("people.yml", "people")
                if isinstance(p.get("id"), str)}

    @derived("sms.yml")
    def groups(self):
        return {g.get("name") for unused_index, g in self.entries("sms.yml", "groups")}

    @derived("domain.yml")
    def main_domain(self):
        """The main domain, or None when it is not a domain name (the schema's error): a
        rule comparing addresses with it then says nothing, rather than once per address."""
        name = self.section("domain.yml", "domain").get("name")
        if not isinstance(name, str) or len(name) > 254 or not _DOMAIN.match(name):
            return None
        return name.rstrip(".").lower()

    @derived("city.yml")
    def roles(self):
        return self.section("city.yml", "roles")

    @derived("city.yml")
    def policy(self):
        return self.section("city.yml", "policy")

    @derived("sms.yml")
    def ketua(self):
        return self.section("sms.yml", "secretariat").get("ketua")

    def agency_and_ancestors(self, code):
        """The agency code and its parents', up to the top (cycles stop)."""
        seen = []
        while isinstance(code, str) and code not in seen:
            seen.append(code)
            code = (self.agencies.get(code) or {}).get("parent")
        return seen

    def person_in_agency(self, person_id, agency_code):
        person = self.people.get(person_id) or {}
        return agency_code in self.agency_and_ancestors(person.get("agency"))

    def mail_name(self, code):
        agency = self.agencies.get(code) or {}
        name = agency.get("mail_name") or agency.get("acronym") or ""
        return str(name).lower()


def parse_date(value):
    """A registry date (kept as ISO text by the loader) as a date, or None."""
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
