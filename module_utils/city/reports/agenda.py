"""E8: the monthly control agenda of an agency's official e-mail, with its numbering checked.

The mail server's ``agenda-record`` (roles/mail_server/files/agenda-record, its
docstring describes a record) appends one JSON line per message to or from an agency
account to ``<store>/<local part>/<YYYY-MM>.jsonl``. This module reads a month of it
and makes the agenda (Perwal 17/2023 Pasal 31(10), 33(1)(a), 33(2)(a)) as HTML and CSV,
with the problems of the official numbers (Pasal 34):

- ``no-number``: a message with no number at the top of its body;
- ``malformed``: a number that is not ``NNN/<month in Roman numerals>/<year>``;
- ``wrong-month``: a number of another month or year than the message's date: the
  sequence restarts every month (Pasal 34(3): 01/I/2021 is the first e-mail of January
  2021, 014/II/2021 the fourteenth of February), so its number belongs to another
  month's sequence;
- ``repeated``: one number on two messages of the same sequence;
- ``gap``: numbers of the month's sequence that no message carries (1 up to the
  highest number seen);
- ``agenda-gap``: a running number of the agenda itself (``agenda_seq``, assigned by
  the recorder) that has no record: a record lost or removed from the store.

Which sequence: an agency's outgoing messages carry the agency's own numbers, one
sequence (gaps are checked). An incoming message carries the number its sender typed,
from the sender's own outgoing sequence, which also numbers what the sender wrote to
others: its gaps say nothing about this agency, so incoming numbers are checked per
sender (repeats, month) without gaps, and the incoming agenda's own sequence is the
recorder's ``agenda_no``. ``agenda_problems(gap_directions=...)`` changes that.

Every value of a record comes from a message, so from anyone: the HTML template
escapes it (autoescape) and the CSV neutralises spreadsheet formulas (csvout.py).

    bin/city-agenda --store DIR --registry inventory/registry --month 2026-12 --out reports/agenda
"""
import datetime
import json
import os
import re

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.errors import ToolkitError
from ansible.module_utils.city.registry import destinations
from ansible.module_utils.city.registry.numbering import mail_number, parse_mail_number
from ansible.module_utils.city.reports import city
from ansible.module_utils.city.reports.render import Renderer

ACCOUNT_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MONTH_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")
DIRECTIONS = ("in", "out")
DIRECTION_NAMES = {"in": "Incoming (agenda E-mail masuk)", "out": "Outgoing (agenda E-mail keluar)"}
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
MAX_LINE_BYTES = 1024 * 1024
MAX_RECORDS = 200000
MAX_GAP_LISTED = 50  # numbers named one by one in a gap; a longer gap is one range
PROBLEM_KINDS = ("no-number", "malformed", "wrong-month", "repeated", "gap", "agenda-gap")
COLUMNS = [
    ("direction", "Direction"), ("agenda_no", "Agenda no."), ("date", "Date"), ("from", "From"), ("to", "To"),
    ("cc", "Cc"), ("subject", "Subject"), ("number", "Number"), ("number_text", "Number as typed"),
    ("number_problem", "Number problem"), ("problems", "Problems"), ("attachments", "Attachments"),
    ("archive", "Archive copy"), ("truncated", "Over the size bound"), ("message_id", "Message-ID"),
    ("sha256", "SHA-256")]


class AgendaError(ToolkitError):
    """A store, account or month the agenda cannot be read with."""


def _month_file(store_dir, localpart, year, month):
    if not isinstance(localpart, str) or not ACCOUNT_RE.fullmatch(localpart):
        raise AgendaError("%r is not an agenda account (a mail local part)" % (localpart,))
    year, month = int(year), int(month)
    if not (1900 <= year <= 9999 and 1 <= month <= 12):
        raise AgendaError("%r-%r is not a month" % (year, month))
    return os.path.join(store_dir, localpart, "%04d-%02d.jsonl" % (year, month))


def _text(value):
    return None if value is None else str(value)


def _texts(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _attachment(value):
    if not isinstance(value, dict):
        return str(value)
    return "%s (%s, %s bytes, sha256 %s)" % (value.get("filename") or "(no name)", value.get("content_type"),
                                             value.get("size"), value.get("sha256"))


def _row(record):
    """A record as the report shows it: known keys only, every value plain text or int."""
    seq = record.get("agenda_seq")
    return {
        "key": _text(record.get("key")), "direction": _text(record.get("direction")),
        "account": _text(record.get("account")),
        "agenda_seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        "agenda_no": _text(record.get("agenda_no")), "date": _text(record.get("date")),
        "from": _texts(record.get("from")), "to": _texts(record.get("to")), "cc": _texts(record.get("cc")),
        "subject": _text(record.get("subject")), "message_id": _text(record.get("message_id")),
        "number": _text(record.get("number")), "number_text": _text(record.get("number_text")),
        "number_line": _text(record.get("number_line")), "number_problem": _text(record.get("number_problem")),
        "attachments": [_attachment(a) for a in record.get("attachments") or []]
        if isinstance(record.get("attachments"), list) else [],
        "archive": _text(record.get("archive")), "truncated": bool(record.get("truncated")),
        "sha256": _text(record.get("sha256")), "problems": [],
    }


def read_agenda(store_dir, localpart, year, month):
    """(rows, unreadable line count) of one agency's month, in recording order, once per key."""
    path = _month_file(store_dir, localpart, year, month)
    rows, seen, skipped = [], set(), 0
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return rows, 0
    with fh:
        for number, raw in enumerate(fh):
            if number >= MAX_RECORDS:
                raise AgendaError("%s has more than %d lines" % (path, MAX_RECORDS))
            if len(raw) > MAX_LINE_BYTES:
                skipped += 1
                continue
            try:
                record = json.loads(raw)
            except ValueError:  # a line torn by a crash (the recorder wrote it again after)
                skipped += 1 if raw.strip() else 0
                continue
            if not isinstance(record, dict) or record.get("direction") not in DIRECTIONS:
                skipped += 1
                continue
            row = _row(record)
            if row["key"] in seen:
                continue
            seen.add(row["key"])
            rows.append(row)
    return rows, skipped


def agenda_rows(store_dir, localpart, year, month):
    """The records of one agency's month (see :func:`read_agenda`)."""
    return read_agenda(store_dir, localpart, year, month)[0]


def _parsed(number):
    try:
        return parse_mail_number(number)
    except ValueError:
        return None


def _date_month(row):
    try:
        moment = datetime.datetime.fromisoformat(row["date"] or "")
    except ValueError:
        return None
    return moment.month, moment.year


def _sender(row):
    first = (row["from"] or [""])[0]
    match = re.search(r"<([^<>]*)>\s*$", first)
    return (match.group(1) if match else first).strip().lower()


def _ranges(missing_after, present):
    """(first, last) ranges of the integers 1..max(present) not in ``present``."""
    out, previous = [], missing_after
    for value in sorted(present):
        if value > previous + 1:
            out.append((previous + 1, value - 1))
        previous = value
    return out


def agenda_problems(rows, year, month, gap_directions=("out",)):
    """The numbering problems of a month's rows; each row's ``problems`` lists its own too.

    A problem: {"direction", "kind" (one of PROBLEM_KINDS), "number", "detail", "agenda_no"
    (the messages concerned, a list)}.
    """
    year, month = int(year), int(month)
    problems = []

    def flag(direction, kind, number, detail, concerned=()):
        problems.append({"direction": direction, "kind": kind, "number": number, "detail": detail,
                         "agenda_no": [r["agenda_no"] for r in concerned]})
        for r in concerned:
            r["problems"].append("%s: %s" % (kind, detail))

    for direction in DIRECTIONS:
        mine = [r for r in rows if r["direction"] == direction]
        series = {}
        for r in mine:
            problem = r["number_problem"]
            parsed = _parsed(r["number"]) if r["number"] else None
            if problem == "missing" or (problem is None and not r["number"]):
                flag(direction, "no-number", None, "no number at the top of the body", [r])
                continue
            if problem or parsed is None:
                flag(direction, "malformed", r["number_text"] or r["number"],
                     problem.split(": ", 1)[-1] if problem else "%r is not a valid number" % (r["number"],), [r])
                continue
            seq, n_month, n_year = parsed
            own = _date_month(r)
            if own is not None and own != (n_month, n_year):
                flag(direction, "wrong-month", r["number"],
                     "%s is a number of %d-%02d, the message is of %d-%02d (numbers restart every month)"
                     % (r["number"], n_year, n_month, own[1], own[0]), [r])
            key = "" if direction == "out" else _sender(r)
            series.setdefault(key, {}).setdefault(r["number"], []).append(r)
        for sender, numbers in sorted(series.items()):
            for number, same in sorted(numbers.items()):
                if len(same) > 1:
                    where = " from %s" % sender if sender else ""
                    flag(direction, "repeated", number, "%s on %d messages%s" % (number, len(same), where), same)
            if direction not in gap_directions:
                continue
            seqs = {parse_mail_number(n)[0] for n in numbers if parse_mail_number(n)[1:] == (month, year)}
            for first, last in _ranges(0, seqs):
                if last - first < MAX_GAP_LISTED:
                    for seq in range(first, last + 1):
                        flag(direction, "gap", mail_number(seq, month, year),
                             "no message numbered %s" % mail_number(seq, month, year))
                else:
                    flag(direction, "gap", "%s to %s" % (mail_number(first, month, year),
                                                         mail_number(last, month, year)),
                         "no message numbered %d to %d" % (first, last))
        seqs = {r["agenda_seq"] for r in mine if r["agenda_seq"]}
        for first, last in _ranges(0, seqs):
            flag(direction, "agenda-gap", "%d to %d" % (first, last) if last > first else str(first),
                 "the agenda has no record numbered %s" % (
                     "%d to %d" % (first, last) if last > first else first))
    order = {k: i for i, k in enumerate(PROBLEM_KINDS)}
    problems.sort(key=lambda p: (p["direction"], order[p["kind"]]))
    return problems


def _sorted_rows(rows):
    return sorted(rows, key=lambda r: (DIRECTIONS.index(r["direction"]), r["agenda_seq"] or 0, r["date"] or ""))


def _default_templates():
    here = os.path.dirname(os.path.realpath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(here))), "templates", "reports")


def _meta(ctx, title, now):
    if ctx is not None:
        return city.meta(ctx, ["E8"], now, title)
    return {"title": title, "city": {"name": "", "short_name": "", "domain": "", "timezone": "",
                                     "communication_agency": None, "communication_agency_name": ""},
            "requirements": [{"id": "E8", "article": ""}],
            "generated": now.strftime("%Y-%m-%d %H:%M %Z"),
            "generated_at": now.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_agenda_report(out_dir, agency_code, agency_name, year, month, rows, ctx=None, templates_dir=None,
                        now=None, skipped=0, registry_shown="", root="../", gap_directions=("out",)):
    """Write ``agenda-<CODE>-<YYYY-MM>.html`` and ``.csv`` into ``out_dir``; return their paths."""
    year, month = int(year), int(month)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    base = "agenda-%s-%04d-%02d" % (agency_code, year, month)
    paths = {ext: destinations.path_inside(out_dir, base + ext, field="agency code %r" % (agency_code,))
             for ext in (".html", ".csv")}
    rows = _sorted_rows([dict(r, problems=[]) for r in rows])
    problems = agenda_problems(rows, year, month, gap_directions)
    counts = {kind: sum(1 for p in problems if p["kind"] == kind) for kind in PROBLEM_KINDS}
    title = "Control agenda of official e-mail, %s %d" % (MONTH_NAMES[month - 1], year)
    renderer = Renderer(templates_dir or _default_templates())
    html = renderer.html(
        "agenda.html.j2", meta=_meta(ctx, title, now), root=root, page="agenda", year=year,
        year_dir="domain-%d" % year, sources={"registry": registry_shown},
        agency={"code": agency_code, "name": agency_name}, month="%04d-%02d" % (year, month),
        directions=[{"id": d, "name": DIRECTION_NAMES[d], "rows": [r for r in rows if r["direction"] == d]}
                    for d in DIRECTIONS],
        problems=problems, counts=counts, skipped=skipped, csv_name=base + ".csv",
        gap_directions=list(gap_directions))
    gaps = [{"direction": p["direction"], "number": p["number"], "problems": ["%s: %s" % (p["kind"], p["detail"])]}
            for p in problems if p["kind"] in ("gap", "agenda-gap")]
    text = renderer.csv(COLUMNS, rows + gaps)
    os.makedirs(out_dir, mode=0o750, exist_ok=True)
    # Who wrote to whom about what: not for everyone (0640).
    fsutil.atomic_write(paths[".html"], html, mode=0o640, durable=False)
    fsutil.atomic_write(paths[".csv"], text, mode=0o640, durable=False)
    return [paths[".html"], paths[".csv"]]


def agency_accounts(ctx):
    """{local part: agency code} of the registry's agency accounts (``kind: agency``)."""
    out = {}
    for _i, account in ctx.entries("mail.yml", "accounts"):
        address = str(account.get("address") or "").lower()
        if account.get("kind") == "agency" and "@" in address and isinstance(account.get("owner"), str):
            out[address.split("@", 1)[0]] = account["owner"]
    return out


def write_agency_reports(store_dir, registry_dir, year, month, out_dir, templates_dir=None, registry_shown=None,
                         warn=None):
    """Write the month's agenda of every agency account that has a directory in the store.

    A directory of the store that is not an agency account of the registry is left out
    and named through ``warn(text)``. Returns the paths written.
    """
    ctx = city.load(registry_dir)
    accounts = agency_accounts(ctx)
    written = []
    for localpart in sorted(os.listdir(store_dir)):
        if not os.path.isdir(os.path.join(store_dir, localpart)):
            continue
        code = accounts.get(localpart)
        if code is None or not ACCOUNT_RE.fullmatch(localpart):
            if warn:
                warn("%r in the store is not an agency account of the registry: left out" % localpart)
            continue
        rows, skipped = read_agenda(store_dir, localpart, year, month)
        written += write_agenda_report(out_dir, code, city.agency_name(ctx, code), year, month, rows,
                                       ctx=ctx, templates_dir=templates_dir, skipped=skipped,
                                       registry_shown=registry_shown)
    return written


def parse_month(text):
    """(year, month) of ``YYYY-MM``; ValueError otherwise."""
    match = MONTH_RE.fullmatch(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError("%r is not YYYY-MM" % text)
    return int(match.group(1)), int(match.group(2))
