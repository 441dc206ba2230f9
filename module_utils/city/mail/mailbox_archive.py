"""A deleted account's mailbox, handed to the archives before it is removed (E9).

The mailbox is the account's home on the mail server, ``<mail_root>/<entryUUID>``
(role mail_server): its Maildir with every folder and Dovecot's own files. It is
archived as ``<uid>-<entryUUID>.mailbox.tar.gz`` with a ``.sha256`` beside it, and
read back before anything relies on it: the archive's hash, then every file of the
mailbox found in the archive with the same content. Only a mailbox whose archive
verifies against it is removed, so mail that arrived after the archive (or a
corrupted copy) stops the removal instead of being lost.
"""
import hashlib
import os
import re
import shutil
import tarfile
import tempfile

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.errors import ToolkitError
from ansible.module_utils.city.registry import destinations

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
UID = re.compile(r"^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*\Z")


def check_account(account):
    """(uid, uuid) of ``account``, each of its strict shape: they name files and directories."""
    uid, uuid = str(account.get("uid") or ""), str(account.get("uuid") or "").lower()
    if not UID.match(uid) or len(uid) > 64:
        raise ToolkitError("mailbox_archive: uid %r is not an account's local part" % uid)
    if not UUID.match(uuid):
        raise ToolkitError("mailbox_archive: uuid %r of %s is not an entryUUID" % (uuid, uid))
    return uid, uuid


def archive_name(uid, uuid):
    return "%s-%s.mailbox.tar.gz" % (uid, uuid)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(mailbox):
    """{path relative to the mailbox: sha256} of every regular file of ``mailbox``."""
    out = {}
    for root, dirs, names in os.walk(mailbox):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            out[os.path.relpath(path, mailbox)] = _sha256(path)
    return out


def messages(files):
    """How many messages ``files`` hold: the files of the Maildirs' cur/ and new/."""
    return sum(1 for rel in files if re.search(r"(^|/)(cur|new)/[^/]+$", rel))


def _archived(path):
    """{member: sha256} of the regular files in the tar.gz at ``path`` (read whole)."""
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile():
                digest, fh = hashlib.sha256(), tar.extractfile(member)
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                out[member.name] = digest.hexdigest()
    return out


def verify(path, mailbox=None):
    """Raise unless ``path`` matches its .sha256 and holds every file of ``mailbox``.

    Returns {member: sha256} of what it holds.
    """
    try:
        with open(path + ".sha256", encoding="ascii") as fh:
            expected = fh.read().split()[0]
        digest = _sha256(path)
        held = _archived(path)
    except (OSError, IndexError, tarfile.TarError, EOFError) as exc:
        raise ToolkitError("mailbox archive %s cannot be read: %s" % (path, exc))
    if digest != expected:
        raise ToolkitError("mailbox archive %s does not match its .sha256" % path)
    if mailbox is not None and os.path.isdir(mailbox):
        missing = [rel for rel, sha in _files(mailbox).items() if held.get(rel) != sha]
        if missing:
            raise ToolkitError("mailbox archive %s lacks %d file(s) of %s (mail arrived after it?): %s"
                               % (path, len(missing), mailbox, ", ".join(missing[:5])))
    return held


def archive(mail_root, archive_dir, uid, uuid):
    """Archive the mailbox of (uid, uuid) and read it back; return what the archive holds."""
    mailbox = os.path.join(mail_root, uuid)
    path = destinations.path_inside(archive_dir, archive_name(uid, uuid), field="mailbox archive of " + uid)
    files = _files(mailbox) if os.path.isdir(mailbox) else {}
    # All of an account's mail (E9): 0600 in a 0700 directory, whatever the umask; streamed
    # to a temporary file (a mailbox may be gigabytes), on disk before it is renamed.
    folder = fsutil.private_dir(archive_dir)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                for rel in sorted(files):
                    tar.add(os.path.join(mailbox, rel), arcname=rel, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    digest = _sha256(path)
    fsutil.write_private(folder, os.path.basename(path) + ".sha256",
                         ("%s  %s\n" % (digest, os.path.basename(path))).encode("ascii"))
    held = verify(path, mailbox)
    return {"uid": uid, "uuid": uuid, "archive": path, "sha256": digest,
            "files": len(held), "messages": messages(held)}


def remove(mail_root, archive_dir, uid, uuid):
    """Remove the mailbox of (uid, uuid) once its archive verifies against it."""
    mailbox = os.path.join(mail_root, uuid)
    path = destinations.path_inside(archive_dir, archive_name(uid, uuid), field="mailbox archive of " + uid)
    if not os.path.exists(path):
        raise ToolkitError("mailbox of %s not removed: no archive %s (E9: archived first)" % (uid, path))
    verify(path, mailbox)
    shutil.rmtree(mailbox)
