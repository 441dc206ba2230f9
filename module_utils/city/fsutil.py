"""Files only their owner reads: 0600 in 0700 directories, synced before they count.

The hand-over files (new passwords) and the archives of deleted accounts (all of an
account's data, E9) are written on the control node by the module's user. The modes are
set explicitly rather than left to the umask: a process started with umask 000 (or 022)
still writes nothing another local user can read.
"""
import os

DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path):
    """Create ``path`` and each missing parent with mode 0700, and make ``path`` itself 0700
    (an existing one too: it holds secrets). Parents that already existed are left alone."""
    path = os.path.abspath(path)
    missing = []
    probe = path
    while not os.path.isdir(probe):
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
        os.chmod(folder, DIR_MODE)  # mkdir's mode is reduced by the umask; never widened
    os.chmod(path, DIR_MODE)
    return path


def _sync_dir(folder):
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(folder, name, data):
    """Write ``data`` (bytes) to ``folder/name``, 0600, in ``folder`` made private; the file
    and its directory entry are on disk when this returns. Never follows a link at ``name``."""
    folder = private_dir(folder)
    path = os.path.join(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a file that existed keeps its mode through O_CREAT: set it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    _sync_dir(folder)
    return path
