"""Enqueue an approved blast on the gateway, once per recipient (S1, S2, S3, S5, S8).

The core of the ``sms_blast`` module, importable in-process (tests, benchmarks):
:func:`run` checks the blast (originator, the Ketua's signature against the
gateway's own ``allowed_signers``, its expiry, recipients, length), plans the
(blast, recipient) pairs in the ledger, writes one outbox file per pair and marks
the pairs enqueued, following the exactly-once protocol of docs/sms-design.md. A
blast the control node recorded as enqueued through this gateway and that the
ledger lost (a rebuilt gateway) is restored into the ledger, never written again.
"""
import datetime
import hashlib
import json
import os
import sqlite3
import stat
import tempfile
import time

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.registry import gsm
from ansible.module_utils.city.registry.loader import LoadError, load_file
from ansible.module_utils.city.sms import outbox
from ansible.module_utils.city.sms.ledger import Ledger, LedgerError
from ansible.module_utils.city.errors import ToolkitError

KINDS = ("information", "complaint", "question", "suggestion", "invitation")  # S3
RECIPIENT_FIELDS = ("groups", "agencies", "people")
PHONEBOOK_VERSION = 1


class BlastError(ToolkitError):
    """A refusal: nothing was enqueued. ``result`` holds what was computed before it."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = self.details = result or {}


# -- reading the inputs -------------------------------------------------------------


def parse(text):
    """The ``blast`` mapping of a blast file's YAML text, read as the validator reads it.

    The registry loader keeps dates and timestamps as their text, so the canonical
    form is byte for byte the one ``bin/blast-sign`` signed.
    """
    if not isinstance(text, str) or not text.strip():
        raise BlastError("the blast file is empty")
    fd, path = tempfile.mkstemp(prefix="blast-", suffix=".yml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8", "surrogatepass"))
        try:
            loaded = load_file(path, "blast")
        except LoadError as exc:
            raise BlastError("the blast file is not valid YAML (line %d, column %d): %s"
                             % (exc.line, exc.column, exc))
    finally:
        os.unlink(path)
    if loaded.duplicate_keys:
        key, mark = loaded.duplicate_keys[0]
        raise BlastError("the blast file has the key %r twice (line %d): refused, a signed "
                         "blast must be unambiguous" % (key, mark.line + 1))
    data = loaded.data
    blast = data.get("blast") if isinstance(data, dict) else None
    if not isinstance(blast, dict):
        raise BlastError("the blast file has no `blast:` mapping")
    return blast


def parse_time(value, what, naive_is_utc=False):
    """An aware datetime from ISO 8601 text (``Z`` allowed)."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise BlastError("%s %r is not an ISO 8601 date and time" % (what, value))
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise BlastError("%s %r has no UTC offset" % (what, value))
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def load_phonebook(path):
    try:
        with open(path, encoding="utf-8") as fh:
            book = json.load(fh)
    except FileNotFoundError:
        raise BlastError("the phonebook %s does not exist: the sms_gateway role writes it "
                         "from the registry" % path)
    except (OSError, ValueError) as exc:
        raise BlastError("cannot read the phonebook %s: %s" % (path, exc))
    if not isinstance(book, dict) or book.get("version") != PHONEBOOK_VERSION:
        raise BlastError("the phonebook %s is not a version %d phonebook"
                         % (path, PHONEBOOK_VERSION))
    return book


def normalise_modems(modems):
    """[(phone_id, rate_per_minute)] in the given order, checked."""
    out, seen = [], set()
    for modem in modems or []:
        phone_id = str(modem.get("phone_id") or "")
        rate = modem.get("rate_per_minute")
        if not outbox.PHONE_ID_RE.match(phone_id):
            raise BlastError("modem PhoneID %r must be letters, digits, '.', '_' or '-'" % phone_id)
        if phone_id in seen:
            raise BlastError("modem %s is listed twice" % phone_id)
        try:
            rate = int(rate)
        except (TypeError, ValueError):
            rate = 0
        if rate < 1:
            raise BlastError("modem %s: rate_per_minute must be a positive number of SMS per "
                             "minute" % phone_id)
        seen.add(phone_id)
        out.append((phone_id, rate))
    if not out:
        raise BlastError("no modem is configured for this gateway")
    return out


# -- checking the blast ---------------------------------------------------------------


def describe_chars(non_gsm):
    """Human text for gsm.non_gsm_chars(): "'✓' (U+2713) at 18, ..."."""
    return ", ".join("%r (U+%04X) at %d" % (ch, ord(ch), index) for index, ch in non_gsm)


MAX_SIGNERS_BYTES = 64 * 1024


def read_signers(path):
    """(text, principals, problems) of the gateway's ``allowed_signers`` file.

    The file is the gateway's trust anchor: it is read once, through a descriptor that
    refuses a symbolic link, and only when it is a regular file that (when the module
    runs as root) root owns and nobody else may write; the signature is then checked
    against that text, so what was checked is what is used.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, [], ["the allowed_signers file %s does not exist: the role sms_gateway "
                          "installs it (playbooks/sms.yml)" % path]
    except OSError as exc:
        return None, [], ["cannot open the allowed_signers file %s (a symbolic link is never "
                          "trusted): %s" % (path, exc.strerror)]
    try:
        st = os.fstat(fd)
        problems = []
        if not stat.S_ISREG(st.st_mode):
            problems.append("the allowed_signers file %s is not a regular file" % path)
        elif os.geteuid() == 0 and st.st_uid != 0:
            problems.append("the allowed_signers file %s is not owned by root (uid %d)"
                            % (path, st.st_uid))
        elif os.geteuid() == 0 and st.st_mode & 0o022:
            problems.append("the allowed_signers file %s is writable by its group or others "
                            "(mode %04o)" % (path, stat.S_IMODE(st.st_mode)))
        if problems:
            return None, [], problems
        data = os.read(fd, MAX_SIGNERS_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SIGNERS_BYTES:
        return None, [], ["the allowed_signers file %s is larger than %d bytes"
                          % (path, MAX_SIGNERS_BYTES)]
    text = data.decode("utf-8", "replace")
    principals = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            for name in line.split()[0].split(","):
                if name not in principals:
                    principals.append(name)
    if not principals:
        return None, [], ["the allowed_signers file %s names nobody: no blast can be approved"
                          % path]
    return text, principals, []


def _verify_against(blast, principal, signers_text):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "allowed_signers")
        with open(copy, "w", encoding="utf-8") as fh:
            fh.write(signers_text)
        return blast_signature.verify_file(blast, principal, copy)


def check(blast, allowed_signers, originators, max_segments):
    """(sms_info of the text, [problems]) for the blast's own fields and its approval,
    verified against the ``allowed_signers`` file at that path."""
    problems = []
    bid = blast.get("id")
    if not isinstance(bid, str) or not outbox.BLAST_ID_RE.match(bid):
        problems.append("blast id %r is not of the form YYYY-MM-NNN" % (bid,))
    kind = blast.get("kind")
    if kind not in KINDS:
        problems.append("kind %r is not one of %s (S3)" % (kind, ", ".join(KINDS)))
    originator = blast.get("originator")
    if str(originator) not in {str(o) for o in originators or []}:
        problems.append("%s may not originate blasts (S1): not in sms.yml originators"
                        % (originator,))
    rec = blast.get("recipients")
    if not isinstance(rec, dict) or not any(rec.get(f) for f in RECIPIENT_FIELDS):
        problems.append("the blast names no recipients (groups, agencies or people)")
    elif set(rec) - set(RECIPIENT_FIELDS):
        problems.append("unknown recipient field(s) %s: use groups, agencies, people"
                        % ", ".join(sorted(set(rec) - set(RECIPIENT_FIELDS))))
    approval = blast.get("approval")
    if not isinstance(approval, dict):
        problems.append("the blast has no approval by the Ketua (S2)")
    else:
        signers_text, principals, trouble = read_signers(allowed_signers)
        by = str(approval.get("by"))
        if trouble:
            problems.extend("%s (S2)" % t for t in trouble)
        elif by not in principals:
            problems.append("approved by %s, who is not the Ketua in %s (%s) (S2)"
                            % (by, allowed_signers, ", ".join(principals)))
        else:
            ok, why = _verify_against(blast, by, signers_text)
            if not ok:
                problems.append("the Ketua's signature does not verify against %s (S2): %s"
                                % (allowed_signers, why))
        if approval.get("expires") is None:
            problems.append("the approval has no expires: the Ketua names the last moment the "
                            "blast may be sent (S2)")
    text = blast.get("text")
    info = None
    if not isinstance(text, str) or not text:
        problems.append("the blast has no text")
    else:
        info = gsm.sms_info(text)
        if info["segments"] > max_segments:
            hint = ""
            if info["non_gsm_chars"]:
                hint = "; these characters force UCS-2 (70 characters per SMS): " + describe_chars(
                    info["non_gsm_chars"][:10])
            problems.append("the text needs %d SMS segments (%s, %d units), more than the %d "
                            "allowed%s" % (info["segments"], info["encoding"], info["units"],
                                           max_segments, hint))
    return info, problems


def resolve(blast, book):
    """(recipients, problems): the registered users the blast names, one per user and per
    phone, sorted by user id. An unknown group, agency or person is a problem."""
    users = book.get("users") or []
    groups = set(book.get("groups") or [])
    by_group, by_agency, by_person = {}, {}, {}
    for user in users:
        for group in user.get("groups") or []:
            by_group.setdefault(group, []).append(user)
        by_agency.setdefault(user.get("agency"), []).append(user)
        by_person.setdefault(str(user.get("person")), []).append(user)
    rec = blast.get("recipients") if isinstance(blast.get("recipients"), dict) else {}
    chosen, problems = {}, []
    for group in rec.get("groups") or []:
        if group not in groups:
            problems.append("unknown group %r (not in sms.yml groups)" % (group,))
        elif group not in by_group:
            problems.append("group %r has no registered SMS user" % (group,))
        for user in by_group.get(group, []):
            chosen[user["id"]] = user
    for agency in rec.get("agencies") or []:
        if agency not in by_agency:
            problems.append("agency %r is unknown or has no registered SMS user" % (agency,))
        for user in by_agency.get(agency, []):
            chosen[user["id"]] = user
    for person in rec.get("people") or []:
        if str(person) not in by_person:
            problems.append("person %r is unknown or has no registered SMS user" % (person,))
        for user in by_person.get(str(person), []):
            chosen[user["id"]] = user
    out, phones = [], {}
    for uid in sorted(chosen):
        user = chosen[uid]
        if not outbox.USER_ID_RE.match(str(uid)) or not outbox.PHONE_RE.match(str(user.get("phone"))):
            problems.append("phonebook entry %r has an invalid id or phone %r" % (uid, user.get("phone")))
            continue
        if user["phone"] in phones:  # S5 makes numbers unique; never send twice to one phone
            continue
        phones[user["phone"]] = uid
        out.append(user)
    return out, problems


def assign(count, modems):
    """Modem of each of ``count`` recipients in order: smooth weighted round robin, so each
    modem gets a share proportional to its rate (within one) and the order is stable."""
    total = sum(rate for _pid, rate in modems)
    current = [0] * len(modems)
    out = []
    for _index in range(count):
        best = 0
        for i, (_pid, rate) in enumerate(modems):
            current[i] += rate
            if current[i] > current[best]:
                best = i
        current[best] -= total
        out.append(modems[best][0])
    return out


def mask(phone):
    """+6281234567890 -> +62812****890."""
    phone = str(phone)
    return phone[:6] + "****" + phone[-3:] if len(phone) > 9 else "****"


# -- the run ---------------------------------------------------------------------------


def signature_sha256(blast):
    """SHA-256 (hex) of the blast's armoured signature: how the ledgers name an approval."""
    signature = (blast.get("approval") or {}).get("signature") or ""
    return hashlib.sha256(str(signature).strip().encode("utf-8")).hexdigest()


def _pending_note(ledger, spool_dir, bid):
    """What an interrupted run left of blast ``bid``, for a refusal message: the pairs the
    ledger planned whose file is in none of the spool's folders."""
    try:
        with Ledger(ledger, readonly=True) as book_of_record:
            pairs = book_of_record.pairs(bid)
            row = book_of_record.blast(bid)
    except (LedgerError, sqlite3.Error, OSError):
        return ""
    if row is None:
        return ""
    pending = sum(1 for p in pairs if p["enqueued_at"] is None
                  and not outbox.where(spool_dir, p["phone_id"], p["file"]))
    if not pending:
        return "; all %d recipients were enqueued before it expired" % len(pairs)
    return ("; %d of its %d recipients planned on %s remain unsent and are never sent on "
            "this approval" % (pending, len(pairs), row["planned_at"]))


def restored_pairs(bid, restore):
    """The gateway ledger's pairs from the control node's record of blast ``bid``."""
    out = []
    for pair in restore.get("pairs") or []:
        name = str(pair.get("file") or "")
        parts = name.split("_")
        phone = parts[3] if len(parts) > 4 else ""
        user_id, phone_id = str(pair.get("user_id") or ""), str(pair.get("phone_id") or "")
        if (not outbox.USER_ID_RE.match(user_id) or not outbox.PHONE_ID_RE.match(phone_id)
                or not outbox.PHONE_RE.match(phone) or "_b%s-u" % bid not in name
                or "/" in name):
            raise BlastError("blast %s: the control node's record holds a pair that is not one "
                             "of this blast (%r): nothing restored" % (bid, pair))
        enqueued_at = pair.get("enqueued_at") or restore.get("recorded_at")
        out.append({"blast_id": bid, "user_id": user_id, "phone": phone, "phone_id": phone_id,
                    "file": name, "planned_at": pair.get("planned_at") or restore.get("planned_at")
                    or enqueued_at, "enqueued_at": enqueued_at})
    return out


class BlastRun:
    """One run of a blast on the gateway, in the phases of every service.

    :meth:`check` (the blast against the gateway's trust, originators, phonebook and
    clock: a refusal enqueues nothing), :meth:`plan` (the ledger read under its lock:
    which pairs to write, which an interrupted run left in the spool, which the control
    node restores), :meth:`apply` (the ledger written, the files renamed into the
    outboxes, the pairs marked: the exactly-once protocol of docs/sms-design.md),
    :meth:`summary` (the module's result). :meth:`close` releases the ledger.

    ``restore`` is the control node's record of the blast when it claimed it before this
    run (sms_blast_claim): its recorded pairs, or none when they never came back, and the
    id of the gateway ledger it knew then (docs/sms-design.md, "Spent once").
    """

    def __init__(self, blast_text, allowed_signers, originators, phonebook, spool_dir, ledger,
                 modems, max_segments, now=None, check_mode=False, restore=None):
        self.blast_text, self.allowed_signers, self.originators = blast_text, allowed_signers, originators
        self.phonebook, self.spool_dir, self.ledger_path = phonebook, spool_dir, ledger
        self.modems, self.max_segments, self.now, self.check_mode = modems, max_segments, now, check_mode
        self.restore = restore
        self.book_of_record = None
        self.to_write, self.recovered, self.restored, self.written = [], [], [], []
        self.pairs, self.notices, self.already = [], [], 0
        self.ledger_writes = []  # what apply() writes to the ledger before the files
        self.timing = {}
        self.result = {"changed": False, "ledger": ledger, "planned": False}

    # -- check ---------------------------------------------------------------------------

    def check(self):
        """Refuse (BlastError, nothing enqueued) a blast this gateway must not send."""
        self._started = time.perf_counter()
        result = self.result
        blast = self.blast = parse(self.blast_text)
        info, problems = check(blast, self.allowed_signers, self.originators, self.max_segments)
        self.info = info
        users, more = resolve(blast, load_phonebook(self.phonebook))
        self.users = users
        problems += more
        if not problems and not users:
            problems.append("the blast reaches no registered SMS user")
        bid = self.bid = blast.get("id")
        result["blast"] = {"id": bid, "kind": blast.get("kind"), "originator": blast.get("originator")}
        if info:
            result.update(segments=info["segments"], encoding=info["encoding"], units=info["units"],
                          non_gsm_chars=[{"index": i, "char": c, "codepoint": "U+%04X" % ord(c)}
                                         for i, c in info["non_gsm_chars"]])
        moment = parse_time(self.now, "now", naive_is_utc=True) if self.now else datetime.datetime.now(
            datetime.timezone.utc)
        self.moment = moment = moment.astimezone(datetime.timezone.utc)
        self.now_iso = moment.isoformat(timespec="seconds")
        expires = (blast.get("approval") or {}).get("expires") if isinstance(
            blast.get("approval"), dict) else None
        if expires is not None:
            try:
                until = parse_time(expires, "approval.expires")
            except BlastError as exc:
                problems.append(str(exc))
            else:
                result["expires"] = until.isoformat()
                if moment > until:
                    problems.append("the approval expired at %s (now %s): an expired blast is never "
                                    "sent; the Ketua approves it again or it moves to blasts/archive/"
                                    "%s" % (until.isoformat(), self.now_iso,
                                            _pending_note(self.ledger_path, self.spool_dir, bid)))
        if problems:
            raise BlastError("blast %s refused, nothing enqueued: %s" % (bid, "; ".join(problems)), result)
        self.modem_list = normalise_modems(self.modems)
        self.rates = dict(self.modem_list)
        send_after = blast.get("send_after")
        self.scheduled = False
        if send_after is not None:
            when = parse_time(send_after, "send_after")
            self.scheduled = moment < when
            result["send_after"] = when.isoformat()
        result["scheduled"] = self.scheduled
        self.sig_sha = result["signature_sha256"] = signature_sha256(blast)
        self._checked = time.perf_counter()

    # -- plan ----------------------------------------------------------------------------

    def _fresh_pairs(self):
        stamp = self.moment.strftime("%Y%m%d_%H%M%S")
        placed = assign(len(self.users), self.modem_list)
        return [{"blast_id": self.bid, "user_id": u["id"], "phone": u["phone"], "phone_id": pid,
                 "file": outbox.file_name(stamp, u["phone"], self.bid, u["id"]),
                 "planned_at": self.now_iso, "enqueued_at": None}
                for u, pid in zip(self.users, placed)]

    def _ledger_row(self, pairs, planned_at):
        return {"blast_id": self.bid, "signature_sha256": self.sig_sha, "text": self.blast["text"],
                "segments": self.info["segments"], "encoding": self.info["encoding"],
                "recipients": len(pairs), "planned_at": planned_at}

    def plan(self):
        """Which pairs this run writes, finds or restores; the ledger is read, not written."""
        result, bid, restore = self.result, self.bid, self.restore
        missing = [pid for pid, _rate in self.modem_list
                   if not os.path.isdir(outbox.folder(self.spool_dir, pid, "outbox"))]
        if missing and not self.scheduled:
            why = ("the outbox of modem(s) %s does not exist under %s: configure the gateway "
                   "first (role sms_gateway)" % (", ".join(missing), self.spool_dir))
            if not self.check_mode:
                raise BlastError("blast %s: nothing enqueued: %s" % (bid, why), result)
            self.notices.append(why)
        if self.scheduled:
            self.pairs = self._fresh_pairs()
            try:
                with Ledger(self.ledger_path, readonly=True) as book_of_record:
                    result["ledger_id"] = book_of_record.ledger_id()
            except (LedgerError, sqlite3.Error):
                result["ledger_id"] = None
            return
        with self._guard():
            book = self.book_of_record = Ledger(self.ledger_path, readonly=self.check_mode)
            ledger_id = result["ledger_id"] = book.ledger_id()
            row = book.blast(bid)
            if row is not None and row["signature_sha256"] != self.sig_sha:
                raise BlastError(
                    "blast %s refused, nothing enqueued: it was planned on %s with another "
                    "signature; a blast is never changed once sent, a correction is a new "
                    "blast" % (bid, row["planned_at"]), result)
            if row is None and restore is not None and restore.get("pairs"):
                # A rebuilt gateway: the control node saw these go out through it.
                self.restored = self.pairs = restored_pairs(bid, restore)
                self.ledger_writes.append(("restore", self._ledger_row(
                    self.pairs, restore.get("planned_at") or self.pairs[0]["planned_at"]), self.pairs))
                result["planned_at"] = restore.get("planned_at")
                self.already = len(self.pairs)
            elif row is None and restore is not None and not (
                    restore.get("ledger_id") and restore["ledger_id"] == ledger_id):
                raise BlastError(
                    "blast %s refused, nothing enqueued: the control node claimed it for this "
                    "gateway on %s, but the record of its recipients never came back (the "
                    "gateway stopped before it did), and this ledger (%s) is not the one it "
                    "was handed to (%s): it may have gone out already, so it is never sent "
                    "again. If the old gateway's sent folders show it did not go out, the "
                    "Ketua approves it again under a new id" % (
                        bid, restore.get("claimed_at"), ledger_id or "none yet",
                        restore.get("ledger_id") or "unknown"), result)
            elif row is None:
                self.pairs = self.to_write = self._fresh_pairs()
                self.ledger_writes.append(("plan", self._ledger_row(self.pairs, self.now_iso), self.pairs))
            else:
                result["planned"] = True
                self.pairs = book.pairs(bid)
                result["planned_at"] = row["planned_at"]
                pending = [p for p in self.pairs if p["enqueued_at"] is None]
                self.already = len(self.pairs) - len(pending)
                for pair in pending:
                    if outbox.where(self.spool_dir, pair["phone_id"], pair["file"]):
                        self.recovered.append(pair)
                    else:
                        self.to_write.append(pair)
                orphans = [p for p in self.to_write if p["phone_id"] not in self.rates]
                if orphans:
                    moves = list(zip([p["user_id"] for p in orphans], assign(len(orphans), self.modem_list)))
                    for pair, (_uid, pid) in zip(orphans, moves):
                        self.notices.append("%s was planned on modem %s, which is no longer configured: "
                                            "moved to %s" % (pair["user_id"], pair["phone_id"], pid))
                        pair["phone_id"] = pid
                    self.ledger_writes.append(("reassign", moves))
        self._planned = time.perf_counter()

    @property
    def changes(self):
        """Whether an apply would change the gateway (write, mark or restore anything)."""
        return bool(not self.scheduled and (self.to_write or self.recovered or self.restored))

    # -- apply ---------------------------------------------------------------------------

    def apply(self):
        """Write the ledger, the files, then mark the pairs: the exactly-once protocol."""
        book, bid = self.book_of_record, self.bid
        with self._guard():
            for write in self.ledger_writes:
                if write[0] == "restore":
                    book.restore(write[1], write[2])
                    self.result["planned"] = True
                elif write[0] == "plan":
                    book.plan(write[1], write[2])
                    self.result["planned"] = True
                else:
                    book.reassign(bid, write[1])
            by_modem = {}
            for pair in self.to_write:
                by_modem.setdefault(pair["phone_id"], []).append(pair["file"])
            if self.to_write:
                outbox.write(self.spool_dir, by_modem, outbox.content(self.blast["text"]))
            self._wrote = time.perf_counter()
            if self.to_write or self.recovered:
                book.mark_enqueued(bid, self.now_iso)
            self.written = self.to_write
            self.record_pairs()

    def record_pairs(self):
        """What the control node records: every pair as the ledger now holds it."""
        if self.book_of_record is None or self.check_mode:
            return
        with self._guard():
            self.result["pairs"] = [{"user_id": p["user_id"], "phone_id": p["phone_id"], "file": p["file"],
                                     "planned_at": p["planned_at"], "enqueued_at": p["enqueued_at"]}
                                    for p in self.book_of_record.pairs(self.bid)]

    def _guard(self):
        return _LedgerGuard(self)

    def close(self):
        if self.book_of_record is not None:
            self.book_of_record.close()
            self.book_of_record = None

    # -- the result ----------------------------------------------------------------------

    def summary(self, diff=False):
        """The module's result (the same keys in check mode, with what would happen)."""
        result, bid, pairs, check_mode = self.result, self.bid, self.pairs, self.check_mode
        segments, info = self.info["segments"], self.info
        if not self.scheduled:
            end = time.perf_counter()
            planned = getattr(self, "_planned", end)
            wrote = getattr(self, "_wrote", planned)
            result["timing"] = {"check": round(self._checked - self._started, 4),
                                "plan": round(planned - self._checked, 4),
                                "write": round(wrote - planned, 4),
                                "mark": round(end - wrote, 4)}
        result.setdefault("planned_at", self.now_iso if not self.scheduled else None)
        per_modem = {}
        for pair in pairs:
            entry = per_modem.setdefault(pair["phone_id"], {"recipients": 0, "sms": 0})
            entry["recipients"] += 1
            entry["sms"] += segments
        for pid, entry in per_modem.items():
            # The rate counts messages (outbox files): the role paces gammu-smsd to one file
            # per main loop, whatever the number of segments of the file.
            rate = self.rates.get(pid)
            entry["rate_per_minute"] = rate
            entry["minutes"] = round(entry["recipients"] / float(rate), 1) if rate else None
        minutes = [e["minutes"] for e in per_modem.values() if e["minutes"] is not None]
        total_sms = segments * len(pairs)
        result.update(
            recipients=[{"id": p["user_id"], "phone": mask(p["phone"]), "phone_id": p["phone_id"]}
                        for p in pairs],
            recipient_count=len(pairs),
            total_sms=total_sms,
            per_modem=per_modem,
            estimated_minutes=max(minutes) if minutes else 0.0,
            enqueued=0 if self.scheduled else len(self.to_write),
            recovered=len(self.recovered),
            restored=len(self.restored),
            already_enqueued=self.already,
            files=[p["file"] for p in (self.written if not check_mode else self.to_write)],
            notices=self.notices,
        )
        result["changed"] = self.changes
        if self.scheduled:
            result["msg"] = ("blast %s is scheduled: not before %s (now %s); nothing enqueued"
                             % (bid, result["send_after"], self.now_iso))
        elif self.restored:
            result["msg"] = ("blast %s: %s %d recipients from the control node's record: it went out "
                             "through this gateway before its ledger was lost; nothing is sent again"
                             % (bid, "would restore" if check_mode else "restored", len(self.restored)))
        else:
            verb = "would enqueue" if check_mode else "enqueued"
            result["msg"] = ("blast %s: %d recipients, %d SMS each (%s), %d SMS over %d modem(s), "
                             "about %.1f min; %s %d now, %d found already in the spool, %d enqueued "
                             "before" % (bid, len(pairs), segments, info["encoding"], total_sms,
                                         len(per_modem), result["estimated_minutes"], verb,
                                         len(self.to_write), len(self.recovered), self.already))
        if info["non_gsm_chars"]:
            result["msg"] += "; UCS-2 because of " + describe_chars(info["non_gsm_chars"][:10])
        if diff:
            result["diff"] = make_diff(bid, pairs, self.to_write, per_modem, segments, info["encoding"])
        return result


class _LedgerGuard:
    """The ledger's and the file system's failures as refusals a re-run completes."""

    def __init__(self, work):
        self.work = work

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _tb):
        if kind is None or not issubclass(kind, (LedgerError, sqlite3.Error, OSError)):
            return False
        self.work.close()
        bid, result = self.work.bid, self.work.result
        if issubclass(kind, (LedgerError, sqlite3.Error)):
            raise BlastError("blast %s: the ledger %s failed, nothing more enqueued (a re-run "
                             "completes the blast, exactly once): %s" % (bid, self.work.ledger_path, exc), result)
        raise BlastError("blast %s: stopped by a file system error (a re-run completes it, "
                         "exactly once): %s" % (bid, exc), result)


def run(blast_text, allowed_signers, originators, phonebook, spool_dir, ledger,
        modems, max_segments, now=None, check_mode=False, diff=False, restore=None):
    """Check, plan, write and mark in-process (benchmarks, tests); return the module's result,
    raise BlastError on refusal."""
    work = BlastRun(blast_text, allowed_signers, originators, phonebook, spool_dir, ledger, modems,
                    max_segments, now=now, check_mode=check_mode, restore=restore)
    try:
        work.check()
        work.plan()
        if work.changes and not check_mode:
            work.apply()
        else:
            work.record_pairs()
        return work.summary(diff=diff)
    finally:
        work.close()


def make_diff(bid, pairs, to_write, per_modem, segments, encoding):
    """The recipients (masked numbers) and per-modem counts; new pairs appear as additions."""
    new = {p["user_id"] for p in to_write}

    def line(p):
        return "%s %s %s" % (p["user_id"], mask(p["phone"]), p["phone_id"])

    head = ["blast %s: %d SMS per recipient (%s)" % (bid, segments, encoding)]
    modems = ["%s: %d recipients, %d SMS, %s min at %s messages/min" % (
        pid, e["recipients"], e["sms"], e["minutes"], e["rate_per_minute"])
        for pid, e in sorted(per_modem.items())]
    before = [line(p) for p in pairs if p["user_id"] not in new]
    after = [line(p) for p in pairs]
    return {"before_header": "enqueued (ledger)", "after_header": "enqueued after this run",
            "before": "\n".join(head + before) + "\n",
            "after": "\n".join(head + modems + after) + "\n"}
