#!/usr/bin/env python3
"""Route an incoming SMS of the SMS Center (S4, S6, S7): gammu-smsd's RunOnReceive program.

    python3 sms_router.py --data-dir /var/lib/sms-center [--spool-dir /var/spool/sms-center] FILE...

gammu-smsd (files backend) runs it once per received message, with the inbox file
names of its parts as arguments (relative to the modem's inbox/, one file per part in
the ``standard`` and ``unicode`` inbox formats, one file for all parts in ``detail``)
and the message in the environment (PHONE_ID, SMS_MESSAGES, SMS_<n>_NUMBER,
SMS_<n>_TEXT, DECODED_PARTS, DECODED_<n>_TEXT). The text is read from the files:
the environment is in the daemon's locale, so non-ASCII text is lost there when the
daemon runs under the C locale; it is only used when a file cannot be read.

The sender is identified by the phonebook (phonebook.json), the keyword (first word,
any case) by the phonebook's keywords, the blast a non-receipt report or a reply is
about by its id in the text, else by the ledger (the latest blast enqueued to that
user). Every message is stored in incoming.sqlite3 (docs/sms-design.md), one row per
message, keyed by its first inbox file: running the router again on the same files
stores nothing twice. Nothing is dropped: an unknown sender or keyword is stored with
the kind ``unknown-sender`` or ``unknown-keyword``; when the database cannot be
written the routed message is appended to incoming-fallback.jsonl (fsync'd), which
the next run that can write the database moves into it.

Exit status: 0 stored; 1 the database could not be written but the message is in the
fallback file; 2 not stored at all. gammu-smsd logs a non-zero status. Standard
library only: it runs on the gateway host with the system's python3.
"""
import argparse
import datetime
import fcntl
import json
import os
import re
import sqlite3
import sys
import time

INCOMING_DB = "incoming.sqlite3"
LEDGER_DB = "ledger.sqlite3"
PHONEBOOK = "phonebook.json"
FALLBACK = "incoming-fallback.jsonl"
LOG = "router.log"

SCHEMA = """
CREATE TABLE IF NOT EXISTS incoming(
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,
    phone_id TEXT,
    received_at TEXT NOT NULL,
    number TEXT,
    user_id TEXT,
    agency TEXT,
    keyword TEXT,
    kind TEXT NOT NULL,
    blast_id TEXT,
    text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incoming_received_at ON incoming(received_at);
CREATE INDEX IF NOT EXISTS incoming_blast ON incoming(blast_id, kind);
"""
COLUMNS = ("file", "phone_id", "received_at", "number", "user_id", "agency", "keyword", "kind",
           "blast_id", "text")

UNKNOWN_SENDER = "unknown-sender"
UNKNOWN_KEYWORD = "unknown-keyword"
# Kinds whose blast defaults to the latest one enqueued to the sender.
ABOUT_A_BLAST = ("non-receipt", "reply")
BLAST_ID_RE = re.compile(r"(?<![0-9])[0-9]{4}-[0-9]{2}-[0-9]{3}(?![0-9])")
# IN<YYYYMMDD>_<HHMMSS>_<serial>_<number>_<part>.<ext> (gammu-smsd's files backend).
INBOX_NAME_RE = re.compile(r"^(IN[0-9]{8}_[0-9]{6}_[0-9]+_(.*))_([0-9]+)\.([A-Za-z]+)$")
SEPARATORS_RE = re.compile(r"[\s.\-()/]+")
WORD_STRIP = ".,:;!?\"'()[]{}<>*#-_=+~"


def log(data_dir, message):
    """Append a line to router.log (smsd closed our stdout and stderr)."""
    line = "%s %s\n" % (utc_now(), message)
    try:
        with open(os.path.join(data_dir, LOG), "a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError:
        pass
    if sys.stderr is not None:
        try:
            sys.stderr.write(line)
        except (OSError, ValueError):
            pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading the message --------------------------------------------------------------------

def parse_backup(text):
    """Gammu's SMS backup ("detail" inbox format): (number, text) of all its parts, in order."""
    sections, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = {}
            if line[1:].upper().startswith("SMSBACKUP"):
                sections.append(current)
            continue
        if current is None or not line or line.startswith(";") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        current[key.strip().lower()] = value.strip()
    parts = []
    number = None
    for index, section in enumerate(sections):
        hexa = "".join(section[k] for k in sorted(k for k in section if re.fullmatch(r"text[0-9]+", k)))
        try:
            body = bytes.fromhex(hexa).decode("utf-16-be", "replace")
        except ValueError:
            body = ""
        number = number or section.get("number", "").strip('"') or None
        parts.append((concat_sequence(section.get("udh", "")) or index, body))
    parts.sort(key=lambda p: p[0])
    return number, "".join(p[1] for p in parts)


def concat_sequence(udh_hex):
    """The part number of a concatenated SMS from its UDH (IEI 00 or 08), or None."""
    try:
        udh = bytes.fromhex(udh_hex)
    except ValueError:
        return None
    pos = 1
    while pos + 1 < len(udh):
        iei, length = udh[pos], udh[pos + 1]
        data = udh[pos + 2:pos + 2 + length]
        if iei == 0x00 and length == 3 and len(data) == 3:
            return data[2]
        if iei == 0x08 and length == 4 and len(data) == 4:
            return data[3]
        pos += 2 + length
    return None


def decode_inbox_file(data):
    """The text of one inbox file in any of the inbox formats; (number or None, text)."""
    if data.startswith(b"\xfe\xff"):
        return None, data[2:].decode("utf-16-be", "replace")
    if data.startswith(b"\xff\xfe"):
        return None, data[2:].decode("utf-16-le", "replace")
    if b"[SMSBackup" in data[:4096]:
        return parse_backup(data.decode("utf-8", "replace"))
    if b"\x00" in data and len(data) % 2 == 0:
        return None, data.decode("utf-16-be", "replace")
    try:
        return None, data.decode("utf-8")
    except UnicodeDecodeError:
        return None, data.decode("latin-1")


def env_text(environ, index=None):
    """The message's text from smsd's environment (DECODED_1_TEXT, else the SMS_<n>_TEXT)."""
    def get(name):
        value = environ.get(name.encode())
        return None if value is None else value.decode("utf-8", "replace")
    if (get("DECODED_PARTS") or "0").strip() not in ("", "0") and get("DECODED_1_TEXT") is not None:
        return get("DECODED_1_TEXT")
    try:
        count = int(get("SMS_MESSAGES") or 0)
    except ValueError:
        count = 0
    texts = [get("SMS_%d_TEXT" % i) for i in range(1, count + 1)]
    return "".join(t for t in texts if t is not None) if any(t is not None for t in texts) else None


def env_number(environ):
    value = environ.get(b"SMS_1_NUMBER")
    return None if value is None else value.decode("utf-8", "replace")


def collect(files, inbox_dir, phone_id, environ):
    """The messages to store: dicts with file, phone_id, received_at, number, text.

    Files are grouped by name (the parts of one multipart message share it but for the
    part number); smsd passes one message per run, a manual re-run may pass many.
    """
    groups = {}
    for name in files:
        base = os.path.basename(name)
        match = INBOX_NAME_RE.match(base)
        key = match.group(1) if match else base
        part = int(match.group(3)) if match else 0
        number = match.group(2) if match else None
        path = name if os.path.isabs(name) or not inbox_dir else os.path.join(inbox_dir, name)
        groups.setdefault(key, []).append((part, base, path, number))
    messages = []
    from_smsd = len(groups) == 1 and environ.get(b"SMS_MESSAGES") is not None
    for key, parts in groups.items():
        parts.sort()
        texts, number, mtime, unreadable = [], None, None, []
        for _part, base, path, name_number in parts:
            number = number or name_number
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                mtime = mtime or os.stat(path).st_mtime
            except OSError as exc:
                unreadable.append("%s: %s" % (base, exc))
                continue
            file_number, text = decode_inbox_file(data)
            number = file_number or number
            texts.append(text)
        text = "".join(texts)
        if unreadable and from_smsd:
            text = env_text(environ) or text
        if from_smsd:
            number = env_number(environ) or number
        messages.append({"file": parts[0][1], "phone_id": phone_id, "number": number,
                         "received_at": utc_iso(mtime) if mtime else utc_now(), "text": text,
                         "unreadable": unreadable})
    if not groups and environ.get(b"SMS_MESSAGES") is not None:
        # A backend that passes no file: the environment is all there is.
        stamp = time.time()
        messages.append({"file": "ENV%s_%s_%s" % (time.strftime("%Y%m%d_%H%M%S", time.gmtime(stamp)),
                                                  os.getpid(), env_number(environ)),
                         "phone_id": phone_id, "number": env_number(environ), "received_at": utc_iso(stamp),
                         "text": env_text(environ) or "", "unreadable": []})
    return messages


# --- routing --------------------------------------------------------------------------------

def normalise(number, country_code):
    """A sender's number as E.164 (+62...), or as received when it is not a phone number."""
    if not number:
        return number
    compact = SEPARATORS_RE.sub("", number)
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isdigit():
        return number.strip()  # an alphanumeric sender ("TELKOMSEL")
    if compact.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+" + country_code + digits[1:]
    if digits.startswith(country_code) and len(digits) > 9:
        return "+" + digits
    return digits


class Phonebook:
    """phonebook.json: the users by phone and the keywords by word."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self.country_code = str(data.get("country_code") or "62")
        self.by_phone = {u["phone"]: u for u in data.get("users") or [] if u.get("phone")}
        self.keywords = {str(k["keyword"]).upper(): k for k in data.get("keywords") or []}

    @classmethod
    def empty(cls):
        book = cls.__new__(cls)
        book.country_code, book.by_phone, book.keywords = "62", {}, {}
        return book


def first_word(text):
    words = (text or "").split(None, 1)
    return words[0].strip(WORD_STRIP).upper() if words else ""


def latest_blast(ledger_path, user_id):
    """The blast last enqueued to ``user_id`` according to the ledger (read-only), or None."""
    if not user_id or not os.path.exists(ledger_path):
        return None
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % ledger_path, uri=True, timeout=10)
        try:
            row = conn.execute(
                "SELECT blast_id FROM enqueued WHERE user_id = ? AND enqueued_at IS NOT NULL"
                " ORDER BY enqueued_at DESC, blast_id DESC LIMIT 1", (user_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def route(message, book, ledger_path):
    """The incoming row of one message (docs/sms-design.md, incoming.sqlite3)."""
    number = normalise(message["number"], book.country_code)
    user = book.by_phone.get(number)
    word = first_word(message["text"])
    keyword = book.keywords.get(word)
    if user is None:
        kind = UNKNOWN_SENDER
    else:
        kind = keyword["kind"] if keyword else UNKNOWN_KEYWORD
    named = BLAST_ID_RE.search(message["text"] or "")
    blast_id = named.group(0) if named else None
    if blast_id is None and user is not None and kind in ABOUT_A_BLAST:
        blast_id = latest_blast(ledger_path, user["id"])
    return {"file": message["file"], "phone_id": message["phone_id"], "received_at": message["received_at"],
            "number": number, "user_id": user["id"] if user else None,
            "agency": user.get("agency") if user else None,
            "keyword": word if keyword else None, "kind": kind, "blast_id": blast_id,
            "text": message["text"] or ""}


# --- storing --------------------------------------------------------------------------------

def connect(path):
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    return conn


def insert(conn, rows):
    """Insert ``rows`` in one transaction; a row whose file is stored already is skipped."""
    sql = "INSERT INTO incoming(%s) VALUES (%s) ON CONFLICT(file) DO NOTHING" % (
        ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS)))
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = 0
        for row in rows:
            stored += conn.execute(sql, [row.get(c) for c in COLUMNS]).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return stored


def open_locked(path, flags):
    """The fallback file opened and locked (exclusive), the very file at ``path`` now."""
    for _attempt in range(50):
        fd = os.open(path, flags, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # replayed and removed meanwhile: open the new one
    raise OSError("cannot lock %s" % path)


def append_fallback(data_dir, rows, error):
    path = os.path.join(data_dir, FALLBACK)
    created = not os.path.exists(path)
    fd = open_locked(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        payload = "".join(json.dumps(dict(row, error=error), ensure_ascii=False, sort_keys=True) + "\n"
                          for row in rows).encode("utf-8")
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dirfd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def replay_fallback(conn, data_dir):
    """Move the messages of the fallback file into the database; how many were new."""
    path = os.path.join(data_dir, FALLBACK)
    if not os.path.exists(path):
        return 0
    try:
        fd = open_locked(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        with os.fdopen(os.dup(fd), "rb") as fh:
            lines = fh.read().decode("utf-8", "replace").splitlines()
        rows = []
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash before its fsync: never acknowledged
            if isinstance(row, dict) and row.get("file") and row.get("kind"):
                row.setdefault("received_at", utc_now())
                row.setdefault("text", "")
                rows.append(row)
        stored = insert(conn, rows)
        os.unlink(path)
    finally:
        os.close(fd)
    return stored


def store(data_dir, rows):
    """Store ``rows``; the exit status (0 stored, 1 in the fallback file only, 2 lost)."""
    try:
        conn = connect(os.path.join(data_dir, INCOMING_DB))
        try:
            insert(conn, rows)
            try:
                replayed = replay_fallback(conn, data_dir)
                if replayed:
                    log(data_dir, "moved %d message(s) from %s into the database" % (replayed, FALLBACK))
            except (OSError, sqlite3.Error) as exc:
                log(data_dir, "could not replay %s: %s" % (FALLBACK, exc))
        finally:
            conn.close()
        return 0
    except (OSError, sqlite3.Error) as exc:
        error = "%s: %s" % (type(exc).__name__, exc)
    log(data_dir, "cannot write %s (%s): keeping %s in %s" % (
        INCOMING_DB, error, ", ".join(r["file"] for r in rows), FALLBACK))
    try:
        append_fallback(data_dir, rows, error)
        return 1
    except OSError as exc:
        log(data_dir, "cannot write %s either (%s): NOT STORED: %s" % (
            FALLBACK, exc, json.dumps(rows, ensure_ascii=False)))
        return 2


def main(argv=None, environ=None):
    environ = os.environb if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", default="/var/lib/sms-center",
                        help="directory of phonebook.json, ledger.sqlite3 and incoming.sqlite3")
    parser.add_argument("--spool-dir", default="/var/spool/sms-center",
                        help="the modems' spool; the inbox files are in <spool-dir>/<PHONE_ID>/inbox/")
    parser.add_argument("--inbox-dir", help="the inbox directory itself (default from --spool-dir)")
    parser.add_argument("--phone-id", help="the modem (default: PHONE_ID from smsd's environment)")
    parser.add_argument("files", nargs="*", help="inbox file names, as gammu-smsd passes them")
    args = parser.parse_args(argv)
    os.umask(0o027)  # the texts and numbers are personal data
    phone_id = args.phone_id or (environ.get(b"PHONE_ID") or b"").decode("utf-8", "replace") or None
    inbox_dir = args.inbox_dir or (os.path.join(args.spool_dir, phone_id, "inbox") if phone_id else None)
    messages = collect(args.files, inbox_dir, phone_id, environ)
    if not messages:
        log(args.data_dir, "nothing to route (no inbox file and no SMS_MESSAGES)")
        return 0
    for message in messages:
        if message["unreadable"]:
            log(args.data_dir, "unreadable inbox file(s) %s; text from the environment"
                % "; ".join(message["unreadable"]))
    try:
        book = Phonebook(os.path.join(args.data_dir, PHONEBOOK))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log(args.data_dir, "cannot read %s (%s): every sender is unknown" % (PHONEBOOK, exc))
        book = Phonebook.empty()
    ledger = os.path.join(args.data_dir, LEDGER_DB)
    rows = []
    for message in messages:
        try:
            rows.append(route(message, book, ledger))
        except Exception as exc:  # routing must never cost a message
            log(args.data_dir, "cannot route %s (%s): stored unrouted" % (message["file"], exc))
            rows.append({"file": message["file"], "phone_id": message["phone_id"],
                         "received_at": message["received_at"], "number": message["number"],
                         "kind": UNKNOWN_SENDER, "text": message["text"] or ""})
    return store(args.data_dir, rows)


if __name__ == "__main__":
    sys.exit(main())
