"""Registry files read as data by playbooks and plugins (lookup ``city_registry``).

A registry file is untrusted input: it is read only from inside the registry
directory (a symbolic link that leaves it is refused), only as a regular file of
bounded size, and parsed by the validator's own loader, so the data a playbook
sees is exactly the data that was validated.
"""
import fnmatch
import os
import stat

from ansible.module_utils.city.registry.loader import LoadError, load_file

# Far above any real registry (the city-scale benchmark's largest file is 4 MB),
# far below what would exhaust the control node.
MAX_BYTES = 128 * 1024 * 1024


class RegistryReadError(Exception):
    """A registry file that cannot be read as data."""


def _inside(registry_dir, path):
    root = os.path.realpath(registry_dir)
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def expand(registry_dir, pattern):
    """Names (relative, '/'-separated, sorted) of the registry files matching ``pattern``.

    A plain name is returned as it is (reading it reports a missing file); a glob
    matches files of one directory level (``blasts/*.yml``).
    """
    pattern = pattern.strip().lstrip("/")
    if not pattern or ".." in pattern.split("/"):
        raise RegistryReadError("%r is not a name inside the registry" % pattern)
    if not any(ch in pattern for ch in "*?["):
        return [pattern]
    directory, unused_slash, leaf = pattern.rpartition("/")
    full_dir = os.path.join(registry_dir, directory)
    if not os.path.isdir(full_dir):
        return []
    if not _inside(registry_dir, full_dir):
        raise RegistryReadError("%s leaves the registry directory" % (directory or "."))
    names = sorted(entry for entry in os.listdir(full_dir) if fnmatch.fnmatchcase(entry, leaf))
    return [(directory + "/" + entry) if directory else entry for entry in names
            if os.path.isfile(os.path.join(full_dir, entry))]


def read(registry_dir, name, raw=False):
    """The data of registry file ``name`` (its text when ``raw``)."""
    path = os.path.join(registry_dir, name)
    if not _inside(registry_dir, path):
        raise RegistryReadError("%s leaves the registry directory (a symbolic link?)" % name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise RegistryReadError("%s does not exist in %s" % (name, registry_dir))
    except OSError as exc:
        raise RegistryReadError("cannot open %s: %s" % (name, exc.strerror))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RegistryReadError("%s is not a regular file" % name)
        if st.st_size > MAX_BYTES:
            raise RegistryReadError("%s has %d bytes, more than a registry file may have (%d)"
                                    % (name, st.st_size, MAX_BYTES))
    finally:
        os.close(fd)
    if raw:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RegistryReadError("%s is not UTF-8: %s" % (name, exc.reason))
    try:
        return load_file(path, name).data
    except LoadError as exc:
        raise RegistryReadError("%s:%d:%d: %s" % (name, exc.line, exc.column, exc))
