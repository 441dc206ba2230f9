"""PyYAML reading the registry's dialect, for hosts without rapidyaml (an SMS gateway
that has only Debian's python3-yaml reads a blast with it).

The dialect is the loader's (module_utils/city/registry/loader.py): YAML 1.2's JSON schema,
plain ``true``/``false``/``null`` and decimal numbers typed, every other scalar text,
keys text, tags refused, aliases bounded. PyYAML's own resolvers are YAML 1.1's, so
they are replaced here; tests/registry/test_hostile_registries.py checks that both
readers give the same data.
"""
import re

try:
    import yaml
    try:
        from yaml import CSafeLoader as _Base
    except ImportError:  # pragma: no cover - libyaml is part of Debian's python3-yaml
        from yaml import SafeLoader as _Base
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    yaml = None
    _Base = object  # only so that the file imports: _Loader is then neither set up nor used

# What rapidyaml's JSON emitter writes as a number (and JSON reads back).
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_STR = "tag:yaml.org,2002:str"


class _Loader(_Base):
    """Safe loader with the JSON schema's resolvers and no tags."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicate_keys = []
        self.aliases = 0


# Replace YAML 1.1's implicit resolvers (yes/no/on/off, octal, sexagesimal, timestamps)
# by nothing: plain scalars are typed below, from their text.
if yaml is not None:
    _Loader.yaml_implicit_resolvers = {}
    _Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _plain(loader, node):
    text = node.value
    if node.style:  # quoted or block: text (plain is None, or "" from libyaml)
        return text
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", ""):
        return None
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    from ansible.module_utils.city.registry.loader import PLUS_NUMBER
    if PLUS_NUMBER.match(text):
        from ansible.module_utils.city.registry.loader import LoadError
        raise LoadError("the number %s has a leading '+'" % text[:20], node.start_mark.line + 1,
                        node.start_mark.column + 1,
                        fix="write it without '+', or quote it if it is text")
    return text


def _refuse_tag(loader, suffix, node):
    from ansible.module_utils.city.registry.loader import LoadError
    raise LoadError("tag %s: the registry is plain data, YAML tags are not read" % (
        node.tag[:40]), node.start_mark.line + 1, node.start_mark.column + 1,
        fix="remove the tag; quote the value if it must stay text")


if yaml is not None:
    _Loader.add_constructor(_STR, _plain)
    _Loader.add_constructor("!vault", lambda loader, node: node.value)  # E6-SECRET reports it
    _Loader.add_multi_constructor("!", _refuse_tag)
    _Loader.add_multi_constructor("tag:", _refuse_tag)


_MERGE = "tag:yaml.org,2002:merge"


def _mapping(loader, node):
    # Keys merged in (<<) may be overridden by the mapping's own: only its own count twice.
    own = [k for k, unused_value in node.value if k.tag != _MERGE]
    seen = set()
    for key_node in own:
        if isinstance(key_node, yaml.ScalarNode):
            if key_node.value in seen:
                loader.duplicate_keys.append((key_node.value, key_node.start_mark))
            seen.add(key_node.value)
    loader.flatten_mapping(node)
    out = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            from ansible.module_utils.city.registry.loader import LoadError
            raise LoadError("a key that is a list or a mapping", key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1, fix="write the key as text")
        out[key_node.value] = loader.construct_object(value_node, deep=True)
    return out


def _sequence(loader, node):
    return [loader.construct_object(child, deep=True) for child in node.value]


if yaml is not None:
    _Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
    _Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)
# Merge-key values resolve to the merge tag; PyYAML's flatten_mapping consumes them.


class NodeFile:
    """A file read by PyYAML: its data, text and node tree (for positions)."""

    def __init__(self, path, display, data, node, text, duplicate_keys):
        self.path = path
        self.display = display
        self.data = data
        self.node = node
        self.text = text
        self.duplicate_keys = duplicate_keys

    def locate(self, path, at="value"):
        """Return (line, column), 1-based, of the node at ``path`` or its nearest parent."""
        node = self.node
        key_node = None
        for step in path:
            if node is None:
                break
            if isinstance(node, yaml.MappingNode):
                found = None
                for k, v in node.value:
                    if k.value == step or (not isinstance(step, str) and k.value == str(step)):
                        found = (k, v)
                if found is None:
                    break
                key_node, node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if step >= len(node.value):
                    break
                key_node, node = None, node.value[step]
            else:
                break
        else:
            if at == "key" and key_node is not None:
                node = key_node
        if node is None:
            return 1, 1
        mark = node.start_mark
        return mark.line + 1, mark.column + 1


def _expanded(node, limit, seen):
    """Nodes the tree holds, or None past ``limit``: each distinct node once when ``seen``
    is a set, else as aliases expand it (PyYAML shares an alias's node)."""
    total, stack = 0, [node]
    while stack:
        current = stack.pop()
        if seen is not None:
            if id(current) in seen:
                continue
            seen.add(id(current))
        total += 1
        if total > limit:
            return None
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return total


def _depth(node, limit):
    stack = [(node, 0)]
    seen = set()
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return current
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            stack.extend((v, depth + 1) for unused_key, v in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((v, depth + 1) for v in current.value)
    return None


def _refuse_explicit_tags(text):
    """PyYAML resolves ``!!str 5`` to the tag a plain ``5`` would get: only the events
    tell an explicit tag from none."""
    from ansible.module_utils.city.registry.loader import LoadError
    try:
        for event in yaml.parse(text, Loader=_Base):
            tag = getattr(event, "tag", None)
            if tag not in (None, "!", "!vault"):
                raise LoadError("tag %s: the registry is plain data, YAML tags are not read"
                                % tag[:40], event.start_mark.line + 1,
                                event.start_mark.column + 1,
                                fix="remove the tag; quote the value if it must stay text")
    except yaml.YAMLError:
        return  # the parse below reports it, with its position


def load(text, path, display, limits):
    """Parse ``text`` (already checked for control characters) into a :class:`NodeFile`."""
    from ansible.module_utils.city.registry.loader import LoadError, Mark
    if "!" in text:
        _refuse_explicit_tags(text)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(p for p in (exc.context, exc.problem) if p)
            raise LoadError("not valid YAML: %s" % (message or str(exc))[:200],
                            mark.line + 1 if mark else 1, mark.column + 1 if mark else 1)
        except yaml.YAMLError as exc:
            raise LoadError("not valid YAML: %s" % str(exc)[:200], 1, 1)
        if node is None:
            return NodeFile(path, display, None, None, text, [])
        deep = _depth(node, limits.max_depth)
        if deep is not None:
            raise LoadError("the file nests mappings and sequences more than %d levels deep"
                            % limits.max_depth, deep.start_mark.line + 1,
                            deep.start_mark.column + 1, rule="REG-LIMIT",
                            fix="flatten the data: the registry's own structure is a few "
                            "levels deep")
        distinct = _expanded(node, 1 << 62, set())
        if _expanded(node, distinct + limits.max_alias_nodes, None) is None:
            raise LoadError("aliases expand to more than %d nodes (an alias bomb?)"
                            % limits.max_alias_nodes, 1, 1, rule="REG-LIMIT",
                            fix="write the values out instead of nesting aliases")
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise LoadError("not valid YAML: %s" % str(exc)[:200], 1, 1)
        duplicates = [(key, Mark(mark.line, mark.column)) for key, mark in loader.duplicate_keys]
        return NodeFile(path, display, data, node, text, duplicates)
    finally:
        loader.dispose()
