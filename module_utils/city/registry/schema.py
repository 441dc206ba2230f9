"""JSON Schema checks of registry files.

A compiled validator (jsonschema-rs, in Rust; fastjsonschema where it is missing)
answers "valid?" at a fraction of the cost of a walk over the data in Python; only a
file that fails is checked again by jsonschema, which lists every error with its path.
Valid registries, the common case, stay fast. No message embeds a whole value: each
names the value by a bounded form (findings.shown).
"""
import difflib
import functools
import json
import os
import re

from ansible.module_utils.city.registry.findings import ERROR, Finding

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover - pinned in requirements.txt
    jsonschema_rs = None
try:
    import fastjsonschema
except ImportError:  # pragma: no cover - pinned in requirements.txt
    fastjsonschema = None
try:
    import jsonschema
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city.registry.findings import shown

# Which schema governs a registry file, by its name relative to the registry.
SCHEMA_BY_FILE = {
    "city.yml": "city",
    "agencies.yml": "agencies",
    "people.yml": "people",
    "domain.yml": "domain",
    "mail.yml": "mail",
    "sms.yml": "sms",
    "sms-users.yml": "sms-users",
}
# Registry files that may be absent.
OPTIONAL_SCHEMA_BY_FILE = {
    "approval-trust.yml": "approval-trust",
}
BLAST_DIR = "blasts/"


def schema_name_for(relname):
    if relname.startswith(BLAST_DIR):  # blasts/<id>.yml and blasts/archive/<id>.yml
        return "blast"
    return SCHEMA_BY_FILE.get(relname) or OPTIONAL_SCHEMA_BY_FILE.get(relname)


class SchemaSet:
    """The schemas of one schema directory, loaded and compiled once."""

    def __init__(self, schema_dir):
        self.schema_dir = schema_dir
        self._schemas = {}
        self._fast = {}
        self._full = {}
        self.last_fast_error = None

    def schema(self, name):
        if name not in self._schemas:
            with open(os.path.join(self.schema_dir, name + ".schema.json"), encoding="utf-8") as fh:
                self._schemas[name] = json.load(fh)
        return self._schemas[name]

    def is_valid(self, name, data):
        if jsonschema_rs is not None:
            if name not in self._fast:
                self._fast[name] = jsonschema_rs.validator_for(
                    self.schema(name), formats=_FAST_FORMATS, validate_formats=True)
            return self._fast[name].is_valid(data)
        if fastjsonschema is None:
            return not any(True for dummy in self._full_validator(name).iter_errors(data))
        if name not in self._fast:
            self._fast[name] = fastjsonschema.compile(self.schema(name),
                                                      formats=_FAST_FORMATS)
        try:
            self._fast[name](data)
        except fastjsonschema.JsonSchemaException as exc:
            self.last_fast_error = exc
            return False
        return True

    def _requirements(self, name):
        """Property name -> x-requirement, over the whole schema.

        A ``required`` error raised in an if/then branch does not see the properties
        of the object, so the requirement of a missing key is looked up here.
        """
        found = {}

        def walk(node):
            if isinstance(node, dict):
                for key, sub in (node.get("properties") or {}).items():
                    if isinstance(sub, dict) and "x-requirement" in sub:
                        found.setdefault(key, sub["x-requirement"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        walk(self.schema(name))
        return found

    def _full_validator(self, name):
        if name not in self._full:
            base = jsonschema.validators.validator_for(self.schema(name))
            cls = jsonschema.validators.extend(base, {"pattern": _pattern})
            self._full[name] = cls(self.schema(name), format_checker=_full_format_checker())
        return self._full[name]

    def findings(self, name, data, display):
        """Every schema error of ``data`` as findings (empty when valid)."""
        if self.is_valid(name, data):
            return []
        out = []
        for error in self._full_validator(name).iter_errors(data):
            out.extend(_to_findings(error, display, self._requirements(name)))
        if not out:
            # The two validators disagree (a format only one knows): never let an
            # invalid file pass silently.
            path, message = [], "the compiled schema check rejects the file"
            if jsonschema_rs is not None:
                for error in self._fast[name].iter_errors(data):
                    path = list(error.instance_path)
                    message = "the compiled schema check rejects the value at %s (%s)" % (
                        "/".join(str(p) for p in path) or "(top)", error.kind.__class__.__name__)
                    break
            elif self.last_fast_error is not None:
                path = list(getattr(self.last_fast_error, "path", None) or [])[1:]
            out.append(Finding(ERROR, "REG-SCHEMA", "REG", display, path, message,
                               "see the schema " + name + ".schema.json"))
        return out


def _iso_date(text):
    import datetime
    try:
        datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return len(text) == 10


def _iso_datetime(text):
    import datetime
    try:
        datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return "T" in text or " " in text


def _ip(version):
    import ipaddress

    def check(text):
        try:
            return ipaddress.ip_address(text).version == version
        except (TypeError, ValueError):
            return False
    return check


# Both validators use the same format checks, so a file the fast one rejects always
# gets detailed errors from the full one.
_FAST_FORMATS = {"date": _iso_date, "date-time": _iso_datetime, "ipv4": _ip(4), "ipv6": _ip(6)}


def _full_format_checker():
    checker = jsonschema.FormatChecker(formats=())
    for fmt, func in _FAST_FORMATS.items():
        checker.checks(fmt)(lambda value, func=func: not isinstance(value, str) or func(value))
    return checker


# Python's "$" also matches before a final newline; ECMA-262's (the schemas' dialect,
# and fastjsonschema's reading) does not. Both validators must read a pattern alike, or
# "modem1\n" fails the fast one and passes the full one, and its error loses the rule
# id and line of its field (docs/registry-destinations.md).
_DOLLAR = re.compile(r"(?<!\\)\$")


@functools.lru_cache(maxsize=None)
def _end_anchored(pattern):
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _end_anchored(pattern).search(instance):
        yield jsonschema.ValidationError("%r does not match %r" % (instance, pattern))


def _requirement(schema):
    return schema.get("x-requirement", "REG") if isinstance(schema, dict) else "REG"


def _field(path):
    """How a message names the value at ``path``: its key and where it sits."""
    if not path:
        return "the file"
    where = "/".join(str(p) for p in path)
    last = path[-1]
    return ("'%s' (%s)" % (last, where)) if isinstance(last, str) else "entry %s" % where


def _found(value):
    """The value as found, in a bounded form: a message never embeds a whole value."""
    if isinstance(value, bool):
        return "the boolean %s" % ("true" if value else "false")
    if value is None:
        return "empty"
    if isinstance(value, (int, float)):
        return "the number %s" % shown(value)
    if isinstance(value, str):
        return "the text %s" % shown(value)
    return shown(value)


_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "object": "a mapping (key: value lines)",
               "array": "a list (lines starting with '- ')", "null": "nothing"}


def _type_name(expected):
    if isinstance(expected, list):
        return " or ".join(_TYPE_NAMES.get(t, t) for t in expected)
    return _TYPE_NAMES.get(expected, str(expected))


def _form(schema):
    """What a pattern asks for, in words: the schema's x-form, or its description."""
    form = schema.get("x-form") if isinstance(schema, dict) else None
    if form:
        return form
    desc = (schema.get("description") or "") if isinstance(schema, dict) else ""
    first = desc.split(". ")[0].rstrip(".")
    if not first:
        return "the form the schema gives"
    if len(first) > 200:
        first = first[:200].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    if first[:1].isupper() and not first[1:2].isupper():
        first = first[0].lower() + first[1:]  # "expected identity shown on ..."
    return first


_LIMITS = {"minItems": ("has %d item(s)", "at least %s item(s)", len),
           "maxItems": ("has %d item(s)", "at most %s item(s)", len),
           "minLength": ("has %d character(s)", "at least %s character(s)", len),
           "maxLength": ("has %d character(s)", "at most %s character(s)", len),
           "minProperties": ("has %d key(s)", "at least %s key(s)", len),
           "maxProperties": ("has %d key(s)", "at most %s key(s)", len),
           "minimum": ("is %s", "at least %s", None), "maximum": ("is %s", "at most %s", None),
           "exclusiveMinimum": ("is %s", "more than %s", None),
           "exclusiveMaximum": ("is %s", "less than %s", None)}


def _to_findings(error, display, requirements):
    path = list(error.absolute_path)
    kind = error.validator
    schema = error.schema
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            fix = ("did you mean '%s'? " % close[0] if close else "") + \
                "allowed keys here: " + ", ".join(allowed)
            out.append(Finding(ERROR, "REG-UNKNOWN-KEY", "REG", display, path + [key],
                               "unknown key %s in %s; expected one of the keys the schema "
                               "defines" % (shown(key), _field(path)), fix, at="key"))
        return out
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        out = []
        for key in missing:
            sub = schema.get("properties", {}).get(key, {})
            req = sub.get("x-requirement") or requirements.get(key, "REG")
            desc = sub.get("description", "")
            out.append(Finding(ERROR, "%s-REQUIRED" % req, req, display, path,
                               "%s has no key '%s'; it is required" % (_field(path), key),
                               "add '%s'%s" % (key, (": " + desc) if desc else ""), at="key"))
        return out
    req = _requirement(schema)
    field = _field(path)
    value = error.instance
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        message = "%s is %s; expected one of: %s" % (field, _found(value), allowed)
        fix = "write one of: " + allowed
    elif kind == "const":
        message = "%s is %s; expected %s" % (field, _found(value), shown(error.validator_value))
        fix = "write %s" % shown(error.validator_value)
    elif kind == "type":
        message = "%s is %s; expected %s" % (field, _found(value), _type_name(
            error.validator_value))
        fix = "write %s here%s" % (_type_name(error.validator_value), _quote_hint(error))
    elif kind == "pattern":
        message = "%s is %s; expected %s" % (field, _found(value), _form(schema))
        example = schema.get("examples") or schema.get("x-example")
        fix = ("write it like %s" % shown(example[0] if isinstance(example, list) else example)
               if example else "write it in that form") + \
            " (pattern %s)" % shown(error.validator_value, 120)
    elif kind == "format":
        expected = {"date": "a date YYYY-MM-DD", "date-time": "a time "
                    "YYYY-MM-DDTHH:MM:SS+07:00", "ipv4": "a dotted IPv4 address",
                    "ipv6": "an IPv6 address"}.get(error.validator_value,
                                                   "a valid %s" % error.validator_value)
        message = "%s is %s; expected %s" % (field, _found(value), expected)
        fix = "write %s" % expected
    elif kind in _LIMITS:
        found_form, expected_form, measure = _LIMITS[kind]
        amount = measure(value) if measure and hasattr(value, "__len__") else shown(value)
        message = "%s %s; expected %s" % (field, found_form % amount,
                                          expected_form % error.validator_value)
        fix = schema.get("description") or ("write %s" % expected_form % error.validator_value)
    elif kind == "uniqueItems":
        message = "%s holds the same item twice; expected each item once" % field
        fix = "remove the repeated item"
    else:
        message = "%s (%s) does not satisfy the schema's '%s' rule; expected: %s" % (
            field, _found(value), kind, _form(schema))
        fix = schema.get("description") or "see the schema"
    return [Finding(ERROR, "%s-%s" % (req, kind.upper()), req, display, path, message, fix)]


def _quote_hint(error):
    if error.validator_value == "string" and isinstance(error.instance, (int, float, bool)):
        return " (put it in quotes, e.g. \"%s\")" % error.instance
    return ""
