#!/usr/bin/env python3
"""Benchmark: mail delivered through the directory's lookups, against the same servers on local tables.

Issue 15. The role mail_server's Postfix and Dovecot (rendered from its templates, run on
127.0.0.1 as the tests run them: tests/mail/mail_servers.py) on the role ldap_directory's
slapd holding ``--accounts`` accounts. Timed in one run, one after the other:

* floor: the same Postfix and Dovecot with the recipients in a local hash table
  (virtual_mailbox_maps = hash:) and Dovecot's userdb a passwd-file of the same
  addresses: what delivery costs without a directory;
* directory: the role's configuration as it is: every recipient looked up in slapd by
  Postfix (proxymap, StartTLS) at RCPT and by Dovecot's LMTP (auth workers, StartTLS).

Each run sends ``--messages`` messages over SMTP (port 25) from ``--clients``
connections at once, to recipients taken round-robin from the accounts, and stops the
clock when every message is a file in its mailbox (bounded wait). Goal: the directory
within 2 times the floor. Best of ``--repeat`` runs. Exit status 1 when the goal is
missed, 2 when a run fails.

usage: .venv/bin/python bench/mail_delivery_bench.py [--messages 2000] [--accounts 2000] [--clients 4]
"""
import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for sub in ("tests", "tests/ldap", "tests/mail", "tests/operate"):
    sys.path.insert(0, str(ROOT / sub))

from bench_common import BenchError, Goals, MachineLoad, print_table  # noqa: E402
from mail_servers import MailServers  # noqa: E402
from slapd_server import SlapdServer  # noqa: E402

DOMAIN = "bekasikota.go.id"


def add_accounts(slapd, count):
    """``count`` accounts bench-NNNNN@<domain>, added as root over ldapi (ldapadd)."""
    lines = []
    for i in range(count):
        uid = "bench-%05d" % i
        lines.append("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Bench %d\nsn: Bench\n"
                     "mail: %s@%s\nou: BENCH\nemployeeType: personal\n" % (uid, slapd.base, uid, i, uid, DOMAIN))
    slapd.ldap_tool("ldapadd", input="\n".join(lines))
    return ["bench-%05d@%s" % (i, DOMAIN) for i in range(count)]


def use_local_tables(servers, addresses):
    """The floor: the same servers with the recipients in local tables instead of the directory."""
    postfix_dir = Path(servers.vars["mail_server__postfix_dir"])
    table = postfix_dir / "recipients"
    table.write_text("".join("%s OK\n" % a for a in addresses))
    subprocess.run(["postmap", "-c", str(postfix_dir), "hash:%s" % table], check=True, timeout=60)
    servers.postconf("-e", "virtual_mailbox_maps = hash:%s" % table)
    users = Path(servers.vars["mail_server__dovecot_dir"]) / "users"
    root = servers.vars["mail_server__mail_root"]
    users.write_text("".join("%s:::::%s/%s::\n" % (a, root, a) for a in addresses))
    conf = Path(servers.dovecot.conf)
    text = conf.read_text()
    ldap_userdb = "userdb {\n  driver = ldap\n  args = %s/city-ldap.conf.ext\n}" % servers.vars[
        "mail_server__dovecot_dir"]
    if ldap_userdb not in text:
        raise BenchError("dovecot.conf has no LDAP userdb block to replace")
    conf.write_text(text.replace(ldap_userdb, "userdb {\n  driver = passwd-file\n  args = %s\n}" % users))


def delivered(root):
    count = 0
    for dirpath, _dirs, files in os.walk(root):
        if dirpath.endswith(os.sep + "new"):
            count += len(files)
    return count


def send_all(servers, addresses, messages, clients):
    errors = []

    def client(index):
        try:
            with smtplib.SMTP("127.0.0.1", servers.smtp_port, timeout=60) as smtp:
                smtp.ehlo("bench.test.invalid")
                for n in range(index, messages, clients):
                    to = addresses[n % len(addresses)]
                    smtp.sendmail("warga@example.org", [to],
                                  "From: warga@example.org\r\nTo: %s\r\nSubject: bench %d\r\n\r\nSalam.\r\n" % (to, n))
        except (smtplib.SMTPException, OSError) as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    if errors:
        raise BenchError("sending failed: %s" % errors[:3])


def run(kind, slapd, addresses, args):
    work = tempfile.mkdtemp(prefix="city-bench-mail-")
    os.chmod(work, 0o755)
    try:
        servers = MailServers(work, slapd)
        if kind == "floor":
            use_local_tables(servers, addresses)
        servers.start()
        try:
            root = servers.vars["mail_server__mail_root"]
            start = time.monotonic()
            send_all(servers, addresses, args.messages, args.clients)
            deadline = start + 600
            while delivered(root) < args.messages:
                if time.monotonic() > deadline:
                    raise BenchError("%s: %d of %d delivered after 600 s" % (kind, delivered(root), args.messages))
                time.sleep(0.05)
            seconds = time.monotonic() - start
            if delivered(root) != args.messages or "status=bounced" in servers.maillog():
                raise BenchError("%s: %d delivered of %d, or a bounce" % (kind, delivered(root), args.messages))
            return seconds
        finally:
            servers.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    load = MachineLoad()
    work = tempfile.mkdtemp(prefix="city-bench-directory-")
    slapd = SlapdServer(Path(work) / "slapd").start()
    try:
        addresses = add_accounts(slapd, args.accounts)
        best = {}
        for _ in range(args.repeat):
            for kind in ("floor", "directory"):
                seconds = run(kind, slapd, addresses, args)
                best[kind] = min(best.get(kind, seconds), seconds)
    except BenchError as exc:
        print("run failed: %s" % exc)
        return 2
    finally:
        slapd.stop()
        shutil.rmtree(work, ignore_errors=True)
    load.end()
    floor = best["floor"]
    print("%d messages to %d accounts over %d SMTP connections, each a file in its mailbox"
          % (args.messages, args.accounts, args.clients))
    print_table([
        ("floor: local hash table and passwd-file", floor, "%.0f" % (args.messages / floor), "1.00"),
        ("directory: slapd lookups (the role's)", best["directory"], "%.0f" % (args.messages / best["directory"]),
         "%.2f" % (best["directory"] / floor)),
    ], [("msg/s", 8), ("x floor", 8)])
    print(load.line())
    goals = Goals()
    goals.report("directory within 2 x the floor (%.2f x)" % (best["directory"] / floor),
                 best["directory"] <= 2 * floor)
    return goals.status()


if __name__ == "__main__":
    sys.exit(main())
