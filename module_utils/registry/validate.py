"""Validate a registry directory: parse, scan for secrets, schemas, cross-file rules.

Every problem of every file comes out of one run, each with file:line:column, the
rule, the article of the regulation behind it and what to do.
"""
import os

# Importing the rule modules registers their rules.
from ansible.module_utils.registry.rules import common, domain, mail, sms  # noqa: F401
from ansible.module_utils.registry import secrets_scan, template_scan
from ansible.module_utils.registry.context import Context
from ansible.module_utils.registry.findings import BUILTIN_ARTICLES, ERROR, Finding
from ansible.module_utils.registry.loader import (LoadError, load_file, registry_files,
                                                 unexpected_blast_entries)
from ansible.module_utils.registry.rules.base import RULES, run_rules
from ansible.module_utils.registry.schema import SCHEMA_BY_FILE, SchemaSet, schema_name_for

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
             approval_root_source=None, now=None):
    """Validate the registry in ``registry_dir`` against the schemas in ``schema_dir``.

    ``approval_root`` is the inventory's trust anchor of blast approvals
    (``sms_approval__root``: ketua and keys), read from ``approval_root_source`` (for the
    messages); without it, rule S2-TRUST fails the registry.
    """
    display_root = display_root if display_root is not None else os.getcwd()
    schemas = SchemaSet(schema_dir)
    findings = []
    files = {}
    names = registry_files(registry_dir) if os.path.isdir(registry_dir) else []
    for relname in names:
        path = os.path.join(registry_dir, relname)
        display = os.path.relpath(path, display_root) if display_root else path
        try:
            loaded = load_file(path, display)
        except LoadError as exc:
            findings.append(Finding(ERROR, "REG-YAML", "REG", display, (), "not valid YAML: %s"
                                    % exc, "fix the YAML syntax (yamllint shows more)",
                                    line=exc.line, column=exc.column))
            continue
        files[relname] = loaded
        findings.extend(_file_findings(loaded, relname, schemas))
    for relname in (unexpected_blast_entries(registry_dir) if os.path.isdir(registry_dir) else []):
        display = os.path.relpath(os.path.join(registry_dir, relname), display_root) \
            if display_root else os.path.join(registry_dir, relname)
        findings.append(Finding(ERROR, "REG-UNKNOWN-FILE", "REG", display, (),
                                "%s is neither a blast file (blasts/<id>.yml) nor the archive "
                                "(blasts/archive/<id>.yml)" % relname,
                                "move a blast to blasts/<id>.yml or blasts/archive/<id>.yml; "
                                "remove anything else", line=1, column=1))
    for relname in REQUIRED_FILES:
        if relname not in names:
            findings.append(Finding(ERROR, "REG-MISSING", "REG", os.path.normpath(os.path.join(
                os.path.relpath(registry_dir, display_root) if display_root else registry_dir,
                relname)), (), "registry file %s is missing" % relname,
                "create it (see docs/registry-format.md)", line=1, column=1))
    ctx = Context(files, today=today, approval_root=approval_root,
                  approval_root_source=approval_root_source, now=now)
    findings.extend(run_rules(ctx))
    _place(findings, files, ctx)
    return Result(_dedupe(findings), ctx)


def _file_findings(loaded, relname, schemas):
    out = secrets_scan.scan(loaded.text, loaded.display)
    out.extend(template_scan.scan(loaded))
    for key, mark in loaded.duplicate_keys:
        out.append(Finding(ERROR, "REG-DUPLICATE-KEY", "REG", loaded.display, (),
                           "key '%s' appears twice in the same mapping; YAML keeps only the "
                           "last" % key, "remove or merge the duplicate",
                           line=mark.line + 1, column=mark.column + 1))
    name = schema_name_for(relname)
    if name is None:
        out.append(Finding(ERROR, "REG-UNKNOWN-FILE", "REG", loaded.display, (),
                           "%s is not a registry file this toolkit knows" % relname,
                           "registry files are %s and blasts/<id>.yml" % ", ".join(
                               REQUIRED_FILES), line=1, column=1))
    elif not isinstance(loaded.data, dict):
        out.append(Finding(ERROR, "REG-TYPE", "REG", loaded.display, (),
                           "the file must be a mapping of its top-level keys",
                           "see docs/registry-format.md", line=1, column=1))
    else:
        out.extend(schemas.findings(name, loaded.data, loaded.display))
    return out


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


def _dedupe(findings):
    # A secret under an unknown key is one problem, not two: keep the E6 finding.
    secret_lines = {(f.file, f.line) for f in findings if f.rule == "E6-SECRET"}
    out, seen = [], set()
    for f in sorted(findings, key=Finding.sort_key):
        key = (f.file, f.line, f.column, f.rule, f.message)
        if key in seen or (f.rule == "REG-UNKNOWN-KEY" and (f.file, f.line) in secret_lines):
            continue
        seen.add(key)
        out.append(f)
    return out


def rule_catalogue():
    """(id, requirement, severity, summary) of every cross-file rule, for the docs."""
    return [(r.id, r.requirement, r.severity, r.summary) for r in RULES]
