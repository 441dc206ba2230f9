"""Files written whole or not at all, locks, and files only their owner reads.

Every writer of the toolkit goes through here: :func:`atomic_write` (a reader sees the
old file or the new one, never half of one), :func:`flock` (one holder at a time,
waiting a bounded time), and :func:`private_dir`/:func:`write_private` for secrets.

The hand-over files (new passwords) and the archives of deleted accounts (all of an
account's data, E9) are written on the control node by the module's user. The modes are
set explicitly rather than left to the umask: a process started with umask 000 (or 022)
still writes nothing another local user can read.
"""
import contextlib
import errno
import fcntl
import os
import tempfile
import time

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


def sync_dir(folder):
    """Make the directory entries of ``folder`` (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(folder, name, data):
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
    sync_dir(folder)
    return path


def atomic_write(path, data, mode=0o640, owner=None, durable=True):
    """Replace ``path`` by ``data`` (bytes or text, written as UTF-8) atomically.

    A temporary file in the same directory gets the data, ``mode`` (not the umask's)
    and, given ``owner`` (uid, gid), its owner, then is renamed over ``path``. With
    ``durable``, the data and the rename are on disk when this returns.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + base + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, owner[0], owner[1])
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        sync_dir(directory)
    return path


class LockTimeout(Exception):
    """The lock was still held by someone else when the wait ran out."""


def flock(path, wait=None, poll=0.1, mode=0o640, owner=None, on_busy=None):
    """Open ``path`` (created with ``mode``, and ``owner`` if given) and take an exclusive
    flock on it; return the open file descriptor, whose closing releases the lock.

    ``wait`` None waits as long as it takes; otherwise LockTimeout is raised after
    ``wait`` seconds. ``on_busy(fd)`` is called each time the lock is found taken (to say
    who holds it); polling, not a blocking flock, keeps the wait bounded.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        if owner is not None:
            os.fchown(fd, owner[0], owner[1])
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if on_busy is not None:
                on_busy(fd)
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(path)
            time.sleep(min(poll, left))
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def locked(path, wait=None, **kwargs):
    """Hold :func:`flock` on ``path`` for the block."""
    fd = flock(path, wait=wait, **kwargs)
    try:
        yield fd
    finally:
        os.close(fd)
