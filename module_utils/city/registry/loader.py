"""Read registry files: bounded, fast, with every position kept.

rapidyaml (C++) parses the text into a tree that stays beside the data for positions;
its JSON emitter and Python's C JSON decoder build the data, so a 7.5 MB city
registry loads in a few tenths of a second where PyYAML takes seconds.

The registry is untrusted input, so a file is read only if it is a regular file of
bounded size, and the tree is emitted only once it is known to be bounded: nesting
depth (the emitter refuses more than 64 levels), and the nodes that aliases add once
expanded (an alias bomb of a few kilobytes would add billions). Only a file whose
text could hold an alias, a tag, a merge key or a control character pays for an exact
walk over its tree; the rest go straight to the emitter.

The YAML dialect is YAML 1.2's JSON schema: plain ``true``, ``false``, ``null`` and
decimal numbers are typed, every other scalar is text (``yes``, ``on``, ``~``, ``0777``
and ``1_000`` stay text, where YAML 1.1 would turn them into booleans and numbers
behind the editor's back); keys are text; tags are refused.
"""
import bisect
import contextlib
import ctypes
import gc
import json
import os
import re
import stat
from collections import namedtuple

try:
    import ryml
except ImportError:  # a host with Debian's python3-yaml only (an SMS gateway)
    ryml = None

from ansible.module_utils.city.registry.limits import DEFAULT_LIMITS

Mark = namedtuple("Mark", "line column")  # 0-based, as PyYAML's marks
_NONE = ryml.NONE if ryml is not None else -1  # the id of no node


class LoadError(Exception):
    """A file that cannot be read or parsed; carries the position and the rule."""

    def __init__(self, message, line=0, column=0, rule="REG-YAML", fix=None):
        super().__init__(message)
        self.line = line
        self.column = column
        self.rule = rule
        self.fix = fix or "fix the YAML syntax (yamllint shows more)"


# C0 controls but tab, line feed and carriage return; DEL; C1 controls but NEL; the
# non-characters YAML excludes. YAML forbids them in a stream; a registry value with
# one would reach a configuration file or a terminal.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ufffe\uffff]")
# The same over UTF-8 bytes (C1 controls are \xc2\x80-\x9f, U+FFFE/F \xef\xbf\xbe-f):
# a bytes pattern scans a large file several times faster than a str one.
_C0_DEL = bytes(range(0, 9)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20)) + b"\x7f"
_NOT_C0_DEL = bytes(b for b in range(256) if b not in _C0_DEL)
_C1_NONCHAR = re.compile(b"\xc2[\x80-\x84\x86-\x9f]|\xef\xbf[\xbe\xbf]")


def _has_control(raw):
    """Whether UTF-8 ``raw`` holds a character of :data:`_CONTROL` (C loops only)."""
    if raw.translate(None, _NOT_C0_DEL):
        return True
    return (b"\xc2" in raw or b"\xef\xbf" in raw) and _C1_NONCHAR.search(raw) is not None


# What only an exact walk can judge: an anchor, an alias or a tag at the start of a
# token, a merge key. A false alarm costs a walk, never a wrong answer.
_SUSPECT = re.compile(rb"(?:^|[\s\[\]{},])[&*!][^\s,\[\]{}]|<<")


# A plain scalar the JSON emitter writes as a number with a leading '+' (+5, +1.5, +.5,
# +1e3, +0x1), which JSON does not read: refused at its line, with "quote it if it is text"
# (a phone written +6281234 is one). "+62 812-..." is text.
PLUS_NUMBER = re.compile(r"\+(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
                         r"|0[xXoObB][0-9A-Fa-f]+)\Z")


def _suspect(raw):
    # bytes.find is memchr: most files hold none of these bytes at all.
    if b"&" in raw or b"*" in raw or b"!" in raw or b"<<" in raw:
        return _SUSPECT.search(raw) is not None
    return False


_NAMES = {0: "NUL", 0x7f: "DEL", 0x1b: "ESC", 0x08: "BACKSPACE", 0x0c: "FORM FEED",
          0x0b: "VERTICAL TAB"}


class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.py_object),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]


def _address(view):
    """The address of a buffer's first byte (rapidyaml's scalars are read-only views)."""
    pybuf = _PyBuffer()
    _get_buffer(view, ctypes.byref(pybuf), 0)
    try:
        return pybuf.buf or 0
    finally:
        _release_buffer(ctypes.byref(pybuf))


@contextlib.contextmanager
def no_gc():
    """The cycle collector paused: the data is a tree, and building hundreds of thousands
    of mappings would otherwise run full collections over everything built so far."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _QuietStderr:
    """rapidyaml prints each error to file descriptor 2 before raising it; the error
    reaches the user as a finding instead."""

    def __enter__(self):
        try:
            self.saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)
        except OSError:
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False


class RegistryFile:
    """One parsed file: its data, its text, its tree (for positions), duplicate keys."""

    def __init__(self, path, display, data, text, raw, tree, root, duplicate_keys,
                 source=None):
        self.path = path
        self.display = display
        self.data = data
        self.text = text
        # rapidyaml parses in place: ``raw`` (the parsed buffer, where the tree's scalars
        # point) has its folded scalars rewritten; ``source`` is the text as written.
        self._raw = raw
        self._source = bytes(raw) if source is None else source
        self._tree = tree
        self._root = root
        self._base = _address(raw) if tree is not None and len(raw) else 0
        self._line_starts = None
        self.duplicate_keys = duplicate_keys
        self._checked = False
        self.may_hold_marker = None  # None: not known, look at the text
        self._child_cache = {}
        self._key_cache = {}

    @property
    def node(self):
        """PyYAML's node tree, for tools that edit the text at a node (allocate)."""
        import yaml
        return yaml.compose(self.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def position(self, offset):
        """(line, column), 1-based, of a byte offset; the column counts characters."""
        if self._line_starts is None:
            starts = [0]
            find = self._source.find
            index = find(b"\n")
            while index != -1:
                starts.append(index + 1)
                index = find(b"\n", index + 1)
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset)
        start = self._line_starts[line - 1]
        column = len(self._source[start:offset].decode("utf-8", "replace")) + 1
        return line, column

    def _offset(self, view):
        if view is None or not len(view):
            return None
        offset = _address(view) - self._base
        return offset if 0 <= offset < len(self._raw) else None

    def _node_offset(self, node, at_key=False, depth=0):
        tree = self._tree
        if at_key or not (tree.has_val(node) or tree.is_container(node)):
            if tree.has_key(node):
                found = self._offset(tree.key(node))
                if found is not None:
                    return found
        if tree.has_val(node) and not tree.is_container(node):
            if tree.has_key(node) and (tree.is_val_literal(node) or tree.is_val_folded(node)):
                # A block scalar's text starts on the next line; its indicator (| or >)
                # sits on the key's line, which is where an editor looks.
                found = self._offset(tree.key(node))
                if found is not None:
                    return found
            found = self._offset(tree.val(node))
            if found is not None:
                return found
        if tree.is_container(node) and tree.num_children(node) and depth < 64:
            found = self._node_offset(tree.first_child(node), depth=depth + 1)
            if found is not None:
                return found
        if tree.has_key(node):
            return self._offset(tree.key(node))
        return None

    def release(self):
        """Drop the tree (a third of the memory of a loaded file): positions are wanted
        only for findings, and :meth:`locate` parses the text again for them."""
        self._tree = self._raw = None
        self._base = 0
        self._child_cache, self._key_cache = {}, {}

    def _ensure_tree(self):
        if self._tree is not None or not self._source or ryml is None:
            return self._tree is not None
        buf = bytearray(self._source)
        tree = ryml.Tree()
        with _QuietStderr():
            try:
                ryml.parse_in_place(buf, tree=tree)
                tree.resolve()  # the file's aliases were bounded when it was loaded
            except ryml.ExceptionBasic:
                return False
        root = tree.root_id()
        if tree.is_stream(root):
            if not tree.num_children(root):
                return False
            root = tree.first_child(root)
        self._raw, self._tree, self._root = buf, tree, root
        self._base = _address(buf)
        return True

    def _children(self, node):
        """The ids of a container's children, in order (rapidyaml's child(i) walks a list,
        so finding every entry of a 20,000-item list by index would be quadratic)."""
        cache = self._child_cache
        found = cache.get(node)
        if found is None:
            tree = self._tree
            found = []
            child = tree.first_child(node)
            while child != _NONE:
                found.append(child)
                child = tree.next_sibling(child)
            cache[node] = found
        return found

    def _keyed(self, node):
        """Key text -> child id of a mapping (the last of a duplicate, as the data)."""
        cache = self._key_cache
        found = cache.get(node)
        if found is None:
            tree = self._tree
            found = {}
            for child in self._children(node):
                if tree.has_key(child):
                    found[bytes(tree.key(child))] = child
            cache[node] = found
        return found

    def locate(self, path, at="value"):
        """Return (line, column), 1-based, of the node at ``path`` or its nearest parent."""
        if not self._ensure_tree() or self._root is None:
            return 1, 1
        tree = self._tree
        trail = [self._root]
        node = self._root
        for step in path:
            if tree.is_map(node):
                found = self._keyed(node).get(str(step).encode("utf-8"))
                if found is None:
                    break
                node = found
            elif tree.is_seq(node) and isinstance(step, int) and not isinstance(step, bool):
                children = self._children(node)
                if not 0 <= step < len(children):
                    break
                node = children[step]
            else:
                break
            trail.append(node)
        else:
            offset = self._node_offset(node, at_key=(at == "key"))
            if offset is not None:
                return self.position(offset)
            trail.pop()
        for parent in reversed(trail):
            offset = self._node_offset(parent)
            if offset is not None:
                return self.position(offset)
        return 1, 1


def read_bytes(path, display, limits=DEFAULT_LIMITS):
    """The bytes of a regular file of bounded size (no link followed, no FIFO waited on)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise LoadError("%s cannot be opened (%s)" % (display, exc.strerror), 1, 1,
                        rule="REG-FILE", fix="a registry file is a regular file inside the "
                        "registry; replace a symbolic link by the file itself")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError("%s is not a regular file" % display, 1, 1, rule="REG-FILE",
                            fix="a registry file is a regular file inside the registry")
        if st.st_size > limits.max_file_bytes:
            raise LoadError("%s has %d bytes; a registry file may have at most %d"
                            % (display, st.st_size, limits.max_file_bytes), 1, 1,
                            rule="REG-LIMIT", fix="split the data, or ask the inventory's "
                            "owners to raise the limit (registry_validate limits)")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limits.max_file_bytes:
                raise LoadError("%s grew past %d bytes while it was read" % (
                    display, limits.max_file_bytes), 1, 1, rule="REG-LIMIT",
                    fix="do not change registry files during validation")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_file(path, display=None, limits=DEFAULT_LIMITS):
    """Read and parse one YAML file; raise :class:`LoadError` with a position on failure."""
    display = display or path
    return load_bytes(read_bytes(path, display, limits), path, display, limits)


def load_bytes(raw, path, display, limits=DEFAULT_LIMITS):
    """Parse ``raw``; a :class:`LoadError` carries the decoded text (``text``) when there
    is one, so a secret in a file that does not parse is still found."""
    try:
        return _load_bytes(raw, path, display, limits)
    except LoadError as exc:
        if getattr(exc, "text", None) is None:
            exc.text = raw.decode("utf-8", "replace")
        raise


def _load_bytes(raw, path, display, limits):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError("the file is not UTF-8 (%s at byte %d)" % (exc.reason, exc.start),
                        line, column, fix="save the file as UTF-8")
    if text.startswith("\ufeff"):
        text = text[1:]
        raw = raw[3:]
    if _has_control(raw):
        match = _CONTROL.search(text)
        _raise_control(text, match.start(), ord(match.group(0)))
    if ryml is None:
        from ansible.module_utils.city.registry import yaml_json
        return yaml_json.load(text, path, display, limits)
    buf = bytearray(raw)
    tree = ryml.Tree()
    # Room for the nodes up front (about one per line): growing the tree costs more.
    tree.reserve(raw.count(b"\n") + 16)
    with _QuietStderr():
        try:
            ryml.parse_in_place(buf, tree=tree)
        except ryml.ExceptionParse as exc:
            raise _parse_error(exc, raw)
        except ryml.ExceptionBasic as exc:
            raise LoadError("not valid YAML: %s" % _message(exc), 1, 1)
    root = tree.root_id()
    if tree.is_stream(root):
        docs = tree.num_children(root)
        if docs > 1:
            second = tree.child(root, 1)
            loaded = RegistryFile(path, display, None, text, buf, tree, second, [], raw)
            line, column = loaded.locate(())
            raise LoadError("the file holds %d YAML documents; a registry file is one" % docs,
                            line, column, fix="remove the second '---' and what follows, "
                            "or move it to its own file")
        root = tree.first_child(root) if docs else None
    loaded = RegistryFile(path, display, None, text, buf, tree, root, [], raw)
    if root is None or tree.size() <= 1 and not tree.has_val(root):
        loaded.data = None
        return loaded
    if _suspect(raw):
        _exact_checks(loaded, limits)
    with _QuietStderr():
        try:
            tree.resolve()
            emitted = ryml.emit_json(tree, root)
        except ryml.ExceptionBasic as exc:
            message = _message(exc)
            if "depth" in message:
                raise LoadError("the file nests mappings and sequences more than %d levels "
                                "deep" % limits.max_depth, *_deepest(loaded, limits),
                                rule="REG-LIMIT", fix="flatten the data: the registry's own "
                                "structure is a few levels deep")
            raise LoadError("not valid YAML: %s" % message, 1, 1)
    if emitted is None:
        loaded.data = None
        return loaded
    duplicates = []

    def pairs_hook(pairs):
        mapping = dict(pairs)
        if len(mapping) != len(pairs):
            duplicates.append(pairs)
        return mapping

    try:
        with no_gc():
            loaded.data = json.loads(emitted, object_pairs_hook=pairs_hook, strict=False,
                                     parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # What the emitter writes that JSON does not read: a plain number with a leading
        # '+' and the like; the exact walk names it.
        _exact_checks(loaded, limits)
        raise LoadError("a value could not be read (%s)" % str(exc)[:80], 1, 1)
    # Only an escape in a double-quoted scalar can write a control character the text
    # does not hold.
    if duplicates or (b"\\" in raw and _CONTROL.search(emitted)):
        _exact_checks(loaded, limits)
    # The emitted JSON holds every key and string as parsed (escapes resolved) and its
    # own structure never writes "{{", "{%" or "{#": one search tells whether the
    # template-marker check (REG-TEMPLATE) needs to walk the data at all.
    loaded.may_hold_marker = ("{{" in emitted or "{%" in emitted or "{#" in emitted)
    loaded.release()
    return loaded


def _no_constant(name):
    raise ValueError("%s is not a number the registry accepts" % name)


def _message(exc):
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return text[:200]


def _parse_error(exc, raw):
    offset = None
    try:
        offset = exc.errdata_parse.ymlloc.offset
    except AttributeError:
        pass
    if offset is None or offset < 0 or offset > len(raw):
        return LoadError("not valid YAML: %s" % _message(exc), 1, 1)
    line = raw.count(b"\n", 0, offset) + 1
    column = len(raw[raw.rfind(b"\n", 0, offset) + 1:offset].decode("utf-8", "replace")) + 1
    return LoadError("not valid YAML: %s" % _message(exc), line, column)


def _raise_control(text, index, code):
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    name = _NAMES.get(code, "a control character")
    raise LoadError("character U+%04X (%s) at line %d, column %d: YAML does not allow it "
                    "in a file" % (code, name, line, column), line, column,
                    fix="delete the character (an editor that shows invisible characters "
                    "finds it)")


def _exact_checks(loaded, limits):
    """Walk the tree once: refuse tags, control characters in values, duplicate keys and
    an alias expansion past the limit, each at its position."""
    tree = loaded._tree
    sizes = {}      # anchor -> expanded size of its node
    expanded = 0
    stack = [(loaded._root, 0, False)]
    # Post-order sizes: a node's expanded size is itself plus its children's.
    size_of = {}
    if loaded._checked:
        return
    loaded._checked = True
    while stack:
        node, depth, done = stack.pop()
        if done:
            total = 1
            child = tree.first_child(node) if tree.is_container(node) else _NONE
            while child != _NONE:
                total += size_of.pop(child, 1)
                child = tree.next_sibling(child)
            size_of[node] = total
            if tree.has_val_anchor(node) or tree.has_key_anchor(node):
                name = bytes(tree.val_anchor(node) if tree.has_val_anchor(node)
                             else tree.key_anchor(node))
                sizes[name] = total
            continue
        if depth > limits.max_depth:
            raise LoadError("the file nests mappings and sequences more than %d levels deep"
                            % limits.max_depth, *loaded.position(_any_offset(loaded, node)),
                            rule="REG-LIMIT", fix="flatten the data: the registry's own "
                            "structure is a few levels deep")
        _check_node(loaded, node)
        if tree.is_val_ref(node) or tree.is_key_ref(node):
            name = bytes(tree.val_ref(node) if tree.is_val_ref(node) else tree.key_ref(node))
            added = sizes.get(name.lstrip(b"*"))
            where = loaded.position(_any_offset(loaded, node))
            if added is None:
                raise LoadError("alias *%s names no anchor defined before it" % name.lstrip(
                    b"*").decode("utf-8", "replace")[:40], *where,
                    fix="define the anchor (&name) before the alias, or write the value")
            expanded += added
            if expanded > limits.max_alias_nodes:
                raise LoadError("aliases expand to more than %d nodes (an alias bomb?)"
                                % limits.max_alias_nodes, *where, rule="REG-LIMIT",
                                fix="write the values out instead of nesting aliases")
            size_of[node] = added
            continue
        if not tree.is_container(node) and (tree.has_val_anchor(node)
                                            or tree.has_key_anchor(node)):
            name = bytes(tree.val_anchor(node) if tree.has_val_anchor(node)
                         else tree.key_anchor(node))
            sizes[name] = 1
        if tree.is_container(node):
            stack.append((node, depth, True))
            children = []
            child = tree.first_child(node)
            while child != _NONE:
                children.append(child)
                child = tree.next_sibling(child)
            if tree.is_map(node):
                seen = {}
                for child in children:
                    if not tree.has_key(child):
                        continue
                    key = bytes(tree.key(child))
                    if key == b"<<" and not tree.is_key_quoted(child):
                        continue
                    if key in seen:
                        line, column = loaded.position(_any_offset(loaded, child, at_key=True))
                        loaded.duplicate_keys.append((key.decode("utf-8", "replace"),
                                                      Mark(line - 1, column - 1)))
                    seen[key] = child
            for child in reversed(children):
                stack.append((child, depth + 1, False))


def _check_node(loaded, node):
    tree = loaded._tree
    for has, get in ((tree.has_key_tag, tree.key_tag), (tree.has_val_tag, tree.val_tag)):
        if has(node):
            tag = bytes(get(node)).decode("utf-8", "replace")
            if tag in ("!vault", "!!vault"):
                continue  # E6-SECRET reports a vaulted value
            raise LoadError("tag %s: the registry is plain data, YAML tags are not read"
                            % tag[:40], *loaded.position(_any_offset(loaded, node)),
                            fix="remove the tag; quote the value if it must stay text")
    for is_val, has, get in ((False, tree.has_key, tree.key), (True, tree.has_val, tree.val)):
        if not has(node) or (is_val and tree.is_container(node)):
            continue
        value = get(node)
        if value is None or not len(value):
            continue
        text = bytes(value).decode("utf-8", "replace")
        match = _CONTROL.search(text)
        if match:
            line, column = loaded.position(_any_offset(loaded, node, at_key=not is_val))
            code = ord(match.group(0))
            raise LoadError("an escape writes character U+%04X (%s) into the %s at line %d: a "
                            "registry value may not hold it" % (
                                code, _NAMES.get(code, "a control character"),
                                "value" if is_val else "key", line),
                            line, column, fix="remove the escape (\\0, \\x.., \\u....)")
        if is_val and tree.is_val_plain(node) and PLUS_NUMBER.match(text):
            line, column = loaded.position(_any_offset(loaded, node))
            raise LoadError("the number %s has a leading '+'" % text[:20], line, column,
                            fix="write it without '+', or quote it if it is text")


def _any_offset(loaded, node, at_key=False):
    offset = loaded._node_offset(node, at_key=at_key)
    if offset is None:
        parent = loaded._tree.parent(node)
        while offset is None and parent != _NONE:
            offset = loaded._node_offset(parent)
            parent = loaded._tree.parent(parent)
    return offset or 0


def _deepest(loaded, limits):
    """The position of the first node deeper than the limit."""
    tree = loaded._tree
    stack = [(loaded._root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            return loaded.position(_any_offset(loaded, node))
        if tree.is_container(node):
            child = tree.first_child(node)
            while child != _NONE:
                stack.append((child, depth + 1))
                child = tree.next_sibling(child)
    return 1, 1
