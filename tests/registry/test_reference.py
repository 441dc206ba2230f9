"""The auditors' field reference: generated from the schemas, so it cannot drift."""
import json
import os
import shutil
import subprocess
import sys

from paths import EXAMPLE, ROOT, SCHEMAS

from ansible.module_utils.city.reports import reference as ref

DOC = os.path.join(ROOT, "docs", "registry-reference.md")


def _articles():
    return ref.load_articles(os.path.join(EXAMPLE, "city.yml"))


def _described_properties(node, found):
    """Every property schema (under properties/patternProperties) with an x-requirement."""
    if isinstance(node, dict):
        for key in ("properties", "patternProperties"):
            for sub in (node.get(key) or {}).values():
                if isinstance(sub, dict) and "x-requirement" in sub:
                    found.append(sub)
        for value in node.values():
            _described_properties(value, found)
    elif isinstance(node, list):
        for value in node:
            _described_properties(value, found)
    return found


def _line_of(markdown, path):
    prefix = "| `%s` |" % path
    lines = [line for line in markdown.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (path, lines)
    return lines[0]


def test_committed_reference_is_up_to_date():
    with open(DOC, encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == ref.generate(SCHEMAS, EXAMPLE), (
        "docs/registry-reference.md is out of date: run `make reference`")


def test_top_line_says_generated_and_how_to_regenerate():
    with open(DOC, encoding="utf-8") as fh:
        first = fh.readline()
    assert "Generated" in first and "make reference" in first


def test_every_required_property_shows_its_article():
    articles = _articles()
    sections = ref.reference(SCHEMAS, os.path.join(EXAMPLE, "city.yml"))
    markdown = ref.render_markdown(sections)
    checked = 0
    for name, _filename, schema, rows in sections:
        for prop in _described_properties(schema, []):
            ids = prop["x-requirement"]
            ids = [ids] if isinstance(ids, str) else list(ids)
            description = " ".join(prop.get("description", "").split())
            matches = [r for r in rows
                       if r.description == description and r.requirements == ids]
            assert matches, "%s: property %r (%s) is missing" % (name, description, ids)
            for row in matches:
                assert row.articles == [articles[i] for i in ids], row.path
                line = _line_of(markdown, row.path)
                for i in ids:
                    assert ref._cell(articles[i]) in line, (row.path, i)
            checked += 1
    assert checked > 100


def test_a_field_of_each_file_appears():
    markdown = ref.generate(SCHEMAS, EXAMPLE)
    expected = {
        "city.yml": "policy.mail.attachment_limit_mb",
        "agencies.yml": "agencies[].acronym",
        "people.yml": "people[].id",
        "domain.yml": "subdomains[].name",
        "mail.yml": "accounts[].status",
        "sms.yml": "gateways[].modems[].phone_id",
        "sms-users.yml": "users[].phone",
        "approval-trust.yml": "statements[].previous",
        "blasts/*.yml": "blast.approval.expires",
    }
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [filename for _name, filename in ref.FILES]
    assert headings == list(expected)
    sections = markdown.split("\n## ")[1:]
    for section, (filename, path) in zip(sections, expected.items()):
        assert section.startswith(filename + "\n")
        assert "| `%s` |" % path in section, (filename, path)
    status = _line_of(markdown, "accounts[].status")
    assert "| yes |" in status and "`deactivated`" in status
    assert "| E9 | " + _articles()["E9"] + " |" in status


def test_pipes_are_escaped():
    markdown = ref.generate(SCHEMAS, EXAMPLE)
    line = _line_of(markdown, "secretariat.ketua")
    assert "[0-9]{18}\\|[a-z]" in line
    assert line.count(" | ") - line.count("\\| ") == len(ref.COLUMNS) - 1


def test_unknown_requirement_is_shown_not_fatal(tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLE, registry)
    city = registry / "city.yml"
    text = city.read_text(encoding="utf-8")
    article = _articles()["E9"]
    line = '  E9: "%s"\n' % article
    assert line in text
    city.write_text(text.replace(line, "").replace(
        "  E10:", '  E10: "Another city | Pasal 99"\n  E10-old:', 1), encoding="utf-8")
    markdown = ref.generate(SCHEMAS, str(registry))
    status = _line_of(markdown, "accounts[].status")
    assert "| E9 | " + ref.NO_ARTICLE % "E9" + " |" in status
    assert article not in markdown
    # Articles come from this city's own city.yml, escaped.
    assert "Another city \\| Pasal 99" in _line_of(markdown, "policy.mail.unused_warning_days")


def test_command_writes_and_checks(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""))
    cmd = [sys.executable, os.path.join(ROOT, "bin", "registry-reference")]
    out = tmp_path / "ref.md"
    proc = subprocess.run(cmd + ["--output", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with open(DOC, encoding="utf-8") as fh:
        assert out.read_text(encoding="utf-8") == fh.read()
    proc = subprocess.run(cmd + ["--check", DOC], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out.write_text(out.read_text(encoding="utf-8").replace("accounts[].status", "x"),
                   encoding="utf-8")
    proc = subprocess.run(cmd + ["--check", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith("--- ") and "+| `accounts[].status` |" in proc.stdout


def test_output_is_deterministic():
    assert ref.generate(SCHEMAS, EXAMPLE) == ref.generate(SCHEMAS, EXAMPLE)
    json.dumps([r.as_dict() for _n, _f, _s, rows in ref.reference(
        SCHEMAS, os.path.join(EXAMPLE, "city.yml")) for r in rows])
