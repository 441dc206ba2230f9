"""Outbox files of gammu-smsd's files backend: names, content, and a crash-safe write.

One file per (blast, recipient) in ``<spool>/<phone_id>/outbox/`` (docs/sms-design.md).
Facts about gammu-smsd 1.42 (Debian 12) this module is built on, each checked with
the real daemon:

* It reads the number between the third and the fourth ``_`` of the name and the
  extension after the last ``.``; user ids with dots, hyphens or underscores and
  blast ids with hyphens are fine. It keeps the name when it moves the file to
  ``sent/`` or ``error/`` (a ``rename``).
* It copies the name into a 100-byte buffer: a longer name crashes the daemon
  (stack smashing, SIGABRT). Names are kept to :data:`MAX_NAME` bytes.
* A ``.txt`` file without a byte-order mark is decoded with the daemon's locale:
  under the C locale (a systemd service's default) UTF-8 text is cut at the first
  non-ASCII character, silently. With a UTF-16 byte-order mark the text is read
  whatever the locale, and ``transmitformat = auto`` still sends GSM-7 when every
  character allows it. Files are therefore UTF-16 big-endian with a BOM.
"""
import hashlib
import os
import re

from ansible.module_utils.city.registry import destinations

MAX_NAME = 99  # char FileName[100] in gammu-smsd's files backend, with its NUL
BOM = b"\xfe\xff"
FOLDERS = ("outbox", "sent", "error")  # in the order a file moves through them

# \Z, not $: "$" also matches before a final newline, which would then end up in a
# file name or a folder of the spool (docs/registry-destinations.md).
BLAST_ID_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{3}\Z")
USER_ID_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*\Z")
PHONE_RE = re.compile(r"^\+[1-9][0-9]{7,14}\Z")
PHONE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def content(text):
    """The bytes of an outbox file for ``text``: UTF-16BE with its byte-order mark."""
    return BOM + text.encode("utf-16-be", "surrogatepass")


def file_name(stamp, phone, blast_id, user_id):
    """``OUTC<YYYYMMDD>_<HHMMSS>_00_<E.164>_b<blast id>-u<user id>.txt`` (``stamp`` is
    ``YYYYMMDD_HHMMSS``).

    A name longer than :data:`MAX_NAME` bytes keeps the start of the user id and
    ends it with ``~`` and 8 hex digits of its SHA-256, so it stays unique; the
    ledger's ``file`` column, not the name, is the reference.
    """
    for value, pattern, what in ((phone, PHONE_RE, "phone number"),
                                 (blast_id, BLAST_ID_RE, "blast id"),
                                 (user_id, USER_ID_RE, "user id")):
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError("%s %r cannot be part of an outbox file name" % (what, value))
    head = "OUTC%s_00_%s_b%s-u" % (stamp, phone, blast_id)
    name = head + user_id + ".txt"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(user_id.encode("ascii")).hexdigest()[:8]
    room = MAX_NAME - len(head) - len("~.txt") - len(digest)
    if room < 1:
        raise ValueError("no room for the user id in an outbox file name for %s" % phone)
    return head + user_id[:room] + "~" + digest + ".txt"


def folder(spool_dir, phone_id, name):
    """``<spool>/<phone_id>/<name>``; a PhoneID or name that would leave the spool is refused."""
    return destinations.path_inside(spool_dir, phone_id, name, field="modem folder")


def where(spool_dir, phone_id, name):
    """The folder (outbox, sent or error) that holds file ``name``, or None.

    The folders are looked at in the order gammu-smsd moves a file through them,
    each move being a rename: a file that leaves ``outbox/`` while we look is
    found in ``sent/`` or ``error/``, never missed.
    """
    base = destinations.path_inside(spool_dir, phone_id, field="modem PhoneID")
    destinations.file_component(name, "outbox file name")
    for sub in FOLDERS:
        if os.path.lexists(os.path.join(base, sub, name)):
            return sub
    return None


def owner_of(path):
    """(uid, gid) of ``path``."""
    st = os.stat(path)
    return st.st_uid, st.st_gid


def prepare_tmp(spool_dir, phone_id):
    """Create ``tmp/`` beside ``outbox/`` (owned like it) and empty it; return its path.

    Only this module writes there, under the ledger's lock: whatever is left is
    from a run that crashed before renaming, and the ledger still has those pairs
    pending, so the files are written again.
    """
    outbox = folder(spool_dir, phone_id, "outbox")
    tmp = folder(spool_dir, phone_id, "tmp")
    if not os.path.isdir(tmp):
        os.makedirs(tmp, 0o750, exist_ok=True)
        if os.geteuid() == 0:
            uid, gid = owner_of(outbox)
            os.chown(tmp, uid, gid)
    for entry in os.listdir(tmp):
        path = os.path.join(tmp, entry)
        if os.path.isfile(path) or os.path.islink(path):
            os.unlink(path)
    return tmp


def _write(path, data, owner):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError("short write to %s" % path)
            view = view[written:]
        if owner is not None:
            os.fchown(fd, owner[0], owner[1])
    finally:
        os.close(fd)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(spool_dir, by_modem, data):
    """Write ``data`` as every file of ``by_modem`` ({phone_id: [names]}); return the count.

    All files go to ``tmp/`` first; one ``os.sync()`` makes their content durable;
    then each is renamed into ``outbox/`` (gammu-smsd never sees half a file, and
    after a power cut a renamed file is never empty); finally the ``outbox/``
    directories are fsynced, so the renames are durable before the caller marks
    the pairs enqueued. As root, the files get the owner of ``outbox/`` (the
    daemon's user), mode 0640.
    """
    plan = []
    for phone_id, names in sorted(by_modem.items()):
        if not names:
            continue
        outbox = folder(spool_dir, phone_id, "outbox")
        tmp = prepare_tmp(spool_dir, phone_id)
        owner = None
        if os.geteuid() == 0:
            owner = owner_of(outbox)
            if owner == (0, 0):
                owner = None  # root's already: no chown needed
        plan.append((tmp, outbox, names, owner))
    for tmp, _outbox, names, owner in plan:
        prefix = tmp + os.sep
        for name in names:
            _write(prefix + name, data, owner)
    if plan:
        os.sync()
    count = 0
    for tmp, outbox, names, _owner in plan:
        src, dst = tmp + os.sep, outbox + os.sep
        for name in names:
            os.rename(src + name, dst + name)
        count += len(names)
    for _tmp, outbox, _names, _owner in plan:
        _fsync_dir(outbox)
    return count
