"""Read registry files: PyYAML's C parser for speed, node trees kept for positions.

Positions are resolved lazily: a finding carries a path (keys and indexes) and only
then is the node tree walked to find its line and column, so a clean registry costs
no more than parsing it.
"""
import os

import yaml

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is part of Debian's python3-yaml and the wheels
    from yaml import SafeLoader as _BaseLoader


class VaultValue(str):
    """The text of an ``!vault`` tag: a secret that must not be in a registry (E6)."""


class _RegistryLoader(_BaseLoader):
    """Safe loader that keeps timestamps as text and records duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicate_keys = []

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            seen = set()
            for key_node, _value in node.value:
                key = key_node.value
                if key in seen:
                    self.duplicate_keys.append((key, key_node.start_mark))
                seen.add(key)
        return mapping


def _timestamp_as_text(loader, node):
    # Dates stay ISO 8601 text: JSON Schema checks their format and the canonical
    # form of a signed blast is the text the Ketua saw.
    return loader.construct_scalar(node)


def _vault(loader, node):
    return VaultValue(loader.construct_scalar(node))


_RegistryLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_RegistryLoader.add_constructor("!vault", _vault)


class LoadError(Exception):
    """A file that cannot be parsed; carries the position of the problem."""

    def __init__(self, message, line=0, column=0):
        super().__init__(message)
        self.line = line
        self.column = column


class RegistryFile:
    """One parsed file: its data, its node tree, its text and duplicate keys."""

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


def load_file(path, display=None):
    """Parse one YAML file; raise :class:`LoadError` with a position on failure."""
    display = display or path
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError("file is not UTF-8: %s" % exc.reason, line, 1)
    loader = _RegistryLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p)
        raise LoadError(message or str(exc), mark.line + 1 if mark else 0,
                        mark.column + 1 if mark else 0)
    except yaml.YAMLError as exc:
        raise LoadError(str(exc))
    finally:
        loader.dispose()
    return RegistryFile(path, display, data, node, text, loader.duplicate_keys)


BLAST_DIR = "blasts"
ARCHIVE_DIR = "blasts/archive"
YAML_SUFFIXES = (".yml", ".yaml")


def registry_files(registry_dir):
    """The registry's YAML files, relative names: first level, then one level of
    subdirectories, and blasts/archive/ (the record of blasts no longer to be sent)."""
    names = []
    for entry in sorted(os.listdir(registry_dir)):
        full = os.path.join(registry_dir, entry)
        if entry.endswith(YAML_SUFFIXES) and os.path.isfile(full):
            names.append(entry)
        elif os.path.isdir(full):
            for sub in sorted(os.listdir(full)):
                if sub.endswith(YAML_SUFFIXES) and os.path.isfile(os.path.join(full, sub)):
                    names.append(entry + "/" + sub)
    archive = os.path.join(registry_dir, ARCHIVE_DIR)
    if os.path.isdir(archive) and not os.path.islink(archive):
        for sub in sorted(os.listdir(archive)):
            if sub.endswith(YAML_SUFFIXES) and os.path.isfile(os.path.join(archive, sub)):
                names.append(ARCHIVE_DIR + "/" + sub)
    return names


def unexpected_blast_entries(registry_dir):
    """Relative names under blasts/ that are neither a blast file nor blasts/archive/ (a
    subdirectory, a file of another kind): never skipped in silence, since a blast put
    where the validator does not look would still be a file someone may try to send."""
    out = []
    for directory in (BLAST_DIR, ARCHIVE_DIR):
        full = os.path.join(registry_dir, directory)
        if not os.path.isdir(full):
            continue
        for entry in sorted(os.listdir(full)):
            path = os.path.join(full, entry)
            relname = directory + "/" + entry
            if relname == ARCHIVE_DIR and os.path.isdir(path) and not os.path.islink(path):
                continue
            if entry.endswith(YAML_SUFFIXES) and os.path.isfile(path):
                continue
            out.append(relname + ("/" if os.path.isdir(path) else ""))
    return out
