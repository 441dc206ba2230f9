"""Helpers of the report tests (import them explicitly; conftest.py uses them too)."""
import importlib.util
import os
import subprocess

from paths import ROOT
from slapd_server import hash_password

OLD = "20260105000000Z"  # created long before the tests' "now"
PASSWORD = "Fresh-Secret-1"

RUN, CHECK_RUN, OTHER_RUN = "20260310T020000Z-aaaa1111", "20260311T020000Z-bbbb2222", "20251201T020000Z-cccc3333"


def trail_records():
    """A year of a city's trail in miniature: what the D9 tests expect, record by record."""
    def change(run, time, obj, action="add", module="dns_zone", before=None, after=None, **extra):
        return dict({"v": 1, "time": time, "run": run, "event": "change", "module": module, "host": "dns1",
                     "task": "Apply domain.yml", "object": obj, "action": action, "before": before or [],
                     "after": after or [], "status": "ok"}, **extra)
    return [
        {"v": 1, "time": "2025-12-01T02:00:00+00:00", "run": OTHER_RUN, "event": "run-start", "operator": "ani",
         "commit": "1" * 40, "dirty": False, "playbook": "playbooks/site.yml", "check": False, "control_host": "c1"},
        change(OTHER_RUN, "2025-12-01T02:00:05.000001+00:00", "dinkes.bekasikota.go.id. TXT",
               after=["dinkes.bekasikota.go.id. 3600 IN TXT \"last year\""]),
        {"v": 1, "time": "2026-03-10T02:00:00+00:00", "run": RUN, "event": "run-start",
         "operator": "<b>budi</b>", "commit": "abcdef0123456789" + "0" * 24, "dirty": True,
         "playbook": "playbooks/site.yml", "check": False, "control_host": "c1"},
        change(RUN, "2026-03-10T02:00:04.123456+00:00", "dinkes.bekasikota.go.id. A", "change",
               before=["dinkes.bekasikota.go.id. 3600 IN A 192.0.2.40"],
               after=["dinkes.bekasikota.go.id. 3600 IN A 192.0.2.41",
                      "dinkes.bekasikota.go.id. 3600 IN A 192.0.2.42"]),
        change(RUN, "2026-03-10T02:00:04.2+00:00", "_dmarc.bekasikota.go.id. TXT", "change",
               after=["_dmarc.bekasikota.go.id. 3600 IN TXT \"=cmd|' /C calc'!A0\""]),
        change(RUN, "2026-03-10T02:00:04.3+00:00", "oldsite.bekasikota.go.id. A", "delete",
               before=["oldsite.bekasikota.go.id. 3600 IN A 192.0.2.77"]),
        change(RUN, "2026-03-10T02:00:05+00:00", "setda@bekasikota.go.id", "modify", module="mail_accounts",
               before={"cn": ["Setda"]}, after={"cn": ["Sekretariat Daerah"]}),
        change(RUN, "2026-12-31T20:00:00+00:00", "disdik.bekasikota.go.id. A", "add",
               after=["disdik.bekasikota.go.id. 3600 IN A 192.0.2.50"]),  # 2027-01-01 03:00 in Jakarta
        {"v": 1, "time": "2026-03-10T02:00:06+00:00", "run": RUN, "event": "run-end", "status": "ok", "changes": 5},
        {"v": 1, "time": "2026-03-11T02:00:00+00:00", "run": CHECK_RUN, "event": "run-start", "operator": "ani",
         "commit": None, "dirty": False, "playbook": "playbooks/dns.yml", "check": True, "control_host": "c1"},
        change(CHECK_RUN, "2026-03-11T02:00:01+00:00", "dishub.bekasikota.go.id. A", "add"),
        {"v": 2, "time": "2026-04-01T00:00:00+00:00", "run": "x", "event": "change", "module": "dns_zone",
         "object": "dishub.bekasikota.go.id. A", "action": "add"},
    ]


# Accounts put in the directory with slapadd (so that their creation and last bind can be in
# the past): address -> (registry status, attributes beyond the entry's basics).
ACCOUNTS = {
    "setda@bekasikota.go.id": {},                                            # never logged in
    "setwan@bekasikota.go.id": {"pwdLastSuccess": "20260201083000Z"},        # last login in February
    "inspektorat@bekasikota.go.id": {"password": PASSWORD},                  # the test logs in: fresh
    "telematika@bekasikota.go.id": {"pwdAccountLockedTime": "20261101000000Z"},  # locked by failed logins
    "supardi.wiryo@bekasikota.go.id": {"pwdAccountLockedTime": "000001010000Z"},  # deactivated (E9)
    "tamu.lama@bekasikota.go.id": {"ou": "DISKOMINFOSTANDI"},                # not in the registry
}


def account_ldif(base, address, extra):
    uid = address.split("@", 1)[0]
    lines = ["dn: uid=%s,%s" % (uid, base), "objectClass: top", "objectClass: inetOrgPerson",
             "uid: %s" % uid, "mail: %s" % address, "cn: %s" % uid, "sn: %s" % uid,
             "ou: %s" % extra.get("ou", "SETDA"), "employeeType: agency", "createTimestamp: %s" % OLD,
             "modifyTimestamp: %s" % OLD]
    if extra.get("password"):
        lines.append("userPassword: %s" % hash_password(extra["password"]))
    for attribute in ("pwdLastSuccess", "pwdAccountLockedTime"):
        if extra.get(attribute):
            lines.append("%s: %s" % (attribute, extra[attribute]))
    return "\n".join(lines) + "\n"


def add_accounts(server, accounts):
    """slapadd ``accounts`` into a SlapdServer that is not started yet."""
    path = os.path.join(server.dir, "accounts.ldif")
    with open(path, "w") as fh:
        fh.write("\n".join(account_ldif(server.base, a, extra) for a, extra in accounts.items()))
    proc = subprocess.run(["slapadd", "-n", "1", "-F", os.path.join(server.dir, "slapd.d"), "-l", path],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def sms_router():
    """The gateway's receive router (roles/sms_gateway/files/sms_router.py) as a module: its schema."""
    path = os.path.join(ROOT, "roles", "sms_gateway", "files", "sms_router.py")
    spec = importlib.util.spec_from_file_location("sms_router_for_reports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def incoming_rows(rows, data_dir):
    """Store received messages as the router does (its own schema and insert)."""
    router = sms_router()
    conn = router.connect(os.path.join(str(data_dir), "incoming.sqlite3"))
    try:
        router.insert(conn, rows)
    finally:
        conn.close()


def message(n, received_at, number, text, kind, user_id=None, agency=None, keyword=None, blast_id=None):
    return {"file": "IN20261102_0900%02d_00_%s_00.txt" % (n, number.lstrip("+")), "phone_id": "modem1",
            "received_at": received_at, "number": number, "user_id": user_id, "agency": agency,
            "keyword": keyword, "kind": kind, "blast_id": blast_id, "text": text}


BLAST = "2026-11-001"  # the example registry's blast
UNKNOWN = "+6281299990000"


def put(spool, folder, name, text="Undangan rapat koordinasi"):
    """An outbox file where gammu-smsd keeps it."""
    os.makedirs(os.path.join(spool, folder), exist_ok=True)
    with open(os.path.join(spool, folder, name), "wb") as fh:
        fh.write(b"\xfe\xff" + text.encode("utf-16-be"))


def make_gateway(root):
    """A gateway's data and spool after a blast and a few answers (the project's own code writes
    the ledger, the phonebook and the received messages; only the daemon is left out).

    The blast went to three users: one message sent, one failed, one still in the outbox.
    """
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tests", "sms"))
    from router_fixtures import make_ledger, user, write_phonebook
    data, spool = os.path.join(str(root), "data"), os.path.join(str(root), "spool")
    book = write_phonebook(data)
    yusuf, tuti, agus = (user(book, i) for i in ("yusuf.hermawan", "tuti.alawiyah", "agus.setiawan"))
    pairs = {p["user_id"]: p for p in make_ledger(os.path.join(data, "ledger.sqlite3"), BLAST, [yusuf, tuti, agus],
                                                  "2026-11-02T08:00:00Z", "2026-11-02T08:00:04Z")}
    modem = os.path.join(spool, "modem1")
    put(modem, "sent", pairs["yusuf.hermawan"]["file"])
    put(modem, "error", pairs["tuti.alawiyah"]["file"])
    put(modem, "outbox", pairs["agus.setiawan"]["file"])
    incoming_rows([
        message(1, "2026-11-02T09:00:00Z", tuti["phone"], "TIDAKTERIMA %s" % BLAST, "non-receipt",
                "tuti.alawiyah", tuti["agency"], "TIDAKTERIMA", BLAST),
        message(2, "2026-11-02T09:05:00Z", agus["phone"], "TANYA <b>rapatnya</b> di mana?", "question",
                "agus.setiawan", agus["agency"], "TANYA"),
        message(3, "2026-11-02T09:10:00Z", UNKNOWN, "=HYPERLINK(\"http://x\") siapa ini", "unknown-sender"),
        message(4, "2025-12-30T09:10:00Z", agus["phone"], "TANYA tahun lalu", "question",
                "agus.setiawan", agus["agency"], "TANYA"),
        message(5, "2026-11-02T09:20:00Z", yusuf["phone"], "BALAS <script>alert(1)</script> hadir", "reply",
                "yusuf.hermawan", yusuf["agency"], "BALAS", BLAST),
    ], data)
    return {"data": data, "spool": spool, "users": {"yusuf": yusuf, "tuti": tuti, "agus": agus}}
