"""The control node's ledger of blasts: each approval is spent once, through one gateway.

A gateway's own ledger (ledger.py) makes a blast exactly once *on that gateway*. It
cannot stop a rebuilt gateway (an empty ledger) or a second gateway from sending the
same blast again: the record must outlive the gateway. This ledger lives in the
control node's state directory, beside the audit trail, and ``playbooks/blast.yml``
goes through it around every ``sms_blast``:

1. **claim**, before: the blast (id and SHA-256 of its signature) is claimed for the one
   gateway that sends it, in one transaction. Refused when another gateway or another
   signature holds it. A blast claimed in an earlier run comes back with what was
   recorded of it (``restore``), and the id of the gateway ledger known when it was
   claimed.
2. **record**, after: the pairs the gateway enqueued (user id, modem, file, times; no
   text) and the id of the gateway's ledger. A claim made by this run whose gateway
   says it planned nothing (not due yet, refused before planning) is released.

SQLite, WAL, ``synchronous=FULL``; every write is one ``BEGIN IMMEDIATE`` transaction,
so the plays of several gateways (forks) serialise here. Check mode opens it read-only.
"""
import datetime
import os
import sqlite3
import uuid
from urllib.parse import quote

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.errors import ToolkitError

FILE_NAME = "sms-blasts.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    blast_id TEXT PRIMARY KEY,
    signature_sha256 TEXT NOT NULL,
    gateway TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    claim_token TEXT NOT NULL,
    ledger_id TEXT,
    planned_at TEXT,
    recorded_at TEXT,
    recorded_ledger_id TEXT
);
CREATE TABLE IF NOT EXISTS pairs (
    blast_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    phone_id TEXT NOT NULL,
    file TEXT NOT NULL,
    planned_at TEXT,
    enqueued_at TEXT,
    PRIMARY KEY (blast_id, user_id)
);
CREATE TABLE IF NOT EXISTS gateways (
    gateway TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
"""

CLAIM_COLUMNS = ("blast_id", "signature_sha256", "gateway", "claimed_at", "claim_token",
                 "ledger_id", "planned_at", "recorded_at", "recorded_ledger_id")
PAIR_COLUMNS = ("user_id", "phone_id", "file", "planned_at", "enqueued_at")


class SpentError(ToolkitError):
    """A refusal: the blast is not to be sent through this gateway (now or ever)."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def default_path(environ=None, project_root=None):
    """``$CITY_STATE_DIR/sms-blasts.sqlite3``, else ``<project>/state/sms-blasts.sqlite3``."""
    environ = os.environ if environ is None else environ
    state = environ.get("CITY_STATE_DIR") or os.path.join(project_root or os.getcwd(), "state")
    return os.path.join(state, FILE_NAME)


class SpentLedger:
    """The control node's ledger at ``path``; ``readonly`` writes nothing (check mode)."""

    def __init__(self, path, readonly=False, timeout=60.0):
        self.path = path
        self.readonly = readonly
        self.db = None
        if readonly:
            if os.path.exists(path):
                self.db = sqlite3.connect("file:%s?mode=ro" % quote(os.path.abspath(path)),
                                          uri=True, timeout=timeout, isolation_level=None)
            return
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, 0o750, exist_ok=True)
        # Creating the file, switching it to WAL and creating the tables upgrade locks
        # SQLite does not wait for (it answers "locked" at once): the forks of a run do it
        # one after the other. Claims and records then wait in BEGIN IMMEDIATE.
        with fsutil.locked(path + ".lock"):
            created = not os.path.exists(path)
            self.db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            if created:
                os.chmod(path, 0o640)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA synchronous=FULL")

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading -------------------------------------------------------------------

    def _claim(self, blast_id):
        if self.db is None:
            return None
        row = self.db.execute("SELECT %s FROM claims WHERE blast_id = ?" % ", ".join(CLAIM_COLUMNS),
                              (blast_id,)).fetchone()
        return dict(zip(CLAIM_COLUMNS, row)) if row else None

    def _pairs(self, blast_id):
        if self.db is None:
            return []
        cur = self.db.execute("SELECT %s FROM pairs WHERE blast_id = ? ORDER BY user_id"
                              % ", ".join(PAIR_COLUMNS), (blast_id,))
        return [dict(zip(PAIR_COLUMNS, row)) for row in cur]

    def _gateway_ledger(self, gateway):
        if self.db is None:
            return None
        row = self.db.execute("SELECT ledger_id FROM gateways WHERE gateway = ?",
                              (gateway,)).fetchone()
        return row[0] if row else None

    def claim_of(self, blast_id):
        return self._claim(blast_id)

    def pairs_of(self, blast_id):
        return self._pairs(blast_id)

    # -- the two steps -------------------------------------------------------------

    def claim(self, blast_id, signature_sha256, gateway, now=None):
        """Claim ``blast_id`` for ``gateway``; return the result for the playbook.

        ``{"claim": "new"|"existing", "claim_token", "claimed_at", "restore"}``: ``restore``
        is None for a claim made now, else what ``sms_blast`` gets as its option.
        Raises SpentError when another gateway or another signature holds the blast.
        """
        now = now or utc_now()
        if self.readonly:
            return self._decide(self._claim(blast_id), blast_id, signature_sha256, gateway,
                                None, now)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self._claim(blast_id)
            token = None
            if row is None:
                token = uuid.uuid4().hex
                self.db.execute("INSERT INTO claims (blast_id, signature_sha256, gateway, "
                                "claimed_at, claim_token, ledger_id) VALUES (?, ?, ?, ?, ?, ?)",
                                (blast_id, signature_sha256, gateway, now, token,
                                 self._gateway_ledger(gateway)))
            out = self._decide(row, blast_id, signature_sha256, gateway, token, now)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return out

    def _decide(self, row, blast_id, signature_sha256, gateway, token, now):
        if row is None:
            return {"claim": "new", "claim_token": token, "claimed_at": now, "restore": None,
                    "msg": "blast %s %s for gateway %s" % (
                        blast_id, "claimed" if token else "would be claimed", gateway)}
        if row["signature_sha256"] != signature_sha256:
            raise SpentError(
                "blast %s refused: the control node's ledger has it claimed on %s with another "
                "signature; an approval is spent once, a correction is a new blast under a new id"
                % (blast_id, row["claimed_at"]))
        if row["gateway"] != gateway:
            raise SpentError(
                "blast %s refused on gateway %s: it was claimed on %s for gateway %s, through which "
                "it goes out; a blast is never sent through two gateways" % (
                    blast_id, gateway, row["claimed_at"], row["gateway"]))
        pairs = self._pairs(blast_id)
        restore = {"claimed_at": row["claimed_at"], "ledger_id": row["ledger_id"],
                   "recorded_at": row["recorded_at"], "planned_at": row["planned_at"],
                   "pairs": pairs if row["recorded_at"] else []}
        if row["recorded_at"]:
            msg = ("blast %s was claimed for gateway %s on %s and %d recipients were recorded on "
                   "%s" % (blast_id, gateway, row["claimed_at"], len(pairs), row["recorded_at"]))
        else:
            msg = ("blast %s was claimed for gateway %s on %s; no record of its recipients came "
                   "back yet" % (blast_id, gateway, row["claimed_at"]))
        return {"claim": "existing", "claim_token": row["claim_token"],
                "claimed_at": row["claimed_at"], "restore": restore, "msg": msg}

    def record(self, blast_id, signature_sha256, gateway, outcome, claim_token=None, now=None):
        """Store what ``sms_blast`` did (its result ``outcome``); return (changed, message).

        Pairs replace what was recorded of the blast (the gateway's ledger holds them all).
        A claim made with ``claim_token`` whose gateway planned nothing is released.
        """
        now = now or utc_now()
        pairs = outcome.get("pairs")
        planned = bool(outcome.get("planned"))
        ledger_id = outcome.get("ledger_id")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self._claim(blast_id)
            if row is None or row["signature_sha256"] != signature_sha256 or row["gateway"] != gateway:
                raise SpentError("blast %s: no claim of this approval for gateway %s to record "
                                 "(claim first)" % (blast_id, gateway))
            if ledger_id:
                self.db.execute("INSERT INTO gateways (gateway, ledger_id, seen_at) VALUES (?, ?, ?) "
                                "ON CONFLICT (gateway) DO UPDATE SET ledger_id = excluded.ledger_id, "
                                "seen_at = excluded.seen_at", (gateway, ledger_id, now))
            if isinstance(pairs, list) and planned and not outcome.get("failed"):
                self.db.execute("DELETE FROM pairs WHERE blast_id = ?", (blast_id,))
                self.db.executemany(
                    "INSERT INTO pairs (blast_id, user_id, phone_id, file, planned_at, "
                    "enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
                    ((blast_id, str(p["user_id"]), str(p["phone_id"]), str(p["file"]),
                      p.get("planned_at"), p.get("enqueued_at")) for p in pairs))
                self.db.execute("UPDATE claims SET recorded_at = ?, recorded_ledger_id = ?, "
                                "planned_at = COALESCE(?, planned_at) WHERE blast_id = ?",
                                (now, ledger_id, outcome.get("planned_at"), blast_id))
                message = "blast %s: %d recipients recorded for gateway %s" % (
                    blast_id, len(pairs), gateway)
                changed = True
            elif (not planned and claim_token and claim_token == row["claim_token"]
                  and not row["recorded_at"]):
                self.db.execute("DELETE FROM claims WHERE blast_id = ?", (blast_id,))
                message = ("blast %s: the gateway planned nothing (%s): its claim is released"
                           % (blast_id, "not due yet" if outcome.get("scheduled") else "refused"))
                changed = True
            else:
                message = "blast %s: nothing to record (the claim stays)" % blast_id
                changed = False
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return changed, message
