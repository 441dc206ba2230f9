#!/usr/bin/env python3
"""Route an incoming SMS of the SMS Center (S4, S6, S7): gammu-smsd's RunOnReceive program.

    python3 sms_router.py --data-dir DIR --spool-dir DIR [FILE...]     (RunOnReceive, by hand)
    python3 sms_router.py --data-dir DIR --spool-dir DIR --sweep [--log-dir DIR --restart-stuck]
    python3 sms_router.py --data-dir DIR --spool-dir DIR --rescue --config RC --phone-id ID

gammu-smsd (files backend, ``inboxformat = detail``: one Gammu SMS backup file per
message, all its parts, the text as UTF-16 hexadecimal whatever the locale) runs it once
per received message. gammu-smsd 1.42 appends the inbox file names to the command and
runs it with ``/bin/sh -c``; the names contain the sender, which the network chooses
(an alphanumeric sender such as ``a;reboot`` or ``$(id)``), so the role's command is
``exec ... #``: the names are a shell comment and the router is given none. It stores
every message of the modem's inbox that is not in the database yet (the one just
received included); the environment (PHONE_ID, SMS_<n>_NUMBER, SMS_<n>_TEXT, ...) is in
the daemon's locale and cannot carry a NUL, so the text is taken from the files and the
environment only when a named file cannot be read.

The sender is identified by the phonebook (phonebook.json), the keyword (first word,
any case) by the phonebook's keywords, the blast a non-receipt report or a reply is
about by its id in the text, else by the ledger (the latest blast enqueued to that
user). Every message is stored in incoming.sqlite3 (docs/sms-design.md), one row per
message, keyed by its first inbox file: running the router again on the same files
stores nothing twice. Nothing is dropped: an unknown sender or keyword is stored with
the kind ``unknown-sender`` or ``unknown-keyword``; when the database cannot be
written (locked, disk full, ...) the routed message is appended to
incoming-fallback.jsonl (fsync'd), which the next run that can write the database
moves into it; when neither can be written the message stays in its inbox file and the
next run or the sweep stores it.

``--sweep`` (the role's timer, and ``sms-center-sweep``) stores what earlier runs could
not: inbox files older than ``--min-age`` seconds that are not in the database (a file
torn by a crash only when no whole copy of it came, TORN_WAIT), the
rescued messages, the fallback file; with ``--log-dir`` it also finds a daemon whose
log says it could not save a received message (gammu-smsd 1.42 builds the inbox file
name from the sender: one with a ``/`` cannot be saved, stays on the modem and blocks
every later one) and with ``--restart-stuck`` restarts it. ``--rescue`` (the unit's
ExecStartPre, the daemon stopped) takes every message off the modem with ``gammu
backupsms`` into ``<spool>/<phone_id>/rescue/`` (written, fsync'd, renamed, and only
then deleted from the modem by gammu) and stores them.

Exit status: 0 stored; 1 some only in the fallback file; 2 some not stored at all (they
stay in their inbox or rescue file for the sweep; smsd logs the status). Standard
library only: it runs on the gateway host with the system's python3.
"""
import argparse
import datetime
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

INCOMING_DB = "incoming.sqlite3"
LEDGER_DB = "ledger.sqlite3"
PHONEBOOK = "phonebook.json"
FALLBACK = "incoming-fallback.jsonl"
LOG = "router.log"
SWEEP_STATE = "sweep-state.json"
# --check-stuck runs as root (it restarts daemons): it never creates router.log, which
# the router, run as the daemons' user, could then not write.
LOG_CREATE = True
RESCUE_DIR = "rescue"

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
    text TEXT NOT NULL,
    stored_at TEXT,
    stored_via TEXT,
    digest TEXT);
CREATE INDEX IF NOT EXISTS incoming_received_at ON incoming(received_at);
CREATE INDEX IF NOT EXISTS incoming_blast ON incoming(blast_id, kind);
"""
# The same message under two names (gammu-smsd killed after saving it and before
# deleting it from the modem saves it again, or the rescue finds it still there): the
# digest of its modem, sender, network time stamp and text is stored once.
INDEXES = "CREATE UNIQUE INDEX IF NOT EXISTS incoming_digest ON incoming(digest);"
COLUMNS = ("file", "phone_id", "received_at", "number", "user_id", "agency", "keyword", "kind",
           "blast_id", "text", "stored_at", "stored_via", "digest")
# How a row reached the database: ``receive`` the run gammu-smsd started for it; the
# others are late (the recap counts them): ``sweep`` a later run or the timer,
# ``fallback`` moved from the fallback file, ``rescue`` taken off the modem.
VIA_RECEIVE, VIA_SWEEP, VIA_FALLBACK, VIA_RESCUE = "receive", "sweep", "fallback", "rescue"
# smsd waits this long for RunOnReceive; an inbox file younger than that may still be
# the one a running router is storing (or, in theory, being written).
SMSD_WAIT = 120
# Bounds: a file bigger than this is cut (the file itself stays), a run stores at most
# this many files (the next run goes on).
MAX_FILE_BYTES = 1 << 20
MAX_FILES_PER_RUN = 2000
# What gammu-smsd 1.42 logs when the files backend cannot save a received message.
STUCK_RE = re.compile(r"Error processing SMS|Cannot save file|Cannot save .* No available file names")
# ... and when a multipart message waits far beyond MultipartTimeout (600 s): gammu
# links at most 50 parts, so the parts of a longer one wait one timeout each, for hours.
WAITED_RE = re.compile(r"Incomplete multipart message 0x[0-9A-Fa-f]+, waiting for other parts \(waited ([0-9]+) seconds\)")
WAITED_TOO_LONG = 1800
# A file gammu-smsd was killed while writing (empty, or its last section cut short) is
# saved again, whole, under the next serial when the daemon comes back (the message is
# deleted from the modem only after the save), or taken off the modem by the rescue.
# It waits this long for that copy; a torn file whose copy exists is never stored, one
# without a copy after the wait is stored with what it holds, and logged.
TORN_WAIT = 900
GAMMU_HEADER = b"; This file format was designed for Gammu and is compatible with Gammu+"

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
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if LOG_CREATE else 0)
    try:
        fd = os.open(os.path.join(data_dir, LOG), flags, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
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

def shown(value):
    """A file name or number as one printable line (a hostile one may hold anything)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return str(value).encode("unicode_escape").decode("ascii")


def name_key(name):
    """The text key of a file name (bytes from the directory): its UTF-8, other bytes as \\xNN.

    SQLite cannot store a str that holds lone surrogates (how Python shows undecodable
    bytes), so this is what ``file`` holds for a name that is not UTF-8.
    """
    if isinstance(name, str):
        name = os.fsencode(name)
    return name.decode("utf-8", "backslashreplace")


def read_bounded(path):
    """The first MAX_FILE_BYTES of a file, and whether it was longer."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    return data[:MAX_FILE_BYTES], len(data) > MAX_FILE_BYTES


def backup_sections(text):
    """The [SMSBackupNNN] sections of a Gammu SMS backup, as dicts of lower-case keys."""
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
    return sections


def _hex_utf16(hexa):
    try:
        return bytes.fromhex(hexa).decode("utf-16-be", "replace")
    except ValueError:
        return None


def section_number(section):
    """The sender: NumberUnicode (exact, whatever it holds), else Number."""
    number = _hex_utf16(section.get("numberunicode", "")) if section.get("numberunicode") else None
    if number is None:
        number = section.get("number", "")
        if len(number) >= 2 and number[0] == number[-1] == '"':
            number = number[1:-1]
    return number or None


def section_text(section):
    hexa = "".join(section[k] for k in sorted(k for k in section if re.fullmatch(r"text[0-9]+", k)))
    return _hex_utf16(hexa) or ""


def section_time(section):
    """The network's time stamp of a part (DateTime = 20261203T142404Z) as ISO 8601, or None."""
    match = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z?",
                         section.get("datetime", ""))
    return ("%s-%s-%sT%s:%s:%sZ" % match.groups()) if match else None


def join_sections(sections):
    """(number, text) of the parts of one message, in their UDH order."""
    parts = [(concat_sequence(s.get("udh", "")) or i, section_text(s)) for i, s in enumerate(sections)]
    parts.sort(key=lambda p: p[0])
    number = next((section_number(s) for s in sections if section_number(s)), None)
    return number, "".join(p[1] for p in parts)


def parse_backup(text):
    """Gammu's SMS backup ("detail" inbox format): (number, text) of all its parts, in order."""
    return join_sections(backup_sections(text))


def concat_udh(udh_hex):
    """(reference, total, part number) of a concatenated SMS's UDH (IEI 00 or 08), or None."""
    try:
        udh = bytes.fromhex(udh_hex)
    except ValueError:
        return None
    pos = 1
    while pos + 1 < len(udh):
        iei, length = udh[pos], udh[pos + 1]
        data = udh[pos + 2:pos + 2 + length]
        if iei == 0x00 and length == 3 and len(data) == 3:
            return data[0], data[1], data[2]
        if iei == 0x08 and length == 4 and len(data) == 4:
            return (data[0] << 8) | data[1], data[2], data[3]
        pos += 2 + length
    return None


def concat_reference(udh_hex):
    """(reference, total) of a concatenated SMS's UDH, or None."""
    found = concat_udh(udh_hex)
    return found[:2] if found else None


def concat_sequence(udh_hex):
    """The part number of a concatenated SMS from its UDH, or None."""
    found = concat_udh(udh_hex)
    return found[2] if found else None


def decode_inbox_file(data):
    """The text of one inbox file in any of the inbox formats; (number or None, text)."""
    if data.startswith(b"\xfe\xff"):
        return None, data[2:].decode("utf-16-be", "replace")
    if data.startswith(b"\xff\xfe"):
        return None, data[2:].decode("utf-16-le", "replace")
    if b"[SMSBackup" in data[:4096] or is_backup_header(data):
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


def group_names(names):
    """Inbox file names (bytes) grouped into messages: {key: [(part, name), ...]}.

    The parts of one message in the ``standard`` and ``unicode`` formats share the name
    but for the part number; a ``detail`` file holds every part.
    """
    groups = {}
    for name in names:
        key_text = name_key(name)
        match = INBOX_NAME_RE.match(key_text)
        key = match.group(1) if match else key_text
        part = int(match.group(3)) if match else 0
        groups.setdefault(key, []).append((part, name))
    for parts in groups.values():
        parts.sort()
    return groups


def read_message(parts, inbox_dir, phone_id):
    """The message of one group of inbox files: file, phone_id, number, received_at, text."""
    texts, number, mtime, unreadable, sms_time, torn = [], None, None, [], None, False
    for _part, name in parts:
        match = INBOX_NAME_RE.match(name_key(name))
        number = number or (match.group(2) if match else None)
        path = name if os.path.isabs(name) else os.path.join(inbox_dir, name)
        try:
            data, cut = read_bounded(path)
            mtime = mtime or os.stat(path).st_mtime
        except OSError as exc:
            unreadable.append("%s: %s" % (shown(os.path.basename(name)), exc.strerror or exc))
            continue
        if cut:
            unreadable.append("%s: longer than %d bytes, the rest is in the file" % (
                shown(os.path.basename(name)), MAX_FILE_BYTES))
        torn = torn or is_torn(data)
        file_number, text = decode_inbox_file(data)
        number = file_number or number
        texts.append(text)
        if b"[SMSBackup" in data[:4096]:
            sms_time = sms_time or section_time(next(iter(backup_sections(data.decode("utf-8", "replace"))), {}))
    return {"file": name_key(os.path.basename(parts[0][1])), "phone_id": phone_id, "number": number,
            "received_at": utc_iso(mtime) if mtime else utc_now(), "text": "".join(texts),
            "unreadable": unreadable, "mtime": mtime, "sms_time": sms_time, "torn": torn}


def collect(files, inbox_dir, phone_id, environ):
    """The messages of the files named on the command line (by hand, or an smsd that
    passes them): dicts with file, phone_id, received_at, number, text."""
    names = [os.fsencode(f) for f in files]
    groups = group_names(names)
    messages = []
    from_smsd = len(groups) == 1 and environ.get(b"SMS_MESSAGES") is not None
    base = os.fsencode(inbox_dir) if inbox_dir else b""
    for _key, parts in groups.items():
        message = read_message(parts, base, phone_id)
        if message["unreadable"] and from_smsd:
            message["text"] = env_text(environ) or message["text"]
        if from_smsd:
            message["number"] = env_number(environ) or message["number"]
        messages.append(message)
    return messages


def is_backup_header(data):
    """Whether ``data`` is gammu's backup header (comment lines), or the start of it, and nothing more."""
    lines = data.splitlines()
    return bool(lines) and GAMMU_HEADER.startswith(lines[0][:len(GAMMU_HEADER)]) and bool(lines[0]) and all(
        not line.strip() or line.startswith(b";") for line in lines)


def is_torn(data):
    """Whether an inbox file is one gammu-smsd did not finish writing (``detail`` format:
    empty, or a section without the MessageReference gammu writes last)."""
    if not data.strip():
        return True
    if b"[SMSBackup" not in data[:4096]:
        return is_backup_header(data)  # cut before its first section, else another format
    sections = backup_sections(data.decode("utf-8", "replace"))
    return not sections or any("messagereference" not in s for s in sections)


def copy_key(name):
    """What two saves of one message share in their names: (time stamp, sender, part)."""
    match = INBOX_NAME_RE.match(name_key(name))
    if not match:
        return None
    stamp = match.group(1)[2:17]  # YYYYMMDD_HHMMSS: the network's time stamp
    return stamp.replace("_", ""), match.group(2), match.group(3)


def rescue_copies(rescue_dir):
    """copy_key-like (time stamp, sender, "*") of every message the rescue took off the modem."""
    copies = set()
    try:
        names = [n for n in os.listdir(rescue_dir) if n.endswith(".smsbackup")]
    except OSError:
        return copies
    for name in names:
        try:
            data, _cut = read_bounded(os.path.join(rescue_dir, name))
        except OSError:
            continue
        for section in backup_sections(data.decode("utf-8", "replace")):
            stamp = re.sub(r"[^0-9]", "", section.get("datetime", ""))
            copies.add((stamp, section_number(section) or "", "*"))
    return copies


def inbox_messages(inbox_dir, phone_id, stored, min_age, limit, now=None, data_dir=None):
    """The messages of the inbox files not in ``stored`` (keys), older than ``min_age`` s;
    a torn file only once it is certain gammu-smsd saved no whole copy of it."""
    now = time.time() if now is None else now
    base = os.fsencode(inbox_dir)
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    groups = group_names(n for n in names if not n.startswith(b"."))
    messages, whole, torn = [], None, []
    # Newest first: the one smsd just received is never behind a backlog longer than the bound.
    for _key, parts in sorted(groups.items(), reverse=True):
        if name_key(parts[0][1]) in stored:
            continue
        try:
            mtime = max(os.stat(os.path.join(base, n)).st_mtime for _p, n in parts)
        except OSError:
            continue
        if min_age and now - mtime < min_age:
            continue
        message = read_message(parts, base, phone_id)
        if message.get("torn"):
            torn.append((parts, mtime, message))
            continue
        messages.append(message)
        if len(messages) >= limit:
            break
    for parts, mtime, message in torn:
        if len(messages) >= limit:
            break
        if whole is None:
            whole = whole_copies(groups, base, inbox_dir)
        key = copy_key(parts[0][1])
        if key in whole or (key and (key[0], key[1], "*") in whole):
            continue  # its whole copy is (or will be) stored under its own name
        if now - mtime < TORN_WAIT:
            continue
        if data_dir:
            log(data_dir, "inbox file %s was cut short by a crash and no whole copy of it came: "
                "stored with what it holds" % shown(message["file"]))
        messages.append(message)
    return messages


def whole_copies(groups, base, inbox_dir):
    """The copy keys of the inbox's whole files and of the rescued messages."""
    whole = set()
    for parts in groups.values():
        key = copy_key(parts[0][1])
        if key is None or key in whole:
            continue
        try:
            data, _cut = read_bounded(os.path.join(base, parts[0][1]))
        except OSError:
            continue
        if not is_torn(data):
            whole.add(key)
    whole.update(rescue_copies(os.path.join(os.path.dirname(os.path.normpath(inbox_dir)), RESCUE_DIR)))
    return whole


def rescue_messages(rescue_dir, phone_id, stored, limit):
    """The received messages of the rescue files (Gammu backups of a modem's memory), one
    per message (parts joined by their UDH reference), keyed ``<file>#<first section>``."""
    try:
        names = sorted(n for n in os.listdir(rescue_dir) if n.endswith(".smsbackup"))
    except OSError:
        return []
    messages = []
    for name in names:
        try:
            data, _cut = read_bounded(os.path.join(rescue_dir, name))
        except OSError:
            continue
        groups, order = {}, []
        for index, section in enumerate(backup_sections(data.decode("utf-8", "replace"))):
            if section.get("pdu", "Deliver").lower() != "deliver":
                continue  # the modem's own outbox or drafts: nothing received
            concat = concat_reference(section.get("udh", ""))
            key = ("c", section_number(section), concat) if concat else ("s", index)
            if key not in groups:
                order.append(key)
                groups[key] = (index, [])
            groups[key][1].append(section)
        for key in order:
            first, sections = groups[key]
            file_key = "%s#%03d" % (name, first)
            if file_key in stored:
                continue
            number, text = join_sections(sections)
            received = section_time(sections[0]) or utc_now()
            messages.append({"file": file_key, "phone_id": phone_id, "number": number, "received_at": received,
                             "text": text, "unreadable": [], "via": VIA_RESCUE,
                             "sms_time": section_time(sections[0])})
            if len(messages) >= limit:
                return messages
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
            "text": message["text"] or "", "digest": digest(message)}


def digest(message):
    """The identity of a message whatever its file: None without the network's time stamp."""
    if not message.get("sms_time"):
        return None
    return hashlib.sha256(json.dumps([message["phone_id"], message["number"], message["sms_time"],
                                      message["text"]], ensure_ascii=True).encode("ascii")).hexdigest()


# --- storing --------------------------------------------------------------------------------

def connect(path, busy_timeout=30.0):
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = %d" % int(busy_timeout * 1000))
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    have = {r[1] for r in conn.execute("PRAGMA table_info(incoming)")}
    for column in ("stored_at", "stored_via", "digest"):
        if column not in have:  # a database made before these columns existed
            conn.execute("ALTER TABLE incoming ADD COLUMN %s TEXT" % column)
    conn.executescript(INDEXES)
    return conn


def insert(conn, rows):
    """Insert ``rows`` in one transaction; a row whose file is stored already is skipped."""
    sql = "INSERT OR IGNORE INTO incoming(%s) VALUES (%s)" % (
        ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS)))
    now = utc_now()
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = 0
        for row in rows:
            values = dict(row)
            values.setdefault("stored_at", now)
            values["stored_at"] = values["stored_at"] or now
            values["stored_via"] = values.get("stored_via") or VIA_RECEIVE
            stored += conn.execute(sql, [values.get(c) for c in COLUMNS]).rowcount
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return stored


def stored_files(conn, phone_id):
    return {r[0] for r in conn.execute("SELECT file FROM incoming WHERE phone_id IS ?", (phone_id,))}


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
        payload = "".join(json.dumps(dict(row, error=error), ensure_ascii=True, sort_keys=True) + "\n"
                          for row in rows).encode("ascii")
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            # A line cut by a full disk would be skipped at the replay anyway; the file
            # is put back as it was so that the next append starts on a fresh line.
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise
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
                row = {c: row.get(c) for c in COLUMNS}
                row["received_at"] = row["received_at"] or utc_now()
                row["text"] = row["text"] or ""
                row["stored_at"], row["stored_via"] = None, VIA_FALLBACK
                rows.append(row)
        stored = insert(conn, rows)
        os.unlink(path)
    finally:
        os.close(fd)
    return stored


def route_all(messages, data_dir):
    try:
        book = Phonebook(os.path.join(data_dir, PHONEBOOK))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log(data_dir, "cannot read %s (%s): every sender is unknown" % (PHONEBOOK, exc))
        book = Phonebook.empty()
    ledger = os.path.join(data_dir, LEDGER_DB)
    rows = []
    for message in messages:
        try:
            row = route(message, book, ledger)
        except Exception as exc:  # routing must never cost a message
            log(data_dir, "cannot route %s (%s): stored unrouted" % (shown(message["file"]), exc))
            row = {"file": message["file"], "phone_id": message["phone_id"],
                   "received_at": message["received_at"], "number": message["number"],
                   "kind": UNKNOWN_SENDER, "text": message["text"] or ""}
        row["stored_via"] = message.get("via") or VIA_RECEIVE
        rows.append(row)
    return rows


def run(data_dir, named, phone_dirs, from_smsd, min_age, busy_timeout, limit=MAX_FILES_PER_RUN):
    """Store the ``named`` messages and whatever of ``phone_dirs`` ({phone_id: spool dir})
    is not stored yet; the exit status (0 stored, 1 some in the fallback file only, 2 some
    not stored: they stay in their files for the next run)."""
    now = time.time()
    conn, error = None, None
    try:
        conn = connect(os.path.join(data_dir, INCOMING_DB), busy_timeout)
    except Exception as exc:  # locked, full, read-only, corrupt, ...: the files keep the messages
        error = "%s: %s" % (type(exc).__name__, exc)
    messages = list(named)
    try:
        for phone_id, spool in sorted(phone_dirs.items()):
            stored = stored_files(conn, phone_id) if conn else set()
            stored.update(m["file"] for m in messages)
            if conn is None and not from_smsd:
                continue  # nothing known about what is stored: the next run does it
            found = inbox_messages(os.path.join(spool, "inbox"), phone_id, stored,
                                   min_age, limit - len(messages), now, data_dir)
            for message in found:
                fresh = message.get("mtime") and now - message["mtime"] < SMSD_WAIT
                message["via"] = VIA_RECEIVE if (from_smsd and fresh) else VIA_SWEEP
            if conn is None:
                # Without the database only what smsd just received goes to the fallback
                # file; the older files wait in the inbox for a run that can write it.
                found = [m for m in found if m["via"] == VIA_RECEIVE]
            messages += found
            if conn is not None:
                messages += rescue_messages(os.path.join(spool, RESCUE_DIR), phone_id, stored,
                                            max(0, limit - len(messages)))
    except Exception as exc:
        error = error or "%s: %s" % (type(exc).__name__, exc)
    for message in messages:
        if message["unreadable"]:
            log(data_dir, "unreadable inbox file(s) %s; text from the environment when smsd gave it"
                % "; ".join(message["unreadable"]))
    rows = route_all(messages, data_dir)
    if conn is not None:
        try:
            try:
                insert(conn, rows)
                try:
                    replayed = replay_fallback(conn, data_dir)
                    if replayed:
                        log(data_dir, "moved %d message(s) from %s into the database" % (replayed, FALLBACK))
                except Exception as exc:
                    log(data_dir, "could not replay %s: %s" % (FALLBACK, exc))
                late = sum(1 for r in rows if r["stored_via"] != VIA_RECEIVE)
                if late:
                    log(data_dir, "stored %d message(s) kept aside by an earlier run" % late)
                return 0
            finally:
                conn.close()
        except Exception as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
    if not rows:
        if error:
            log(data_dir, "cannot write %s (%s)" % (INCOMING_DB, error))
            return 2
        return 0
    files = ", ".join(shown(r["file"]) for r in rows)
    log(data_dir, "cannot write %s (%s): keeping %s in %s" % (INCOMING_DB, error, files, FALLBACK))
    try:
        append_fallback(data_dir, rows, error)
        return 1
    except Exception as exc:
        log(data_dir, "cannot write %s either (%s): NOT STORED yet, kept in the inbox for the sweep: %s"
            % (FALLBACK, exc, files))
        return 2


# --- the sweep's look at the daemons, and the rescue ------------------------------------------

def load_state(data_dir):
    try:
        with open(os.path.join(data_dir, SWEEP_STATE), encoding="utf-8") as fh:
            state = json.load(fh)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def save_state(data_dir, state):
    path = os.path.join(data_dir, SWEEP_STATE)
    try:
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(state, fh, sort_keys=True)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        log(data_dir, "cannot write %s: %s" % (SWEEP_STATE, exc))


def stuck_modems(log_dir, phone_ids, state):
    """The modems whose smsd log says, since the last look, that a received message could
    not be saved (it stays on the modem and blocks the ones after it)."""
    stuck = []
    looked = state.setdefault("logs", {})
    for phone_id in phone_ids:
        path = os.path.join(log_dir, phone_id + ".log")
        try:
            st = os.stat(path)
            with open(path, "rb") as fh:
                seen = looked.get(phone_id) or {}
                offset = seen.get("offset", 0) if seen.get("inode") == st.st_ino else 0
                if offset > st.st_size:  # truncated by logrotate's copytruncate
                    offset = 0
                offset = max(offset, st.st_size - MAX_FILE_BYTES)
                fh.seek(offset)
                chunk = fh.read(MAX_FILE_BYTES)
        except OSError:
            continue
        looked[phone_id] = {"inode": st.st_ino, "offset": offset + len(chunk)}
        text = chunk.decode("utf-8", "replace")
        if STUCK_RE.search(text) or any(int(w) > WAITED_TOO_LONG for w in WAITED_RE.findall(text)):
            stuck.append(phone_id)
    return stuck


def rescue(data_dir, spool, phone_id, config, gammu="gammu", timeout=300):
    """Take every message off the (stopped daemon's) modem into a rescue file."""
    directory = os.path.join(spool, RESCUE_DIR)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    for stale in os.listdir(directory):
        # A rescue killed after gammu wrote (and so deleted from the modem) but before the
        # rename: a message twice is better than none.
        if stale.startswith(".RESCUE") and stale.endswith(".smsbackup.tmp"):
            os.rename(os.path.join(directory, stale), os.path.join(directory, stale[1:-4]))
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    name = "RESCUE%s_%d.smsbackup" % (stamp, os.getpid())
    tmp = os.path.join(directory, "." + name + ".tmp")
    try:
        # Gammu writes the whole file, then deletes from the modem exactly the messages
        # it wrote (and nothing if it could not write the file).
        proc = subprocess.run([gammu, "-c", config, "backupsms", tmp, "-yes"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False)
        rc = proc.returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        rc = "%s" % type(exc).__name__
    if not os.path.exists(tmp):
        if rc != 0:
            log(data_dir, "rescue of %s: gammu backupsms failed (%s); the messages stay on the modem"
                % (phone_id, rc))
        return None
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    with open(tmp, "rb") as fh:
        sections = backup_sections(fh.read().decode("utf-8", "replace"))
    if not sections:
        os.unlink(tmp)
        return None
    os.rename(tmp, os.path.join(directory, name))
    dirfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)
    log(data_dir, "rescue of %s: %d message part(s) taken off the modem into %s/%s (gammu rc %s)"
        % (phone_id, len(sections), RESCUE_DIR, name, rc))
    return name


def check_stuck(args):
    """--check-stuck: report (and restart) the daemons that could not save a message."""
    global LOG_CREATE
    LOG_CREATE = False
    try:
        phones = sorted(p for p in os.listdir(args.spool_dir) if os.path.isdir(os.path.join(args.spool_dir, p)))
    except OSError as exc:
        log(args.data_dir, "check-stuck: cannot list %s: %s" % (args.spool_dir, exc))
        return 2
    state = load_state(args.data_dir)
    stuck = stuck_modems(args.log_dir, phones, state)
    status = 0
    for phone_id in stuck:
        log(args.data_dir, "%s could not save a received message (its log says so)%s" % (
            phone_id, "; restarting it, which takes the modem's messages off it first" if args.restart_stuck
            else ""))
        state.setdefault("stuck", {})[phone_id] = utc_now()
        if args.restart_stuck:
            command = [c.replace("{phone_id}", phone_id) for c in args.restart_command.split()]
            try:
                proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=300,
                                      check=False)
                if proc.returncode != 0:
                    status = 2
                    log(args.data_dir, "cannot restart %s: rc %d" % (phone_id, proc.returncode))
            except (OSError, subprocess.TimeoutExpired) as exc:
                status = 2
                log(args.data_dir, "cannot restart %s: %s" % (phone_id, exc))
    save_state(args.data_dir, state)
    return status


def main(argv=None, environ=None):
    environ = os.environb if environ is None else environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", default="/var/lib/sms-center",
                        help="directory of phonebook.json, ledger.sqlite3 and incoming.sqlite3")
    parser.add_argument("--spool-dir", default="/var/spool/sms-center",
                        help="the modems' spool; the inbox files are in <spool-dir>/<PHONE_ID>/inbox/")
    parser.add_argument("--inbox-dir", help="the inbox directory itself (default from --spool-dir)")
    parser.add_argument("--phone-id", help="the modem (default: PHONE_ID from smsd's environment)")
    parser.add_argument("--sweep", action="store_true",
                        help="store what earlier runs could not, for every modem of the spool")
    parser.add_argument("--min-age", type=float, default=SMSD_WAIT + 60,
                        help="--sweep: leave inbox files younger than this (s) to smsd's own run")
    parser.add_argument("--check-stuck", action="store_true",
                        help="find the daemons whose log says a received message could not be saved")
    parser.add_argument("--log-dir", help="--check-stuck: the daemons' logs (<phone_id>.log)")
    parser.add_argument("--restart-stuck", action="store_true",
                        help="--check-stuck: restart a stuck daemon (its ExecStartPre rescues the modem)")
    parser.add_argument("--restart-command", default="systemctl restart sms-center-smsd@{phone_id}.service",
                        help="--check-stuck: the command that restarts a daemon ({phone_id})")
    parser.add_argument("--rescue", action="store_true",
                        help="take every message off the modem (daemon stopped) and store it")
    parser.add_argument("--config", help="--rescue: the modem's smsdrc")
    parser.add_argument("--gammu", default="gammu", help="--rescue: the gammu command")
    parser.add_argument("--rescue-timeout", type=float, default=120,
                        help="--rescue: seconds gammu may take to read the modem")
    parser.add_argument("--busy-timeout", type=float, default=30.0,
                        help="seconds to wait for another writer of incoming.sqlite3")
    parser.add_argument("files", nargs="*", help="inbox file names, as gammu-smsd passes them")
    args = parser.parse_args(argv)
    os.umask(0o027)  # the texts and numbers are personal data
    phone_id = args.phone_id or (environ.get(b"PHONE_ID") or b"").decode("utf-8", "replace") or None
    from_smsd = environ.get(b"SMS_MESSAGES") is not None
    if args.check_stuck:
        if not args.log_dir:
            parser.error("--check-stuck needs --log-dir")
        return check_stuck(args)
    if args.sweep:
        try:
            phones = sorted(p for p in os.listdir(args.spool_dir)
                            if os.path.isdir(os.path.join(args.spool_dir, p, "inbox")))
        except OSError as exc:
            log(args.data_dir, "sweep: cannot list %s: %s" % (args.spool_dir, exc))
            return 2
        if phone_id:
            phones = [p for p in phones if p == phone_id]
        return run(args.data_dir, [], {p: os.path.join(args.spool_dir, p) for p in phones}, False,
                   args.min_age, args.busy_timeout)
    if args.rescue:
        if not (phone_id and args.config):
            parser.error("--rescue needs --phone-id and --config")
        spool = os.path.join(args.spool_dir, phone_id)
        rescue(args.data_dir, spool, phone_id, args.config, args.gammu, args.rescue_timeout)
        return run(args.data_dir, [], {phone_id: spool}, False, SMSD_WAIT, args.busy_timeout)
    inbox_dir = args.inbox_dir or (os.path.join(args.spool_dir, phone_id, "inbox") if phone_id else None)
    named = collect(args.files, inbox_dir, phone_id, environ)
    phone_dirs = {}
    if from_smsd and phone_id and not args.inbox_dir:
        phone_dirs[phone_id] = os.path.join(args.spool_dir, phone_id)
    if not named and not phone_dirs:
        if from_smsd:
            # A backend that passes no file and no PHONE_ID: the environment is all there is.
            stamp = time.time()
            named = [{"file": "ENV%s_%s" % (time.strftime("%Y%m%d_%H%M%S", time.gmtime(stamp)), os.getpid()),
                      "phone_id": phone_id, "number": env_number(environ), "received_at": utc_iso(stamp),
                      "text": env_text(environ) or "", "unreadable": []}]
        else:
            log(args.data_dir, "nothing to route (no inbox file and no SMS_MESSAGES)")
            return 0
    return run(args.data_dir, named, phone_dirs, from_smsd, 0, args.busy_timeout)


if __name__ == "__main__":
    sys.exit(main())
