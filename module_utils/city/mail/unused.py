"""Accounts unused for a month (E10), and the warnings they trigger.

slapd records each successful bind in ``pwdLastSuccess`` (lastbind); an account that
never bound counts from its ``createTimestamp``. A warning goes to the account, with
the agency's mail admin in copy, as an RFC 5322 message in a spool directory that
the mail server delivers from (role mail_server, notice-deliver). Its file name is
the period and the account, and a mark in the spool's ``issued/`` records it: a re-run
in the same period queues nothing twice even when the delivery removed the file, and
a written warning is never lost. Its Message-ID, on the main domain, is the same
whoever writes it again (``<city-notice.unused.<period>.<uid>@<domain>>``): the mail
server delivers one message of that id to a mailbox once (Dovecot's duplicate test).
"""
import datetime
import email.message
import email.utils
import os

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.registry import destinations


GENERALIZED = "%Y%m%d%H%M%SZ"


def parse_time(value):
    """An LDAP GeneralizedTime (text, bytes or datetime) as an aware datetime, or None."""
    if value in (None, [], b"", ""):
        return None
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value).split(".", maxsplit=1)[0].rstrip("Z") + "Z"
    return datetime.datetime.strptime(text, GENERALIZED).replace(tzinfo=datetime.timezone.utc)


def read_usage(directory, base):
    """[{address, uid, ou, last_used, locked}] of every account, from one paged search."""
    def first(value):
        return (value[0] if isinstance(value, list) and value else value) or ""

    out = []
    for _dn, a in directory.entries(base, ["mail", "uid", "ou", "pwdLastSuccess", "createTimestamp",
                                           "pwdAccountLockedTime"]):
        last = parse_time(a.get("pwdLastSuccess")) or parse_time(a.get("createTimestamp"))
        out.append({"address": str(first(a.get("mail"))).lower(), "uid": str(first(a.get("uid"))),
                    "ou": str(first(a.get("ou"))), "last_used": last,
                    "locked": bool(a.get("pwdAccountLockedTime"))})
    return out


def unused(usage, now, days):
    """The active accounts whose last use is ``days`` or more before ``now``, oldest first."""
    limit = now - datetime.timedelta(days=days)
    rows = [u for u in usage if not u["locked"] and u["last_used"] and u["last_used"] <= limit]
    return sorted(rows, key=lambda u: (u["last_used"], u["address"]))


NOTICE_ID = "city-notice.%s.%s.%s@%s"


def notice_id(kind, period, uid, domain):
    """The Message-ID of the toolkit's notice ``kind`` to ``uid`` for ``period``."""
    return "<%s>" % NOTICE_ID % (kind, period, uid, domain)


def spool_warnings(rows, spool_dir, period, sender, admins, days, now, domain, check_mode=False):
    """Write one warning per account for ``period``; return the paths newly written.

    With ``check_mode`` nothing is written: the paths it would write are returned.
    """
    issued = os.path.join(spool_dir, "issued")
    if not check_mode:
        os.makedirs(issued, mode=0o750, exist_ok=True)
    written = []
    for row in rows:
        # The uid is read from the directory, not the registry: one that would leave the
        # spool (a "/", "..") is refused rather than written elsewhere.
        path = destinations.path_inside(spool_dir, "%s-%s.eml" % (period, row["uid"]),
                                        field="uid of " + row["address"])
        mark = os.path.join(issued, os.path.basename(path))
        if os.path.exists(mark) or os.path.exists(path):
            if not check_mode and not os.path.exists(mark):
                fsutil.atomic_write(mark, b"", mode=0o644)  # written before a crash: mark it now
            continue
        if check_mode:
            written.append(path)
            continue
        msg = email.message.EmailMessage()
        msg["From"] = sender
        msg["To"] = row["address"]
        if admins.get(row["ou"]):
            msg["Cc"] = admins[row["ou"]]
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = notice_id("unused", period, row["uid"], domain)
        msg["Subject"] = "Peringatan: akun e-mail tidak digunakan selama %d hari" % days
        msg.set_content(
            "Akun %s tidak digunakan sejak %s (%d hari atau lebih).\n"
            "Sesuai ketentuan penggunaan e-mail resmi, akun yang tidak digunakan secara aktif "
            "selama satu bulan berturut-turut diberikan peringatan.\n"
            "Silakan masuk (login) untuk tetap menggunakan akun ini.\n"
            % (row["address"], row["last_used"].strftime("%Y-%m-%d"), days))
        fsutil.atomic_write(path, bytes(msg), mode=0o644)  # a warning appears whole or not at all
        # The mark after the message: a crash between them leaves a message to deliver
        # (marked by the next run), never a mark without its message.
        fsutil.atomic_write(mark, b"", mode=0o644)
        written.append(path)
    return written
