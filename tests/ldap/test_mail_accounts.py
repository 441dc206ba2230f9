"""mail_accounts against a real slapd: outcomes checked by real binds and searches."""
import hashlib
import json
import os

import ldap3
import yaml

import handover_files

MAIL_FILTER = "(&(objectClass=inetOrgPerson)(mail=%s)(!(pwdAccountLockedTime=000001010000Z)))"


def handed_over(result):
    """Every password of the run, each file opened with the key of its one recipient."""
    return handover_files.handed_over(result["handover_files"])


def accounts(registry):
    with open(registry / "mail.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["accounts"]


def dn_of(slapd, address):
    return "uid=%s,%s" % (address.split("@")[0], slapd.base)


def test_apply_example_registry_then_no_change(slapd, registry, apply_mail):
    first = apply_mail(registry)
    assert not first.get("failed"), first.get("msg")
    creds = handed_over(first)
    for acc in accounts(registry):
        dn = dn_of(slapd, acc["address"])
        if acc["status"] == "active":
            assert slapd.whoami(dn, creds[acc["address"]]) == 0, acc["address"]
        elif acc["status"] == "deactivated":
            assert slapd.whoami(dn, creds[acc["address"]]) != 0, acc["address"]
        else:
            assert acc["address"] not in creds
    printed = json.dumps(first)
    assert not [pw for pw in creds.values() if pw in printed], "no new password in the result"
    toolkit = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])
    toolkit.search(dn_of(slapd, "setda@bekasikota.go.id"), "(objectClass=*)", ldap3.BASE,
                   attributes=["pwdReset"])
    assert toolkit.entries[0].pwdReset.value in (True, "TRUE", b"TRUE"), "change at first login"
    # ppolicy stored the clear text the module sent as an argon2 hash, never as sent.
    admin = slapd.root()  # root over ldapi:///, as the role administers: cn=admin has no password
    admin.search(dn_of(slapd, "setda@bekasikota.go.id"), "(objectClass=*)", ldap3.BASE,
                 attributes=["userPassword"])
    stored = admin.entries[0].userPassword.value
    stored = stored.decode() if isinstance(stored, bytes) else stored
    assert stored.startswith("{ARGON2}$argon2"), stored[:12]
    second = apply_mail(registry)
    assert not second["changed"] and set(second["plan"].values()) == {0}


def test_deactivate_delete_archive_reactivate_reset(slapd, registry, apply_mail):
    creds = handed_over(apply_mail(registry))
    address = "budi.santoso@bekasikota.go.id"
    dn = dn_of(slapd, address)
    text = (registry / "mail.yml").read_text()
    block_start = text.index("  - address: " + address)
    block_end = text.index("  - address:", block_start + 5)
    block = text[block_start:block_end]
    deactivated = block.replace("    status: active\n", "    status: deactivated\n    deactivation:\n"
                                "      reason: moved\n      request: Surat 1\n"
                                "      validated_by: \"198212122008101001\"\n"
                                "      validation_ref: Surat BKPSDM 1\n      date: 2026-11-01\n")
    (registry / "mail.yml").write_text(text.replace(block, deactivated))
    result = apply_mail(registry)
    assert result["plan"]["deactivate"] == 1, result.get("msg")
    assert slapd.whoami(dn, creds[address]) != 0
    mailserver = slapd.connect(slapd.mailserver_dn, slapd.passwords[slapd.mailserver_dn])
    assert not mailserver.search(slapd.base, MAIL_FILTER % address)
    # reactivation (E11): the same password works again, nothing was lost
    reactivated = deactivated.replace("      date: 2026-11-01\n", "      date: 2026-11-01\n    reactivation:\n"
                                      "      request: Surat 2\n      minutes: Berita Acara 2\n"
                                      "      statement: Surat Pernyataan 2\n      approved_by: \"196803091998031004\"\n"
                                      "      date: 2026-11-10\n").replace("status: deactivated", "status: active")
    (registry / "mail.yml").write_text(text.replace(block, reactivated))
    assert apply_mail(registry)["plan"]["reactivate"] == 1
    assert slapd.whoami(dn, creds[address]) == 0
    # deletion (E9): archived with a checksum, then gone
    deleted = deactivated.replace("status: deactivated", "status: deleted")
    (registry / "mail.yml").write_text(text.replace(block, deleted))
    result = apply_mail(registry)
    assert result["plan"]["delete"] == 1 and len(result["archives"]) == 1
    path = result["archives"][0]
    data = open(path, "rb").read()
    assert b"mail: " + address.encode() in data
    assert open(path + ".sha256").read().split()[0] == hashlib.sha256(data).hexdigest()
    assert slapd.whoami(dn, creds[address]) != 0
    assert not mailserver.search(slapd.base, "(mail=%s)" % address)
    assert not apply_mail(registry)["changed"]


def test_password_reset_once_per_ticket(slapd, registry, apply_mail):
    creds = handed_over(apply_mail(registry))
    address = "setda@bekasikota.go.id"
    text = (registry / "mail.yml").read_text()
    text = text.replace("    display_name: Sekretariat Daerah Kota Bekasi\n    status: active\n",
                        "    display_name: Sekretariat Daerah Kota Bekasi\n    status: active\n"
                        "    password_resets:\n      - {ticket: TIK-2026-0999, date: 2026-11-20, reason: head-changed}\n", 1)
    (registry / "mail.yml").write_text(text)
    result = apply_mail(registry)
    assert result["plan"]["reset"] == 1
    new = handed_over(result)[address]
    dn = dn_of(slapd, address)
    assert slapd.whoami(dn, creds[address]) != 0 and slapd.whoami(dn, new) == 0
    assert apply_mail(registry)["plan"]["reset"] == 0, "a ticket is used once"


def test_check_mode_changes_nothing_and_masks_secrets(slapd, registry, apply_mail):
    result = apply_mail(registry, check=True, diff=True)
    assert result["changed"] and result["handover_files"] == []
    assert slapd.whoami(dn_of(slapd, "setda@bekasikota.go.id"), "x") != 0
    conn = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])
    assert not conn.search(slapd.base, "(objectClass=inetOrgPerson)")


def test_wrong_credentials_and_unreachable_server(slapd, registry, apply_mail):
    result = apply_mail(registry, bind_password="wrong")
    assert result["failed"] and "refused the bind" in result["msg"] and slapd.uri in result["msg"]
    from server_process import free_port
    result = apply_mail(registry, uri="ldap://127.0.0.1:%d" % free_port(), timeout=2)
    assert result["failed"] and "127.0.0.1" in result["msg"]


def test_threshold_refuses_mass_deactivation(slapd, registry, apply_mail):
    apply_mail(registry)
    text = (registry / "mail.yml").read_text()
    mass = text.replace("    status: active\n", "    status: deactivated\n    deactivation:\n"
                        "      reason: request\n      request: x\n      validated_by: \"198212122008101001\"\n"
                        "      validation_ref: y\n      date: 2026-11-01\n")
    (registry / "mail.yml").write_text(mass)
    result = apply_mail(registry)
    assert result["failed"] and "nothing applied" in result["msg"]
    assert os.path.exists(registry)


def test_slapd_killed_mid_apply_then_rerun_converges(slapd, registry, apply_mail, tmp_path):
    """slapd dies after 40 acknowledged operations; restart, re-run: nothing lost or doubled."""
    import threading
    import time
    log = os.path.join(slapd.dir, "slapd.log")
    # Kill as soon as the directory holds 40 accounts: bounded polling, stops by itself.
    conn = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])

    def kill_after_40():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            conn.search(slapd.base, "(objectClass=inetOrgPerson)", attributes=["uid"])
            if len(conn.entries) >= 40:
                slapd.kill()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_40)
    killer.start()
    first = apply_mail(registry, window=4)
    killer.join()
    assert first.get("failed"), "the kill must interrupt the apply"
    assert os.path.exists(log)
    slapd.start()
    second = apply_mail(registry)
    assert not second.get("failed"), second.get("msg")
    creds = {}
    for result in (first, second):  # the latest hand-over of each account wins
        creds.update(handed_over(result))
    conn = slapd.connect(slapd.toolkit_dn, slapd.passwords[slapd.toolkit_dn])
    conn.search(slapd.base, "(objectClass=inetOrgPerson)", attributes=["mail"])
    mails = [str(e.mail.value) for e in conn.entries]
    live = [a for a in accounts(registry) if a["status"] != "deleted"]
    assert sorted(mails) == sorted(a["address"] for a in live), "each account exactly once"
    for acc in live:
        expect = 0 if acc["status"] == "active" else 49
        assert slapd.whoami(dn_of(slapd, acc["address"]), creds[acc["address"]]) == expect, acc["address"]
    assert not apply_mail(registry)["changed"]


def test_entry_the_server_refuses_is_named_and_the_others_converge(slapd, registry, apply_mail):
    """One entry violates the server's schema; every other one is applied, that one is named.

    The registry validation would refuse a non-ASCII address; the module trusts it, so
    the server's own check is what stops this entry (mail is IA5String: invalid syntax).
    """
    text = (registry / "mail.yml").read_text()
    bad = "andré.gunawan@bekasikota.go.id"
    assert "  - address: andre.gunawan@" not in text
    first_active = text.index("    status: active\n")
    start = text.rindex("  - address: ", 0, first_active)
    original = text[start:text.index("\n", start)]
    (registry / "mail.yml").write_text(text.replace(original, "  - address: " + bad, 1))
    result = apply_mail(registry)
    assert result["failed"]
    assert [f["address"] for f in result["failures"]] == [bad]
    assert bad in result["msg"] and "invalidAttributeSyntax" in result["msg"]
    creds = handed_over(result)
    good = [a for a in accounts(registry) if a["status"] == "active" and a["address"] != bad]
    for acc in good:
        assert slapd.whoami(dn_of(slapd, acc["address"]), creds[acc["address"]]) == 0, acc["address"]
    again = apply_mail(registry)  # only the refused entry is tried again
    assert [op["address"] for op in again["operations"]] == [bad] and again["failed"]


def test_a_truncated_read_stops_the_run(tmp_path, registry, keyring):
    """A server size limit under the number of accounts: the run stops, naming the cause.

    Read as complete, the truncated list would make the plan create existing accounts again.
    """
    from module_runner import run_module
    from slapd_server import SlapdServer
    server = SlapdServer(tmp_path / "limited", toolkit_limits=False, size_limit=50).start()
    keyring.give(registry)
    try:
        args = dict(registry_dir=str(registry), **server.connection_args(), handover_dir=str(tmp_path / "h"),
                    archive_dir=str(tmp_path / "a"))
        first = run_module("mail_accounts", args)  # an empty directory reads whole
        assert not first.get("failed"), first.get("msg")
        second = run_module("mail_accounts", args)
        assert second["failed"] and "stopped early" in second["msg"] and "olcLimits" in second["msg"]
        assert second["operations"] == [] and second["handover_files"] == []
    finally:
        server.stop()
