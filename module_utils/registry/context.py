"""The loaded registry as the rules see it: files, typed accessors and indexes.

Rules run even when a file has schema errors (every error in one run), so every
accessor tolerates wrong shapes: it yields only the entries that are mappings.
"""
import datetime
from functools import cached_property


def _entries(data, key):
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield index, item


class Context:
    def __init__(self, files, today=None):
        # relname -> RegistryFile (only files that parsed)
        self.files = files
        self.today = today or datetime.date.today()

    def data(self, relname):
        loaded = self.files.get(relname)
        return loaded.data if loaded is not None and isinstance(loaded.data, dict) else {}

    def display(self, relname):
        loaded = self.files.get(relname)
        return loaded.display if loaded is not None else relname

    def entries(self, relname, key):
        """(index, mapping) of the list ``key`` of file ``relname``."""
        return _entries(self.data(relname), key)

    def section(self, relname, *keys):
        node = self.data(relname)
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    @property
    def blast_files(self):
        return [name for name in self.files if name.startswith("blasts/")]

    # Indexes built once and shared by every rule.
    @cached_property
    def agencies(self):
        return {a.get("code"): a for _, a in self.entries("agencies.yml", "agencies")
                if isinstance(a.get("code"), str)}

    @cached_property
    def people(self):
        return {p.get("id"): p for _, p in self.entries("people.yml", "people")
                if isinstance(p.get("id"), str)}

    @cached_property
    def groups(self):
        return {g.get("name") for _, g in self.entries("sms.yml", "groups")}

    @cached_property
    def main_domain(self):
        name = self.section("domain.yml", "domain").get("name")
        return name.rstrip(".").lower() if isinstance(name, str) else None

    @cached_property
    def roles(self):
        return self.section("city.yml", "roles")

    @cached_property
    def policy(self):
        return self.section("city.yml", "policy")

    @cached_property
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
