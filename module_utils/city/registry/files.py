"""Which files a registry holds: every entry judged, nothing skipped in silence.

The registry is a directory of regular YAML files: the service files at the top,
blasts in ``blasts/`` and their record in ``blasts/archive/``. Everything else is an
error: a symbolic link (it could lead out of the registry, or into a loop), a device
or a FIFO (``/dev/zero`` never ends), a folder the toolkit does not know, a blast in
a subfolder the gateway would never look in, a file of another kind. The walk never
follows a link and is bounded by the limits (files, folders, bytes).
"""
import os
import stat
from collections import namedtuple

from ansible.module_utils.city.registry.limits import DEFAULT_LIMITS

BLAST_DIR = "blasts"
ARCHIVE_DIR = "blasts/archive"
KNOWN_DIRS = ("", BLAST_DIR, ARCHIVE_DIR)
YAML_SUFFIXES = (".yml", ".yaml")
# bin/dns-allocate's lock beside domain.yml (git ignores it): an empty file, never read.
LOCK_FILES = ("domain.yml.lock",)

# A registry entry that is not a file to read: its rule, message and fix.
Refused = namedtuple("Refused", "relname rule message fix")


class Listing:
    """The YAML files to read (relative, '/'-separated) and the entries refused."""

    def __init__(self):
        self.files = []
        self.refused = []
        self.total_bytes = 0


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def list_registry(registry_dir, limits=DEFAULT_LIMITS):
    """Walk ``registry_dir`` (not following links) and judge every entry."""
    out = Listing()
    if not os.path.isdir(registry_dir):
        return out
    pending = [""]
    dirs = 0
    while pending:
        rel = pending.pop(0)
        known = rel in KNOWN_DIRS
        dirs += 1
        if dirs > limits.max_dirs:
            out.refused.append(Refused(rel + "/", "REG-LIMIT", "the registry has more than %d "
                                       "folders" % limits.max_dirs,
                                       "remove the folders the toolkit does not read"))
            break
        try:
            entries = sorted(os.scandir(os.path.join(registry_dir, rel)), key=lambda e: e.name)
        except OSError as exc:
            out.refused.append(Refused(rel + "/", "REG-FILE", "the folder cannot be read (%s)"
                                       % exc.strerror, "make it readable"))
            continue
        if not known and not entries:
            out.refused.append(Refused(rel + "/", "REG-UNKNOWN-FILE", "folder %s/ is not part "
                                       "of a registry" % rel, "remove the folder"))
        for entry in entries:
            relname = (rel + "/" + entry.name) if rel else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                out.refused.append(Refused(relname, "REG-FILE", "cannot be read (%s)"
                                           % exc.strerror, "remove it"))
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.append(relname)
                continue
            if not stat.S_ISREG(st.st_mode):
                out.refused.append(Refused(relname, "REG-FILE", "%s is %s; the registry holds "
                                           "regular files only" % (relname, _kind(st.st_mode)),
                                           "replace it by the file itself, or remove it"))
                continue
            if not known:
                where = ("a subfolder of blasts/: a blast there would never be checked or sent"
                         if relname.startswith(BLAST_DIR + "/") else
                         "a folder that is not part of a registry")
                out.refused.append(Refused(relname, "REG-UNKNOWN-FILE", "%s is in %s" % (
                    relname, where), "move a blast to blasts/<id>.yml or "
                    "blasts/archive/<id>.yml; remove anything else"))
                continue
            if relname in LOCK_FILES and st.st_size == 0:
                continue
            if not entry.name.endswith(YAML_SUFFIXES):
                out.refused.append(Refused(relname, "REG-UNKNOWN-FILE", "%s is not a YAML file "
                                           "(.yml or .yaml)" % relname,
                                           "keep only registry files in the registry; "
                                           "documents belong in docs/"))
                continue
            if len(out.files) >= limits.max_files:
                out.refused.append(Refused(relname, "REG-LIMIT", "the registry has more than "
                                           "%d files" % limits.max_files,
                                           "move old blasts out of blasts/archive/ into the "
                                           "city's records"))
                return out
            out.total_bytes += st.st_size
            if out.total_bytes > limits.max_total_bytes:
                out.refused.append(Refused(relname, "REG-LIMIT", "the registry's files hold "
                                           "more than %d bytes" % limits.max_total_bytes,
                                           "split or trim the data"))
                return out
            out.files.append(relname)
    out.files.sort()
    return out


def registry_files(registry_dir, limits=DEFAULT_LIMITS):
    """The relative names of the registry's YAML files (what the walk would read)."""
    return list_registry(registry_dir, limits).files
