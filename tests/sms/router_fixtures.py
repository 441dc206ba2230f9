"""Helpers for the router and recap tests: a real gammu-smsd running the router.

Kept out of conftest.py (another module's tests own it): import these explicitly.
"""
import json
import os
import sqlite3
import sys
import time

from paths import EXAMPLE, ROOT
from smsd_server import Smsd

ROUTER = os.path.join(ROOT, "roles", "sms_gateway", "files", "sms_router.py")


def example_phonebook():
    """The phonebook of the example registry, built by the same code as the role's."""
    from ansible.module_utils.city.registry.loader import load_file
    from ansible.module_utils.city.sms import phonebook
    docs = {n: load_file(os.path.join(EXAMPLE, n + ".yml")).data for n in ("sms", "sms-users", "people", "city")}
    return phonebook.build(docs["sms"], docs["sms-users"], docs["people"], docs["city"])


def write_phonebook(data_dir, book=None):
    os.makedirs(data_dir, exist_ok=True)
    book = book or example_phonebook()
    with open(os.path.join(data_dir, "phonebook.json"), "w", encoding="utf-8") as fh:
        json.dump(book, fh, ensure_ascii=False, indent=1)
    return book


def user(book, user_id):
    return next(u for u in book["users"] if u["id"] == user_id)


def router_command(data_dir, spool_dir):
    """RunOnReceive as the role writes it, with the tests' interpreter and paths."""
    return "%s %s --data-dir %s --spool-dir %s" % (sys.executable, ROUTER, data_dir, spool_dir)


class RoutedSmsd(Smsd):
    """gammu-smsd (dummy driver) with the router as RunOnReceive and a chosen inbox format."""

    def __init__(self, root, phone_id, data_dir, inbox_format=None):
        super().__init__(root, phone_id, run_on_receive=router_command(data_dir, os.path.join(str(root), "spool")))
        self.data_dir = str(data_dir)
        if inbox_format:
            with open(self.config, "a") as fh:
                fh.write("inboxformat = %s\n" % inbox_format)

    def receive_parts(self, number, parts, reference=0x5A):
        """Simulate a concatenated SMS: one Gammu backup file per part, with its UDH (IEI 00)."""
        folder = os.path.join(self.device, "sms", "1")
        for seq, text in reversed(list(enumerate(parts, 1))):  # out of order, as networks deliver
            index = 1 + max([int(n) for n in os.listdir(folder) if n.isdigit()] or [0])
            hexa = text.encode("utf-16-be").hex().upper()
            lines = ["Text%02d = %s" % (i, hexa[o:o + 200]) for i, o in enumerate(range(0, len(hexa), 200))]
            body = "\n".join(["[SMSBackup000]", "SMSC = \"+6281100000\"", "Number = \"%s\"" % number,
                              "Coding = Unicode", "Folder = 1", "State = UnRead", "Class = -1",
                              "UDH = 050003%02X%02X%02X" % (reference, len(parts), seq),
                              "Sent = %s" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())] + lines) + "\n"
            tmp = os.path.join(self.root, "incoming.tmp")
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(body)
            os.rename(tmp, os.path.join(folder, str(index)))

    def rows(self):
        return incoming_rows(self.data_dir)

    def wait_rows(self, count, timeout=60):
        """The incoming rows once there are ``count`` of them (bounded wait)."""
        if not self.wait_until(lambda: len(self.rows()) >= count, timeout):
            raise AssertionError("%d of %d message(s) stored within %ds; smsd log: %s; router log: %s" % (
                len(self.rows()), count, timeout, self.smsd_log(), router_log(self.data_dir)))
        return self.rows()

    def smsd_log(self):
        path = os.path.join(self.root, self.phone_id + ".smsd.log")
        with open(path, errors="replace") as fh:
            return fh.read()[-3000:]


def incoming_rows(data_dir):
    """incoming.sqlite3's rows as dicts (read-only; none while it does not exist)."""
    path = os.path.join(str(data_dir), "incoming.sqlite3")
    if not os.path.exists(path):
        return []
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM incoming ORDER BY id")]
    except sqlite3.OperationalError:  # the schema is being created
        return []
    finally:
        conn.close()


def router_log(data_dir):
    path = os.path.join(str(data_dir), "router.log")
    return open(path, encoding="utf-8").read() if os.path.exists(path) else ""


def make_ledger(path, blast_id, users, planned_at, enqueued_at=None, phone_id="modem1", text="Rapat koordinasi"):
    """Plan (and mark enqueued at ``enqueued_at``) a blast to ``users`` in the ledger, with
    the blast module's own ledger and outbox code; returns the pairs (with their file names)."""
    from ansible.module_utils.city.sms import ledger as ledger_mod
    from ansible.module_utils.city.sms import outbox
    stamp = planned_at.replace("-", "").replace(":", "").replace("T", "_")[:15]
    pairs = [{"blast_id": blast_id, "user_id": u["id"], "phone": u["phone"], "phone_id": phone_id,
              "file": outbox.file_name(stamp, u["phone"], blast_id, u["id"]), "planned_at": planned_at}
             for u in users]
    with ledger_mod.Ledger(str(path)) as ledger:
        ledger.plan({"blast_id": blast_id, "signature_sha256": "0" * 64, "text": text, "segments": 1,
                     "encoding": "gsm7", "recipients": len(pairs), "planned_at": planned_at}, pairs)
        if enqueued_at:
            ledger.mark_enqueued(blast_id, enqueued_at)
    return pairs
