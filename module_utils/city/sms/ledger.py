"""The blast ledger on the gateway: which (blast, recipient) pairs are planned and enqueued.

SQLite in WAL mode with ``synchronous=FULL`` (docs/sms-design.md). Every write is
one transaction over all the pairs of a blast, never one per recipient. A run
holds an exclusive lock (``<ledger>.lock``, flock) from reading the ledger to
marking the pairs, so two runs never write the same file twice.
"""
import os
import sqlite3
import uuid
from urllib.parse import quote

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.errors import ToolkitError

SCHEMA = """
CREATE TABLE IF NOT EXISTS blasts (
    blast_id TEXT PRIMARY KEY,
    signature_sha256 TEXT NOT NULL,
    text TEXT NOT NULL,
    segments INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    planned_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enqueued (
    blast_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    phone_id TEXT NOT NULL,
    file TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    enqueued_at TEXT,
    PRIMARY KEY (blast_id, user_id)
);
CREATE INDEX IF NOT EXISTS enqueued_user ON enqueued (user_id, enqueued_at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

PAIR_COLUMNS = ("blast_id", "user_id", "phone", "phone_id", "file", "planned_at", "enqueued_at")


class LedgerError(ToolkitError):
    pass


class Ledger:
    """The ledger at ``path``; ``readonly`` opens it (if it exists) without writing anything."""

    def __init__(self, path, readonly=False, lock_timeout=60.0):
        self.path = path
        self.readonly = readonly
        self.db = None
        self._lock = None
        if readonly:
            if os.path.exists(path):
                self.db = sqlite3.connect("file:%s?mode=ro" % quote(os.path.abspath(path)),
                                          uri=True, timeout=30, isolation_level=None)
            return
        directory = os.path.dirname(os.path.abspath(path))
        owner = None
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o750, exist_ok=True)
        if os.geteuid() == 0:
            st = os.stat(directory)
            owner = (st.st_uid, st.st_gid) if (st.st_uid, st.st_gid) != (0, 0) else None
        self._lock = self._take_lock(path + ".lock", lock_timeout, owner)
        created = not os.path.exists(path)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        if created and owner is not None:
            # SQLite (as root) gives its -wal and -shm files the database's owner.
            os.chown(path, owner[0], owner[1])
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        # Who this ledger is: a rebuilt gateway's new ledger gets a new id, so the control
        # node can tell it from the one a blast was handed to (docs/sms-design.md).
        self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('ledger_id', ?)",
                        (str(uuid.uuid4()),))

    @staticmethod
    def _take_lock(path, timeout, owner):
        try:
            return fsutil.flock(path, wait=timeout, owner=owner)
        except fsutil.LockTimeout:
            raise LedgerError("another sms_blast run holds %s for more than %d s" % (path, timeout))

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ---------------------------------------------------------------

    def blast(self, blast_id):
        """The ``blasts`` row of ``blast_id`` as a dict, or None."""
        if self.db is None:
            return None
        cur = self.db.execute("SELECT blast_id, signature_sha256, text, segments, encoding, "
                              "recipients, planned_at FROM blasts WHERE blast_id = ?", (blast_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip(("blast_id", "signature_sha256", "text", "segments", "encoding",
                         "recipients", "planned_at"), row))

    def ledger_id(self):
        """This ledger's id (made with the ledger), or None when there is no ledger yet."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
        except sqlite3.OperationalError:  # a ledger from before the id: none until written
            return None
        return row[0] if row else None

    def pairs(self, blast_id):
        """Every pair of ``blast_id``, sorted by user id, as dicts."""
        if self.db is None:
            return []
        cur = self.db.execute("SELECT %s FROM enqueued WHERE blast_id = ? ORDER BY user_id"
                              % ", ".join(PAIR_COLUMNS), (blast_id,))
        return [dict(zip(PAIR_COLUMNS, row)) for row in cur]

    # -- writing (one transaction each) ----------------------------------------

    def plan(self, blast_row, pairs):
        """Step 1: the blast and all its pairs, in one transaction."""
        with self._transaction():
            self._insert_blast(blast_row)
            self.db.executemany("INSERT INTO enqueued (blast_id, user_id, phone, phone_id, file, "
                                "planned_at) VALUES (?, ?, ?, ?, ?, ?)",
                                ((p["blast_id"], p["user_id"], p["phone"], p["phone_id"],
                                  p["file"], p["planned_at"]) for p in pairs))

    def restore(self, blast_row, pairs):
        """A blast the control node recorded as enqueued through this gateway, into a ledger
        that lost it (a rebuilt gateway): its row and every pair, already enqueued, in one
        transaction. Nothing is written to the spool."""
        with self._transaction():
            self._insert_blast(blast_row)
            self.db.executemany("INSERT INTO enqueued (blast_id, user_id, phone, phone_id, file, "
                                "planned_at, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                ((p["blast_id"], p["user_id"], p["phone"], p["phone_id"],
                                  p["file"], p["planned_at"], p["enqueued_at"]) for p in pairs))

    def _insert_blast(self, blast_row):
        """The ``blasts`` row of a plan or a restore (the caller holds the transaction)."""
        self.db.execute("INSERT INTO blasts (blast_id, signature_sha256, text, segments, "
                        "encoding, recipients, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (blast_row["blast_id"], blast_row["signature_sha256"], blast_row["text"],
                         blast_row["segments"], blast_row["encoding"], blast_row["recipients"],
                         blast_row["planned_at"]))

    def reassign(self, blast_id, moves):
        """Pending pairs to other modems: ``moves`` is [(user_id, phone_id)]."""
        with self._transaction():
            self.db.executemany("UPDATE enqueued SET phone_id = ? WHERE blast_id = ? AND "
                                "user_id = ? AND enqueued_at IS NULL",
                                ((phone_id, blast_id, user_id) for user_id, phone_id in moves))

    def mark_enqueued(self, blast_id, when):
        """Step 3: every pending pair of ``blast_id`` is enqueued (the caller holds the
        lock and has written or found the file of each). Returns the number marked."""
        with self._transaction():
            cur = self.db.execute("UPDATE enqueued SET enqueued_at = ? WHERE blast_id = ? AND "
                                  "enqueued_at IS NULL", (when, blast_id))
            return cur.rowcount

    def _transaction(self):
        if self.readonly or self.db is None:
            raise LedgerError("the ledger is open read-only")
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
        return False
