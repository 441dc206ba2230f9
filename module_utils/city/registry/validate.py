"""Validate a registry directory: parse, scan for secrets, schemas, cross-file rules.

Every problem of every file comes out of one run, each with file:line:column, the
rule, the article of the regulation behind it and what to do.
"""
import os

# Importing the rule modules registers their rules (their @rule decorators fill RULES), which
# run_rules then walks: nothing here names them.
from ansible.module_utils.city.registry.rules import (  # noqa: F401 pylint: disable=unused-import
    common, domain, mail, mail_dns, sms)
from ansible.module_utils.city.registry import secrets_scan
from ansible.module_utils.city.registry import template_scan
from ansible.module_utils.city.registry.context import Context
from ansible.module_utils.city.registry.findings import BUILTIN_ARTICLES, ERROR, Finding
from ansible.module_utils.city.registry.files import list_registry
from ansible.module_utils.city.registry.limits import DEFAULT_LIMITS, Limits
from ansible.module_utils.city.registry.loader import LoadError, load_file, no_gc
from ansible.module_utils.city.registry.rules.base import RULES, run_rules
from ansible.module_utils.city.registry.schema import SCHEMA_BY_FILE, SchemaSet, schema_name_for

REQUIRED_FILES = tuple(SCHEMA_BY_FILE)


class Result:
    def __init__(self, findings, context):
        self.findings = findings
        self.context = context

    @property
    def errors(self):
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self):
        return [f for f in self.findings if f.severity != ERROR]

    @property
    def ok(self):
        return not self.errors


def validate(registry_dir, schema_dir, today=None, display_root=None, approval_root=None,
             approval_root_source=None, now=None, limits=None):
    """Validate the registry in ``registry_dir`` against the schemas in ``schema_dir``.

    ``approval_root`` is the inventory's trust anchor of blast approvals
    (``sms_approval__root``: ketua and keys), read from ``approval_root_source`` (for the
    messages); without it, rule S2-TRUST fails the registry. ``limits`` overrides the
    bounds of :mod:`limits` (the inventory's, never the registry's).
    """
    limits = limits if isinstance(limits, Limits) else (
        Limits(limits) if limits else DEFAULT_LIMITS)
    # The data is a tree of hundreds of thousands of mappings and lists: the cycle
    # collector would walk it again and again while the rules build their indexes.
    with no_gc():
        return _validate(registry_dir, schema_dir, today, display_root, approval_root,
                         approval_root_source, now, limits)


def _validate(registry_dir, schema_dir, today, display_root, approval_root,
              approval_root_source, now, limits):
    display_root = display_root if display_root is not None else os.getcwd()

    def shown_path(relname):
        path = os.path.join(registry_dir, relname)
        return os.path.normpath(os.path.relpath(path, display_root) if display_root else path)

    schemas = SchemaSet(schema_dir)
    findings = []
    files = {}
    broken = set()
    listing = list_registry(registry_dir, limits)
    for refused in listing.refused:
        findings.append(Finding(ERROR, refused.rule, "REG", shown_path(refused.relname), (),
                                refused.message, refused.fix, line=1, column=1))
    for relname in listing.files:
        display = shown_path(relname)
        try:
            loaded = load_file(os.path.join(registry_dir, relname), display, limits)
        except LoadError as exc:
            findings.append(Finding(ERROR, exc.rule, "REG", display, (), str(exc), exc.fix,
                                    line=exc.line or 1, column=exc.column or 1))
            if getattr(exc, "text", None):
                # A secret pasted into a file that does not parse is in the merge request
                # all the same: it is reported now, not after the YAML is fixed.
                findings.extend(secrets_scan.scan(exc.text, display))
            broken.add(relname)
            continue
        files[relname] = loaded
        file_findings, structural = _file_findings(loaded, relname, schemas)
        findings.extend(file_findings)
        if structural:
            broken.add(relname)
    refused = {r.relname for r in listing.refused}
    for relname in REQUIRED_FILES:
        if relname not in listing.files:
            broken.add(relname)
            if relname in refused:
                continue  # its own error says why it was not read
            findings.append(Finding(ERROR, "REG-MISSING", "REG", shown_path(relname), (),
                                    "registry file %s is missing" % relname,
                                    "create it (see docs/registry-format.md)", line=1, column=1))
    ctx = Context(files, today=today, approval_root=approval_root,
                  approval_root_source=approval_root_source, now=now, broken=broken)
    findings.extend(run_rules(ctx))
    _place(findings, files, ctx)
    return Result(_rank(findings), ctx)


def _file_findings(loaded, relname, schemas):
    """The findings of one file on its own, and whether it is structurally wrong (its
    dependants then stay silent: the cause is reported once)."""
    out = secrets_scan.scan(loaded.text, loaded.display)
    out.extend(template_scan.scan(loaded))
    for key, mark in loaded.duplicate_keys:
        out.append(Finding(ERROR, "REG-DUPLICATE-KEY", "REG", loaded.display, (),
                           "key '%s' appears twice in the same mapping; YAML would keep only "
                           "the last" % shown_key(key), "remove one of them, or merge them",
                           line=mark.line + 1, column=mark.column + 1))
    name = schema_name_for(relname)
    if name is None:
        out.append(Finding(ERROR, "REG-UNKNOWN-FILE", "REG", loaded.display, (),
                           "%s is not a registry file this toolkit knows" % relname,
                           "registry files are %s and blasts/<id>.yml" % ", ".join(
                               REQUIRED_FILES), line=1, column=1))
        return out, True
    if not isinstance(loaded.data, dict):
        out.append(Finding(ERROR, "REG-TYPE", "REG", loaded.display, (),
                           "the file holds %s; a registry file is a mapping of its top-level "
                           "keys" % _what(loaded.data),
                           "start with the file's top-level key (see docs/registry-format.md "
                           "and the example registry), e.g. '%s:'" % _first_key(schemas, name),
                           line=1, column=1))
        return out, True
    schema_findings = schemas.findings(name, loaded.data, loaded.display)
    out.extend(schema_findings)
    return out, any(len(f.path) <= 1 and f.rule.endswith(("-TYPE", "-REQUIRED"))
                    for f in schema_findings)


def shown_key(key):
    return key if len(key) <= 60 else key[:57] + "..."


def _what(data):
    if data is None:
        return "nothing"
    if isinstance(data, list):
        return "a list of %d item%s" % (len(data), "" if len(data) == 1 else "s")
    return "a single %s" % type(data).__name__.replace("str", "text")


def _first_key(schemas, name):
    try:
        return next(iter(schemas.schema(name).get("properties") or {"...": None}))
    except (OSError, ValueError):
        return "..."


def _place(findings, files, ctx):
    by_display = {f.display: f for f in files.values()}
    articles = ctx.section("city.yml", "articles")
    for finding in findings:
        if not finding.line:
            loaded = by_display.get(finding.file)
            if loaded is not None:
                finding.line, finding.column = loaded.locate(finding.path, finding.at)
            else:
                finding.line, finding.column = 1, 1
        finding.article = (articles.get(finding.requirement)
                           or BUILTIN_ARTICLES.get(finding.requirement)
                           or "%s (no article in city.yml articles)" % finding.requirement)


# Findings by how basic their cause is: a file that cannot be read, then what a scan of
# the text finds, then the schema, then the cross-file rules.
_SCAN_RULES = ("E6-SECRET", "REG-TEMPLATE")


def _stage(finding):
    if finding.rule in _SCAN_RULES:
        return 1
    if finding.rule in ("REG-YAML", "REG-FILE", "REG-LIMIT", "REG-DUPLICATE-KEY",
                        "REG-UNKNOWN-FILE", "REG-MISSING", "REG-TYPE"):
        return 0
    if finding.rule in _RULE_IDS:
        return 3
    return 2


def _rank(findings):
    """One finding per problem: a secret or a template marker on a line hides the schema's
    and the rules' findings of that line, and the schema's finding of a value hides the
    rules' of the same value (each says the same thing in other words)."""
    scanned = {(f.file, f.line) for f in findings if _stage(f) == 1}
    schema_at = {(f.file, f.line, f.column) for f in findings if _stage(f) == 2}
    out, seen = [], set()
    for f in sorted(findings, key=Finding.sort_key):
        stage = _stage(f)
        key = (f.file, f.line, f.column, f.rule, f.message)
        if key in seen:
            continue
        if stage >= 2 and (f.file, f.line) in scanned:
            continue
        if stage == 3 and (f.file, f.line, f.column) in schema_at:
            continue
        seen.add(key)
        out.append(f)
    return out


_RULE_IDS = frozenset(r.id for r in RULES)


def rule_catalogue():
    """(id, requirement, severity, summary) of every cross-file rule, for the docs."""
    return [(r.id, r.requirement, r.severity, r.summary) for r in RULES]
