"""Allocate addresses of the central pools to a subdomain (D8), as NetBox's available-ips.

Staff never pick an address by hand: :func:`allocate` finds the lowest free address(es)
of a pool, writes the A/AAAA record(s) into ``domain.yml`` and validates the registry.

- "Used" is every A/AAAA value anywhere in ``domain.yml`` (apex and every subdomain,
  whatever its status: a suspended or deactivated name keeps its address until its
  records leave the registry) plus the pools' suspension targets; the pool itself
  skips its reserved and shared addresses (:meth:`ipam.Pool.allocate`).
- The file is changed by a text edit at the position the YAML node tree gives, so
  comments, order and every other byte stay as they were; the edited text is parsed
  again and must hold exactly the old data plus the new records before it is written.
- Read, allocate, write and validate happen under an exclusive lock
  (``domain.yml.lock`` beside the file), the write is atomic (temporary file in the
  same directory, then ``os.replace``, file mode kept), and a registry that is invalid
  after the edit gets its previous ``domain.yml`` back.
"""
import contextlib
import copy
import ipaddress
import json
import os
import re
import stat
import tempfile

try:
    import yaml
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.registry.ipam import Pool
from ansible.module_utils.city.registry.loader import LoadError, load_file

DOMAIN_FILE = "domain.yml"
LOCK_SUFFIX = ".lock"
MAX_COUNT = 256
FAMILIES = {"4": (4,), "6": (6,), "both": (4, 6)}
TYPE_OF = {4: "A", 6: "AAAA"}
# A relative record name: "@" or labels of LDH, or starting with "_" (DNS-RECORD-NAME).
_LABEL = re.compile(r"^(?:_?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|_[a-z0-9-]+)$")
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_ITEM_PREFIX = re.compile(r"[ \t]*-[ \t]+")


class AllocationError(Exception):
    """Nothing was allocated; ``exit_code`` is what the command exits with."""

    exit_code = 2

    def __init__(self, message, findings=()):
        super().__init__(message)
        self.findings = list(findings)


class UsageError(AllocationError):
    """The request cannot be served as asked (unknown name, existing record, ...)."""

    exit_code = 2


class PoolExhausted(AllocationError):
    """The pool has fewer free addresses than requested."""

    exit_code = 1


class EditError(AllocationError):
    """The file could not be edited safely; it was left as it was."""

    exit_code = 1


class RegistryInvalid(AllocationError):
    """The registry was invalid after the edit; the previous domain.yml was restored."""

    exit_code = 1


class Allocation:
    """One allocated address: a record ``type`` at ``name`` of ``subdomain`` from ``pool``."""

    __slots__ = ("subdomain", "name", "type", "value", "pool")

    def __init__(self, subdomain, name, rtype, value, pool):
        self.subdomain, self.name, self.type, self.value, self.pool = (
            subdomain, name, rtype, value, pool)

    def record(self):
        """The record as the registry holds it (``name`` left out for "@")."""
        out = {} if self.name == "@" else {"name": self.name}
        out.update(type=self.type, value=self.value)
        return out

    def line(self):
        """The record as one YAML flow mapping, in the file's key order."""
        parts = [] if self.name == "@" else ["name: " + _scalar(self.name)]
        parts.append("type: " + self.type)
        # IPv6 values are quoted like the file's own (a plain scalar with "::" in a
        # flow mapping trips some YAML parsers).
        parts.append("value: " + (json.dumps(self.value) if self.type == "AAAA"
                                  else _scalar(self.value)))
        return "{" + ", ".join(parts) + "}"

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def describe(self, dry_run=False):
        return "%s %s to %s (%s at %s) from pool %s" % (
            "would allocate" if dry_run else "allocated", self.value, self.subdomain,
            self.type, self.name, self.pool)


class Outcome:
    """What :func:`allocate` did: the allocations, the file, the validation warnings."""

    def __init__(self, allocations, path, dry_run, warnings=()):
        self.allocations = allocations
        self.path = path
        self.dry_run = dry_run
        self.warnings = list(warnings)


def _scalar(text):
    """``text`` as a YAML scalar that loads back as the same string."""
    if _PLAIN.match(text):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text)


def _ip(value):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return None


def normalise_name(name):
    """The relative record name ("@", "www", "_sip._tcp"); raises UsageError if invalid."""
    name = (name or "@").strip().lower()
    if name == "@":
        return name
    if name.endswith(".") or not all(_LABEL.match(label) for label in name.split(".")):
        raise UsageError("record name %r is not a valid relative name: use @, or labels of "
                         "a-z, 0-9 and hyphens (a leading _ for service names), e.g. www"
                         % name)
    return name


def used_addresses(data):
    """Every A/AAAA value of domain.yml (apex, every subdomain, any status) and every
    pool's suspension targets, as strings; values that are not addresses are left out."""
    data = data if isinstance(data, dict) else {}
    records = []
    domain = data.get("domain") if isinstance(data.get("domain"), dict) else {}
    apex = domain.get("apex") if isinstance(domain.get("apex"), dict) else {}
    records.extend(apex.get("records") or [])
    for sub in data.get("subdomains") or []:
        if isinstance(sub, dict) and isinstance(sub.get("records"), list):
            records.extend(sub["records"])
    used = [str(r.get("value")) for r in records
            if isinstance(r, dict) and r.get("type") in ("A", "AAAA") and _ip(r.get("value"))]
    for pool in data.get("pools") or []:
        target = pool.get("suspension_target") if isinstance(pool, dict) else None
        if isinstance(target, dict):
            used.extend(str(v) for v in target.values() if _ip(v))
    return used


def _pools(data):
    """[(name, Pool)] of domain.yml, in order; a broken pool is a UsageError."""
    out = []
    for entry in data.get("pools") or []:
        if not isinstance(entry, dict):
            continue
        try:
            out.append((str(entry.get("name")), Pool(entry.get("networks") or [],
                                                     reserved=entry.get("reserved") or (),
                                                     shared=entry.get("shared") or ())))
        except ValueError as exc:
            raise UsageError("pool %s is not valid (%s): run bin/registry-validate"
                             % (entry.get("name"), exc)) from None
    return out


def _pool_for(pools, version, wanted):
    """(name, Pool) to allocate IPv``version`` from: ``wanted`` or the first with such a network."""
    if wanted is not None:
        for name, pool in pools:
            if name == wanted:
                if not any(n.version == version for n in pool.networks):
                    raise UsageError("pool %s has no IPv%d network" % (name, version))
                return name, pool
        raise UsageError("no pool named %r in %s (pools: %s)" % (
            wanted, DOMAIN_FILE, ", ".join(n for n, unused_pool in pools) or "none"))
    for name, pool in pools:
        if any(n.version == version for n in pool.networks):
            return name, pool
    raise UsageError("no pool has an IPv%d network" % version)


def find_subdomain(data, label):
    """(index, entry) of the subdomain ``label``; UsageError if unknown or listed twice."""
    found = [(i, s) for i, s in enumerate(data.get("subdomains") or [])
             if isinstance(s, dict) and str(s.get("name")) == label]
    if not found:
        raise UsageError("no subdomain %r in %s: register it first (with its decree, D3)"
                         % (label, DOMAIN_FILE))
    if len(found) > 1:
        raise UsageError("subdomain %r is listed %d times in %s: run bin/registry-validate"
                         % (label, len(found), DOMAIN_FILE))
    return found[0]


def plan(data, subdomain, pool=None, family="4", count=1, name="@", add=False):
    """(subdomain index, [Allocation]) for the request; nothing is written.

    Raises UsageError for a request that cannot be served and PoolExhausted when the
    pool has too few free addresses.
    """
    if family not in FAMILIES:
        raise UsageError("family must be 4, 6 or both, not %r" % (family,))
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise UsageError("count must be an integer from 1 to %d, not %r" % (MAX_COUNT, count))
    if not isinstance(data, dict):
        raise UsageError("%s holds no mapping" % DOMAIN_FILE)
    name = normalise_name(name)
    sindex, sub = find_subdomain(data, subdomain)
    if sub.get("status") == "deactivated":
        raise UsageError("subdomain %s is deactivated (D7): a deactivated name gets no "
                         "addresses" % subdomain)
    if sub.get("exception"):
        raise UsageError("subdomain %s has an exception (D4): its addresses are outside the "
                         "central pools by definition; edit its records by hand" % subdomain)
    records = sub.get("records")
    if records is not None and not isinstance(records, list):
        raise UsageError("the records of %s are not a list: run bin/registry-validate"
                         % subdomain)
    here = [r for r in records or [] if isinstance(r, dict) and str(r.get("name", "@")) == name]
    if any(r.get("type") == "CNAME" for r in here):
        raise UsageError("%s at %s has a CNAME: an address record cannot stand beside it "
                         "(DNS-CNAME); remove the CNAME first" % (subdomain, name))
    versions = FAMILIES[family]
    existing = ["%s %s" % (r.get("type"), r.get("value")) for r in here
                if r.get("type") in (TYPE_OF[v] for v in versions)]
    if existing and not add:
        raise UsageError("%s already has %s at %s; use --add to allocate more" % (
            subdomain, ", ".join(existing), name))
    pools = _pools(data)
    used = used_addresses(data)
    out = []
    for version in versions:
        pool_name, chosen = _pool_for(pools, version, pool)
        try:
            values = chosen.allocate(used=used, count=count, version=version)
        except ValueError as exc:
            raise PoolExhausted("cannot allocate %d IPv%d address%s from pool %s: %s" % (
                count, version, "" if count == 1 else "es", pool_name, exc)) from None
        out.extend(Allocation(subdomain, name, TYPE_OF[version], v, pool_name) for v in values)
    return sindex, out


# --- the text edit -------------------------------------------------------------------

def _get(mapping, key):
    """(key node, value node) of ``key`` in a MappingNode (the last, as YAML keeps it)."""
    found = (None, None)
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found = (k, v)
    return found


def _content_end(text, node):
    """Text index just after the last character of ``node``'s own content.

    Block collections end where the next token starts (after comments and blank
    lines), so they are followed down to their last scalar or flow collection.
    """
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style \
            and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":
        end -= 1  # block scalars end after their trailing line breaks
    return end


def _line_start(text, index):
    return text.rfind("\n", 0, index) + 1


def _after_line(text, index, newline):
    """(text, index) of the start of the line after the one holding ``index``;
    a final line without a line break gets one."""
    eol = text.find("\n", index)
    if eol == -1:
        return text + newline, len(text) + len(newline)
    return text, eol + 1


def _item_prefix(text, item):
    """The "      - " that starts the line of a block sequence item."""
    start = _line_start(text, item.start_mark.index)
    match = _ITEM_PREFIX.match(text, start)
    if match is None or match.end() > item.start_mark.index:
        raise EditError("cannot tell the indentation of the record at line %d: edit it by hand"
                        % (item.start_mark.line + 1))
    return text[start:match.end()]


def _records_style(text, root):
    """(offset of the dash from the records key, the dash with its spacing) as the file's
    other block ``records`` sequences have it; (2, "- ") when there are none."""
    candidates = []
    unused_key, domain = _get(root, "domain")
    if isinstance(domain, yaml.MappingNode):
        unused_key, apex = _get(domain, "apex")
        if isinstance(apex, yaml.MappingNode):
            candidates.append(_get(apex, "records"))
    unused_key, subs = _get(root, "subdomains")
    if isinstance(subs, yaml.SequenceNode):
        candidates.extend(_get(s, "records") for s in subs.value
                          if isinstance(s, yaml.MappingNode))
    for key, seq in candidates:
        if isinstance(seq, yaml.SequenceNode) and not seq.flow_style and seq.value:
            try:
                prefix = _item_prefix(text, seq.value[0])
            except EditError:
                continue
            dash = prefix.index("-")
            return dash - key.start_mark.column, prefix[dash:]
    return 2, "- "


def edit_text(text, root, sindex, allocations):
    """(new text, list index the records were inserted at) of ``domain.yml``'s ``text``.

    ``root`` is the file's node tree; the records go into the ``records`` sequence of
    the subdomain at ``sindex`` right after its last A/AAAA record (else before its
    first record), one line each, indented like the records around them. ``records:
    []`` (or an empty ``records:``) becomes a block; a missing ``records`` key is added
    after the subdomain's last key. Every other byte of the text stays.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    unused_key, subs = _get(root, "subdomains") if isinstance(root, yaml.MappingNode) else (None, None)
    if not isinstance(subs, yaml.SequenceNode) or sindex >= len(subs.value):
        raise EditError("cannot find the subdomains list in the node tree of %s" % DOMAIN_FILE)
    sub = subs.value[sindex]
    if not isinstance(sub, yaml.MappingNode) or sub.flow_style:
        raise EditError("subdomain %d of %s is written as a flow mapping ({...}): write it as "
                        "a block mapping first" % (sindex + 1, DOMAIN_FILE))
    lines = [a.line() for a in allocations]
    key, seq = _get(sub, "records")

    def block(key_column):
        offset, dash = _records_style(text, root)
        indent = " " * (key_column + offset)
        return "".join(indent + dash + line + newline for line in lines)

    if key is None:
        # No records key: add one after the subdomain's last key.
        first_key = sub.value[0][0]
        new, at = _after_line(text, _content_end(text, sub), newline)
        column = first_key.start_mark.column
        insert = " " * column + "records:" + newline + block(column)
        return new[:at] + insert + new[at:], 0
    if isinstance(seq, yaml.ScalarNode) and seq.tag == "tag:yaml.org,2002:null" \
            and seq.value == "":
        # "records:" with nothing after it.
        new, at = _after_line(text, key.end_mark.index, newline)
        return new[:at] + block(key.start_mark.column) + new[at:], 0
    empty_flow = isinstance(seq, yaml.SequenceNode) and seq.flow_style and not seq.value
    if empty_flow or (isinstance(seq, yaml.ScalarNode) and seq.tag == "tag:yaml.org,2002:null"):
        # "records: []" (or "records: ~"): the token goes, a block takes its place; what
        # followed it on its line (a comment) stays on the key's line.
        before = text[:seq.start_mark.index].rstrip(" \t\r\n")
        rest = text[seq.end_mark.index:]
        eol = rest.find("\n")
        tail, after = (rest, "") if eol == -1 else (rest[:eol].rstrip("\r"), rest[eol + 1:])
        return before + tail + newline + block(key.start_mark.column) + after, 0
    if not isinstance(seq, yaml.SequenceNode):
        raise EditError("the records of subdomain %d are not a list" % (sindex + 1))
    if seq.flow_style:
        # "records: [{...}, {...}]": append inside the brackets.
        end = seq.value[-1].end_mark.index
        return text[:end] + "".join(", " + line for line in lines) + text[end:], len(seq.value)
    addresses = [i for i, item in enumerate(seq.value) if isinstance(item, yaml.MappingNode)
                 and getattr(_get(item, "type")[1], "value", None) in ("A", "AAAA")]
    if addresses:
        after = seq.value[addresses[-1]]
        prefix = _item_prefix(text, after)
        new, at = _after_line(text, _content_end(text, after), newline)
        index = addresses[-1] + 1
    else:
        first = seq.value[0]
        prefix = _item_prefix(text, first)
        new, at = text, _line_start(text, first.start_mark.index)
        index = 0
    insert = "".join(prefix + line + newline for line in lines)
    return new[:at] + insert + new[at:], index


def expected_data(data, sindex, index, allocations):
    """``data`` with the allocations' records inserted at ``index`` of the subdomain."""
    out = copy.deepcopy(data)
    sub = out["subdomains"][sindex]
    records = sub.get("records") if isinstance(sub.get("records"), list) else []
    sub["records"] = records[:index] + [a.record() for a in allocations] + records[index:]
    return out


# --- files, lock, validation ---------------------------------------------------------

def locked(path):
    """Hold an exclusive flock on ``path`` (created if missing) for the block."""
    return fsutil.locked(path, mode=0o664)


def write_atomic(path, data, mode):
    """Replace ``path`` by ``data`` (bytes) atomically, with ``mode``."""
    fsutil.atomic_write(path, data, mode=mode)


def _validate(registry_dir, schema_dir, today=None, approval_root=None):
    """The registry validation (a seam for tests)."""
    from ansible.module_utils.city.registry.validate import validate
    return validate(registry_dir, schema_dir, today=today, approval_root=approval_root)


def allocate(registry_dir, subdomain, schema_dir, pool=None, family="4", count=1, name="@",
             add=False, dry_run=False, today=None, approval_root=None):
    """Allocate, record and validate; returns an :class:`Outcome`.

    ``approval_root`` is the inventory's pin of who approves blasts, which the whole
    registry is validated against (bin/registry-validate --inventory).

    Raises an :class:`AllocationError` (its ``exit_code`` says which) when nothing was
    allocated; the registry is then as it was.
    """
    path = os.path.realpath(os.path.join(registry_dir, DOMAIN_FILE))
    if not os.path.isfile(path):
        raise UsageError("no %s in %s" % (DOMAIN_FILE, registry_dir))
    lock = contextlib.nullcontext() if dry_run else locked(path + LOCK_SUFFIX)
    with lock:
        try:
            loaded = load_file(path)
        except LoadError as exc:
            raise UsageError("%s:%d:%d: %s: run bin/registry-validate" % (
                path, exc.line, exc.column, exc)) from None
        sindex, allocations = plan(loaded.data, subdomain, pool=pool, family=family,
                                   count=count, name=name, add=add)
        new_text, index = edit_text(loaded.text, loaded.node, sindex, allocations)
        _check_edit(new_text, expected_data(loaded.data, sindex, index, allocations))
        if dry_run:
            return Outcome(allocations, path, dry_run=True)
        old = loaded.text.encode("utf-8")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        write_atomic(path, new_text.encode("utf-8"), mode)
        try:
            result = _validate(registry_dir, schema_dir, today=today,
                               approval_root=approval_root)
        except BaseException:
            write_atomic(path, old, mode)
            raise
        if not result.ok:
            write_atomic(path, old, mode)
            raise RegistryInvalid(
                "the registry is invalid after allocating %s to %s: %d error(s); %s restored, "
                "nothing allocated" % (", ".join(a.value for a in allocations), subdomain,
                                       len(result.errors), DOMAIN_FILE), result.errors)
        return Outcome(allocations, path, dry_run=False, warnings=result.warnings)


def _check_edit(new_text, expected):
    """Parse the edited text; it must hold exactly ``expected`` (the old data plus the
    new records), or nothing is written."""
    # Checked in the system's temporary directory: a dry run writes nothing to the registry.
    fd, tmp = tempfile.mkstemp(prefix="dns-allocate-check.", suffix=".yml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_text.encode("utf-8"))
        try:
            edited = load_file(tmp)
        except LoadError as exc:
            raise EditError("the edit would break the YAML of %s (line %d: %s); nothing written"
                            % (DOMAIN_FILE, exc.line, exc)) from None
    finally:
        os.unlink(tmp)
    if edited.data != expected or edited.duplicate_keys:
        raise EditError("the edit of %s would change more than the new records; nothing "
                        "written: add them by hand" % DOMAIN_FILE)
