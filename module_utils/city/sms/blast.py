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

KINDS = ("information", "complaint", "question", "suggestion", "invitation")  # S3
RECIPIENT_FIELDS = ("groups", "agencies", "people")
PHONEBOOK_VERSION = 1


class BlastError(Exception):
    """A refusal: nothing was enqueued. ``result`` holds what was computed before it."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


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
    total = sum(rate for _, rate in modems)
    current = [0] * len(modems)
    out = []
    for _ in range(count):
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


def run(blast_text, allowed_signers, originators, phonebook, spool_dir, ledger,
        modems, max_segments, now=None, check_mode=False, diff=False, restore=None):
    """Check, plan, write and mark; return the module's result, raise BlastError on refusal.

    ``restore`` is the control node's record of the blast when it claimed it before this
    run (sms_blast_claim): its recorded pairs, or none when they never came back, and the
    id of the gateway ledger it knew then (docs/sms-design.md, "Spent once").
    """
    started = time.perf_counter()
    blast = parse(blast_text)
    info, problems = check(blast, allowed_signers, originators, max_segments)
    book = load_phonebook(phonebook)
    users, more = resolve(blast, book)
    problems += more
    if not problems and not users:
        problems.append("the blast reaches no registered SMS user")
    bid = blast.get("id")
    result = {"changed": False, "blast": {"id": bid, "kind": blast.get("kind"),
                                          "originator": blast.get("originator")},
              "ledger": ledger, "planned": False}
    if info:
        result.update(segments=info["segments"], encoding=info["encoding"], units=info["units"],
                      non_gsm_chars=[{"index": i, "char": c, "codepoint": "U+%04X" % ord(c)}
                                     for i, c in info["non_gsm_chars"]])
    moment = parse_time(now, "now", naive_is_utc=True) if now else datetime.datetime.now(
        datetime.timezone.utc)
    moment = moment.astimezone(datetime.timezone.utc)
    now_iso = moment.isoformat(timespec="seconds")
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
                                "%s" % (until.isoformat(), now_iso,
                                        _pending_note(ledger, spool_dir, bid)))
    if problems:
        raise BlastError("blast %s refused, nothing enqueued: %s" % (bid, "; ".join(problems)),
                         result)
    modem_list = normalise_modems(modems)
    rates = dict(modem_list)
    send_after = blast.get("send_after")
    scheduled = False
    if send_after is not None:
        when = parse_time(send_after, "send_after")
        scheduled = moment < when
        result["send_after"] = when.isoformat()
    result["scheduled"] = scheduled
    sig_sha = signature_sha256(blast)
    result["signature_sha256"] = sig_sha
    checked = time.perf_counter()
    text = blast["text"]
    segments = info["segments"]

    def fresh_pairs():
        stamp = moment.strftime("%Y%m%d_%H%M%S")
        placed = assign(len(users), modem_list)
        return [{"blast_id": bid, "user_id": u["id"], "phone": u["phone"], "phone_id": pid,
                 "file": outbox.file_name(stamp, u["phone"], bid, u["id"]),
                 "planned_at": now_iso, "enqueued_at": None}
                for u, pid in zip(users, placed)]

    notices = []
    missing = [pid for pid, _rate in modem_list
               if not os.path.isdir(outbox.folder(spool_dir, pid, "outbox"))]
    if missing and not scheduled:
        why = ("the outbox of modem(s) %s does not exist under %s: configure the gateway "
               "first (role sms_gateway)" % (", ".join(missing), spool_dir))
        if not check_mode:
            raise BlastError("blast %s: nothing enqueued: %s" % (bid, why), result)
        notices.append(why)
    written, to_write, recovered, restored, already = [], [], [], [], 0
    if scheduled:
        pairs = fresh_pairs()
        try:
            with Ledger(ledger, readonly=True) as book_of_record:
                result["ledger_id"] = book_of_record.ledger_id()
        except (LedgerError, sqlite3.Error):
            result["ledger_id"] = None
    else:
        try:
            with Ledger(ledger, readonly=check_mode) as book_of_record:
                ledger_id = book_of_record.ledger_id()
                result["ledger_id"] = ledger_id
                row = book_of_record.blast(bid)
                if row is not None and row["signature_sha256"] != sig_sha:
                    raise BlastError(
                        "blast %s refused, nothing enqueued: it was planned on %s with another "
                        "signature; a blast is never changed once sent, a correction is a new "
                        "blast" % (bid, row["planned_at"]), result)
                if row is None and restore is not None and restore.get("pairs"):
                    # A rebuilt gateway: the control node saw these go out through it.
                    restored = restored_pairs(bid, restore)
                    pairs = restored
                    if not check_mode:
                        book_of_record.restore({
                            "blast_id": bid, "signature_sha256": sig_sha, "text": text,
                            "segments": segments, "encoding": info["encoding"],
                            "recipients": len(pairs),
                            "planned_at": restore.get("planned_at") or pairs[0]["planned_at"]},
                            pairs)
                        result["planned"] = True
                    result["planned_at"] = restore.get("planned_at")
                    already = len(pairs)
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
                    pairs = fresh_pairs()
                    if not check_mode:
                        book_of_record.plan({"blast_id": bid, "signature_sha256": sig_sha,
                                             "text": text, "segments": segments,
                                             "encoding": info["encoding"],
                                             "recipients": len(pairs), "planned_at": now_iso},
                                            pairs)
                        result["planned"] = True
                    to_write = pairs
                else:
                    result["planned"] = True
                    pairs = book_of_record.pairs(bid)
                    result["planned_at"] = row["planned_at"]
                    pending = [p for p in pairs if p["enqueued_at"] is None]
                    already = len(pairs) - len(pending)
                    for pair in pending:
                        if outbox.where(spool_dir, pair["phone_id"], pair["file"]):
                            recovered.append(pair)
                        else:
                            to_write.append(pair)
                    orphans = [p for p in to_write if p["phone_id"] not in rates]
                    if orphans:
                        moves = list(zip([p["user_id"] for p in orphans],
                                         assign(len(orphans), modem_list)))
                        for pair, (_uid, pid) in zip(orphans, moves):
                            notices.append("%s was planned on modem %s, which is no longer "
                                            "configured: moved to %s" % (pair["user_id"],
                                                                        pair["phone_id"], pid))
                            pair["phone_id"] = pid
                        if not check_mode:
                            book_of_record.reassign(bid, moves)
                planned = time.perf_counter()
                by_modem = {}
                for pair in to_write:
                    by_modem.setdefault(pair["phone_id"], []).append(pair["file"])
                if not check_mode:
                    if to_write:
                        outbox.write(spool_dir, by_modem, outbox.content(text))
                    wrote = time.perf_counter()
                    if to_write or recovered:
                        book_of_record.mark_enqueued(bid, now_iso)
                    written = to_write
                    # What the control node records: every pair as the ledger now holds it.
                    result["pairs"] = [{"user_id": p["user_id"], "phone_id": p["phone_id"],
                                        "file": p["file"], "planned_at": p["planned_at"],
                                        "enqueued_at": p["enqueued_at"]}
                                       for p in book_of_record.pairs(bid)]
                else:
                    wrote = time.perf_counter()
                result["timing"] = {"check": round(checked - started, 4),
                                    "plan": round(planned - checked, 4),
                                    "write": round(wrote - planned, 4),
                                    "mark": round(time.perf_counter() - wrote, 4)}
        except (LedgerError, sqlite3.Error) as exc:
            raise BlastError("blast %s: the ledger %s failed, nothing more enqueued (a re-run "
                             "completes the blast, exactly once): %s" % (bid, ledger, exc), result)
        except OSError as exc:
            raise BlastError("blast %s: stopped by a file system error (a re-run completes it, "
                             "exactly once): %s" % (bid, exc), result)

    result.setdefault("planned_at", now_iso if not scheduled else None)
    per_modem = {}
    for pair in pairs:
        entry = per_modem.setdefault(pair["phone_id"], {"recipients": 0, "sms": 0})
        entry["recipients"] += 1
        entry["sms"] += segments
    for pid, entry in per_modem.items():
        # The rate counts messages (outbox files): the role paces gammu-smsd to one file
        # per main loop, whatever the number of segments of the file.
        rate = rates.get(pid)
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
        enqueued=0 if scheduled else len(to_write),
        recovered=len(recovered),
        restored=len(restored),
        already_enqueued=already,
        files=[p["file"] for p in (written if not check_mode else to_write)],
        notices=notices,
    )
    result["changed"] = bool(not scheduled and (to_write or recovered or restored))
    if scheduled:
        result["msg"] = ("blast %s is scheduled: not before %s (now %s); nothing enqueued"
                         % (bid, result["send_after"], now_iso))
    elif restored:
        result["msg"] = ("blast %s: %s %d recipients from the control node's record: it went out "
                         "through this gateway before its ledger was lost; nothing is sent again"
                         % (bid, "would restore" if check_mode else "restored", len(restored)))
    else:
        verb = "would enqueue" if check_mode else "enqueued"
        result["msg"] = ("blast %s: %d recipients, %d SMS each (%s), %d SMS over %d modem(s), "
                         "about %.1f min; %s %d now, %d found already in the spool, %d enqueued "
                         "before" % (bid, len(pairs), segments, info["encoding"], total_sms,
                                     len(per_modem), result["estimated_minutes"], verb,
                                     len(to_write), len(recovered), already))
    if info["non_gsm_chars"]:
        result["msg"] += "; UCS-2 because of " + describe_chars(info["non_gsm_chars"][:10])
    if diff:
        result["diff"] = make_diff(bid, pairs, to_write, per_modem, segments, info["encoding"])
    return result


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
