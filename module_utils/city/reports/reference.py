"""The field reference for auditors, generated from the JSON Schemas.

One row per field path (``accounts[].status``): its type, whether it is required,
the values it may take, what it means, the requirement id(s) it implements and the
article of each, looked up in the ``articles`` of the city's own city.yml. The
Markdown it renders is committed as docs/registry-reference.md; a test regenerates
it, so the reference cannot drift from the schemas.
"""
import json
import os

try:
    import yaml
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

# The registry files in the order the reference lists them: (schema name, file).
FILES = (
    ("city", "city.yml"),
    ("agencies", "agencies.yml"),
    ("people", "people.yml"),
    ("domain", "domain.yml"),
    ("mail", "mail.yml"),
    ("sms", "sms.yml"),
    ("sms-users", "sms-users.yml"),
    ("approval-trust", "approval-trust.yml"),
    ("blast", "blasts/*.yml"),
)

COLUMNS = ("Field", "Type", "Required", "Values", "Meaning", "Requirement", "Article")
NO_ARTICLE = "(no article in city.yml for %s)"

# Keywords that are constraints on a value, in the order they are shown.
_CONSTRAINTS = ("pattern", "format", "minLength", "maxLength", "minimum", "exclusiveMinimum",
                "maximum", "exclusiveMaximum", "minItems", "maxItems", "uniqueItems",
                "minProperties", "maxProperties")
# Keywords a ``$ref`` or a plain ``allOf`` member contributes to the field that uses it.
_MERGED = ("type", "enum", "const", "default", "description", "x-requirement", "properties",
           "patternProperties", "additionalProperties", "items", "required", "anyOf", "oneOf",
           "allOf", "dependencies") + _CONSTRAINTS


class Row:
    """One field of one registry file."""

    __slots__ = ("path", "types", "required", "values", "constraints", "default",
                 "description", "requirements", "articles")

    def __init__(self, **kw):
        for name in self.__slots__:
            setattr(self, name, kw.get(name))

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}


def load_articles(city_file):
    """The ``articles`` mapping of a city.yml: requirement id -> article text."""
    with open(city_file, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    articles = data.get("articles") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in (articles or {}).items()}


def load_schema(schema_dir, name):
    with open(os.path.join(schema_dir, name + ".schema.json"), encoding="utf-8") as fh:
        return json.load(fh)


def _resolve_ref(root, ref):
    if not ref.startswith("#/"):
        raise ValueError("only local $ref are supported, not %r" % ref)
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _effective(root, schema, _seen=()):
    """The schema with its ``$ref`` and plain ``allOf`` members merged in.

    Keys of the schema itself win; conditional members (``if``/``then``, ``not``)
    are left out: they are rules between fields, not the field's own shape.
    """
    if not isinstance(schema, dict):
        return {}
    merged = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
    parts = []
    if "$ref" in schema:
        parts.append(schema["$ref"])
    for member in schema.get("allOf", ()):
        if isinstance(member, dict) and set(member) == {"$ref"}:
            parts.append(member["$ref"])
        elif isinstance(member, dict) and not ({"if", "then", "else", "not"} & set(member)):
            parts.append(member)
        elif isinstance(member, dict):
            merged.setdefault("allOf", []).append(member)
    for part in parts:
        if isinstance(part, str):
            if part in _seen:
                continue
            target = _effective(root, _resolve_ref(root, part), _seen + (part,))
        else:
            target = _effective(root, part, _seen)
        for key in _MERGED:
            if key in target and key not in merged:
                merged[key] = target[key]
    return merged


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _branches(root, schema):
    """The shaped alternatives of ``anyOf``/``oneOf`` (those that say what a value is)."""
    out = []
    for key in ("anyOf", "oneOf"):
        for member in schema.get(key, ()):
            eff = _effective(root, member)
            if any(k in eff for k in ("type", "enum", "const") + _CONSTRAINTS):
                out.append(eff)
    return out


def _types(root, schema):
    types = _as_list(schema.get("type"))
    for branch in _branches(root, schema):
        for t in _as_list(branch.get("type")):
            if t not in types:
                types.append(t)
    if not types and "const" in schema:
        types = [type(schema["const"]).__name__.replace("str", "string")]
    if "array" in types and isinstance(schema.get("items"), dict):
        items = _types(root, _effective(root, schema["items"]))
        if items:
            types = ["array of " + "/".join(items) if t == "array" else t for t in types]
    return types


def _values(schema):
    if "const" in schema:
        return [schema["const"]]
    return list(schema.get("enum", ()))


def _constraints(root, schema):
    out = [(k, schema[k]) for k in _CONSTRAINTS if k in schema]
    alternatives = _branches(root, schema)
    for index, branch in enumerate(alternatives, 1):
        for k in _CONSTRAINTS:
            if k in branch:
                out.append(("%s (alternative %d)" % (k, index), branch[k]))
    return out


def _conditionally_required(schema):
    """Properties an ``if``/``then`` or ``dependencies`` of the object may require."""
    names = set()
    for member in schema.get("allOf", ()):
        then = member.get("then") if isinstance(member, dict) else None
        if isinstance(then, dict):
            names.update(then.get("required", ()))
    for needed in schema.get("dependencies", {}).values():
        if isinstance(needed, list):
            names.update(needed)
    for key in ("anyOf", "oneOf"):
        for member in schema.get(key, ()):
            if isinstance(member, dict):
                names.update(member.get("required", ()))
    return names


def _is_shaped(schema):
    return any(k in schema for k in ("description", "enum", "const", "x-requirement")
               + _CONSTRAINTS) or bool(schema.get("anyOf") or schema.get("oneOf"))


def fields(schema, articles):
    """Yield a :class:`Row` for every field of ``schema``, parents before children."""
    root = schema
    yield from _walk(root, _effective(root, schema), "", articles, ())


def _walk(root, schema, prefix, articles, refs):
    required = set(schema.get("required", ()))
    conditional = _conditionally_required(schema) - required
    children = []
    for name, sub in schema.get("properties", {}).items():
        state = "yes" if name in required else (
            "conditional" if name in conditional else "no")
        children.append((name, sub, state))
    for pattern, sub in schema.get("patternProperties", {}).items():
        children.append(("<key: %s>" % pattern, sub, "no"))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        children.append(("<any key>", extra, "no"))
    for name, sub, state in children:
        path = prefix + "." + name if prefix else name
        yield from _field(root, sub, path, state, articles, refs)
    items = schema.get("items")
    if isinstance(items, dict) and prefix:
        eff = _effective(root, items)
        if _is_shaped(eff):
            yield _row(root, eff, prefix + "[]", "-", articles)
        yield from _walk(root, eff, prefix + "[]", articles, refs)


def _field(root, sub, path, state, articles, refs):
    ref = sub.get("$ref") if isinstance(sub, dict) else None
    if ref and ref in refs:  # a recursive definition: describe it once
        return
    eff = _effective(root, sub)
    yield _row(root, eff, path, state, articles)
    yield from _walk(root, eff, path, articles, refs + ((ref,) if ref else ()))


def _row(root, eff, path, state, articles):
    ids = [str(i) for i in _as_list(eff.get("x-requirement"))]
    return Row(path=path, types=_types(root, eff), required=state, values=_values(eff),
               constraints=_constraints(root, eff), default=eff.get("default"),
               description=" ".join(str(eff.get("description", "")).split()),
               requirements=ids,
               articles=[articles.get(i, NO_ARTICLE % i) for i in ids])


def reference(schema_dir, city_file):
    """[(schema name, registry file, schema, [Row, ...]), ...] in the fixed file order."""
    articles = load_articles(city_file)
    out = []
    for name, filename in FILES:
        schema = load_schema(schema_dir, name)
        out.append((name, filename, schema, list(fields(schema, articles))))
    return out


# -- Markdown ----------------------------------------------------------------------

def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    ticks = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return "%s%s%s%s%s" % (ticks, pad, text, pad, ticks)


def _values_cell(row):
    parts = []
    if row.values:
        parts.append("one of " + ", ".join(_code(v) for v in row.values)
                     if len(row.values) > 1 else "exactly " + _code(row.values[0]))
    for key, value in row.constraints:
        parts.append("%s %s" % (key, _code(value)))
    if row.default is not None:
        parts.append("default " + _code(row.default))
    return "; ".join(parts)


def _article_cell(row):
    if len(row.requirements) == 1:
        return row.articles[0]
    return "; ".join("%s: %s" % pair for pair in zip(row.requirements, row.articles))


def render_markdown(sections, regenerate="make reference"):
    lines = [
        "<!-- Generated from schemas/*.schema.json and the articles of city.yml by "
        "bin/registry-reference; do not edit. Regenerate with `%s` (bin/registry-reference --output docs/registry-reference.md). -->" % regenerate,
        "",
        "# Registry field reference",
        "",
        "Every field of every registry file: its type, whether it is required, the values "
        "it may take, what it means, the requirement it implements and the article of the "
        "regulation that requirement comes from (from `articles` in city.yml). Paths use "
        "`.` between keys and `[]` for the items of a list. Required is `yes`, `no`, "
        "`conditional` (required by a rule depending on other fields; see "
        "docs/registry-format.md) or `-` for list items. The format itself is explained in "
        "docs/registry-format.md.",
        "",
    ]
    for name, filename, schema, rows in sections:
        lines.append("## %s" % filename)
        lines.append("")
        title = schema.get("title")
        description = " ".join(str(schema.get("description", "")).split())
        lines.append("Schema: `schemas/%s.schema.json`%s." % (
            name, " (%s)" % title if title else ""))
        if description:
            lines.append(description)
        lines.append("")
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join("---" for dummy in COLUMNS) + "|")
        for row in rows:
            cells = (_code(row.path), "/".join(row.types), row.required, _values_cell(row),
                     row.description, ", ".join(row.requirements), _article_cell(row))
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def generate(schema_dir, registry_dir):
    """The Markdown reference for the schemas and the city.yml of ``registry_dir``."""
    return render_markdown(reference(schema_dir, os.path.join(registry_dir, "city.yml")))
