"""JSON Schema checks of registry files.

A compiled validator (fastjsonschema) answers "valid?" at close to the cost of a
walk over the data; only a file that fails is checked again by jsonschema, which
lists every error with its path. Valid registries, the common case, stay fast.
"""
import difflib
import functools
import json
import os
import re

from ansible.module_utils.registry.findings import ERROR, Finding

try:
    import fastjsonschema
except ImportError:  # pragma: no cover - pinned in requirements.txt
    fastjsonschema = None
import jsonschema

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
        if fastjsonschema is None:
            return not any(True for _ in self._full_validator(name).iter_errors(data))
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
        if not out and fastjsonschema is not None:
            # The two validators disagree (a format only one knows): never let an
            # invalid file pass silently.
            exc = self.last_fast_error
            path = [p for p in (getattr(exc, "path", None) or [])[1:]]
            out.append(Finding(ERROR, "REG-SCHEMA", "REG", display, path, str(exc.message),
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


def _describe(value):
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


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
                               "unknown key '%s'" % key, fix, at="key"))
        return out
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        out = []
        for key in missing:
            sub = schema.get("properties", {}).get(key, {})
            req = sub.get("x-requirement") or requirements.get(key, "REG")
            desc = sub.get("description", "")
            out.append(Finding(ERROR, "%s-REQUIRED" % req, req, display, path,
                               "missing required key '%s'" % key,
                               "add '%s'%s" % (key, (": " + desc) if desc else ""), at="key"))
        return out
    req = _requirement(schema)
    where = "/".join(str(p) for p in path) or "(top)"
    if kind == "enum":
        message = "%s is not one of the allowed values at %s" % (_describe(error.instance), where)
        fix = "use one of: " + ", ".join(str(v) for v in error.validator_value)
    elif kind == "type":
        message = "%s has the wrong type at %s (expected %s)" % (
            _describe(error.instance), where, error.validator_value)
        fix = "write a %s here%s" % (error.validator_value, _quote_hint(error))
    elif kind == "pattern":
        message = "%s does not have the required form at %s" % (_describe(error.instance), where)
        fix = (schema.get("description") or "") + " (pattern %s)" % error.validator_value
    elif kind == "format":
        message = "%s is not a valid %s at %s" % (_describe(error.instance),
                                                  error.validator_value, where)
        fix = {"date": "write the date as YYYY-MM-DD",
               "date-time": "write the time as YYYY-MM-DDTHH:MM:SS+07:00",
               "ipv4": "write a dotted IPv4 address", "ipv6": "write an IPv6 address"}.get(
            error.validator_value, "write a valid %s" % error.validator_value)
    elif kind in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
                  "exclusiveMinimum", "exclusiveMaximum", "minProperties"):
        message = "%s at %s: %s" % (_describe(error.instance), where, error.message)
        fix = schema.get("description") or "see the schema"
    else:
        message = "%s: %s" % (where, error.message)
        fix = schema.get("description") or "see the schema"
    return [Finding(ERROR, "%s-%s" % (req, kind.upper()), req, display, path, message, fix)]


def _quote_hint(error):
    if error.validator_value == "string" and isinstance(error.instance, (int, float, bool)):
        return " (put it in quotes, e.g. \"%s\")" % error.instance
    return ""
