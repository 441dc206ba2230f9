"""E10: the mail inventory from a real slapd, read by the module mail_inventory.

The directory holds a few accounts of the example registry whose creation and last
login are in the past (slapadd), one the test logs in with now, a deactivated one, one
locked by failed logins and one the registry does not list.
"""
import csv
import datetime
import json
import subprocess

from module_runner import run_module
from paths import EXAMPLE, ROOT
from reports_helpers import ACCOUNTS, PASSWORD

from ansible.module_utils.city.reports import build, city, snapshots
from ansible.module_utils.city.reports import mail as mail_report


def read(directory, check=False, **extra):
    args = dict(directory.connection_args(), base=directory.base)
    args.update(extra)
    return run_module("mail_inventory", args, check=check)


def dump(directory):
    """Every entry with its operational attributes (ldapsearch as root over ldapi:///, the
    directory's only administrator)."""
    return directory.ldap_tool("ldapsearch", "-LLL", "-b", directory.base, "*", "+").stdout


def test_the_module_reads_every_account_and_changes_nothing(directory):
    assert directory.whoami("uid=inspektorat," + directory.base, PASSWORD) == 0  # a login: pwdLastSuccess
    before = dump(directory)
    result = read(directory)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["count"] == len(ACCOUNTS) == len(result["accounts"])
    by_address = {a["address"]: a for a in result["accounts"]}
    assert set(by_address) == set(ACCOUNTS)
    assert by_address["setda@bekasikota.go.id"]["last_used"].startswith("2026-01-05T00:00:00")  # created
    assert by_address["setwan@bekasikota.go.id"]["last_used"].startswith("2026-02-01T08:30:00")  # last login
    assert by_address["inspektorat@bekasikota.go.id"]["last_used"][:10] == datetime.date.today().isoformat()
    assert by_address["supardi.wiryo@bekasikota.go.id"]["locked"] is True
    assert by_address["tamu.lama@bekasikota.go.id"]["ou"] == "DISKOMINFOSTANDI"
    again = read(directory, check=True)
    assert again["accounts"] == result["accounts"] and again["changed"] is False
    assert dump(directory) == before, "reading changed the directory"
    assert "toolkit-Secret-1" not in json.dumps(result)


def test_the_module_fails_with_the_servers_reason(directory):
    result = read(directory, bind_password="wrong-Password-1")
    assert result.get("failed") and "refused the bind" in result["msg"] and directory.uri in result["msg"]


def test_unused_accounts_are_flagged_from_the_time_of_the_read(directory, ctx):
    assert directory.whoami("uid=inspektorat," + directory.base, PASSWORD) == 0
    result = read(directory)
    snapshot = snapshots.from_result("mail", "ldap1", result)
    data = mail_report.build(ctx, [snapshot], city.timezone(ctx))
    rows = {r["address"]: r for r in data["rows"]}
    assert data["days"] == 30
    never, february = rows["setda@bekasikota.go.id"], rows["setwan@bekasikota.go.id"]
    assert never["unused"] and never["directory"] and never["days_unused"] >= 30
    assert never["owner"] == "SETDA" and never["kind"] == "agency" and never["status"] == "active"
    # Whole days since 2026-02-01 08:30 (UTC): one fewer than the calendar days before 08:30.
    assert february["unused"] and february["days_unused"] >= (datetime.date.today() - datetime.date(2026, 2, 1)).days - 1
    fresh = rows["inspektorat@bekasikota.go.id"]
    assert fresh["unused"] is False and fresh["days_unused"] == 0
    deactivated = rows["supardi.wiryo@bekasikota.go.id"]
    assert deactivated["status"] == "deactivated" and deactivated["locked"] and not deactivated["unused"]
    assert deactivated["note"] == "", "a deactivated account locked in the directory is as it should be"
    locked = rows["telematika@bekasikota.go.id"]
    assert locked["locked"] and not locked["unused"] and "locked in the directory" in locked["note"]
    stranger = rows["tamu.lama@bekasikota.go.id"]
    assert stranger["status"] == mail_report.NOT_IN_REGISTRY and stranger["owner"] == "DISKOMINFOSTANDI"
    absent = rows["dinkes@bekasikota.go.id"]
    assert absent["directory"] is False and absent["unused"] is False and "not in the directory" in absent["note"]
    assert stranger["unused"], "an account nobody manages and nobody uses is the first to look at"
    # Longest unused first; the same days by address.
    assert [r["address"] for r in data["unused"]] == ["setda@bekasikota.go.id", "tamu.lama@bekasikota.go.id",
                                                      "setwan@bekasikota.go.id"]
    assert data["totals"]["unused"] == 3 and data["totals"][mail_report.NOT_IN_REGISTRY] == 1


def test_an_old_snapshot_answers_for_its_own_day(ctx):
    """The read of 2026-02-10: setda (created 2026-01-05) was unused for 36 days, setwan for 9."""
    snapshot = {"v": 1, "kind": "mail", "host": "ldap1", "taken_at": "2026-02-10T00:00:00+00:00",
                "accounts": [{"address": "setda@bekasikota.go.id", "uid": "setda", "ou": "SETDA",
                              "last_used": "2026-01-05T00:00:00+00:00", "locked": False},
                             {"address": "setwan@bekasikota.go.id", "uid": "setwan", "ou": "SETWAN",
                              "last_used": "2026-02-01T08:30:00+00:00", "locked": False}]}
    data = mail_report.build(ctx, [snapshot], city.timezone(ctx))
    assert [(r["address"], r["days_unused"]) for r in data["unused"]] == [("setda@bekasikota.go.id", 36)]


def test_without_a_directory_read_the_registry_is_listed(ctx):
    data = mail_report.build(ctx, [], city.timezone(ctx))
    assert data["rows"] and all(r["directory"] is None and r["unused"] is None for r in data["rows"])
    assert data["totals"]["unused"] == 0


def test_page_and_csv(directory, tmp_path):
    assert directory.whoami("uid=inspektorat," + directory.base, PASSWORD) == 0
    result = read(directory)
    state = tmp_path / "state"
    state.mkdir()
    (state / "mail-ldap1.json").write_text(snapshots.dump(snapshots.from_result("mail", "ldap1", result)))
    build.run(EXAMPLE, ROOT + "/templates/reports", str(tmp_path / "out"), state_dir=str(state))
    page = (tmp_path / "out" / "mail-accounts.html").read_text(encoding="utf-8")
    assert "Unused for 30 days or more" in page and "setda@bekasikota.go.id" in page
    with open(tmp_path / "out" / "mail-accounts.csv", encoding="utf-8", newline="") as fh:
        rows = {r["Address"]: r for r in csv.DictReader(fh)}
    assert rows["setda@bekasikota.go.id"]["Unused (E10)"] == "yes"
    assert rows["inspektorat@bekasikota.go.id"]["Unused (E10)"] == "no"
    assert rows["tamu.lama@bekasikota.go.id"]["Registry status"] == mail_report.NOT_IN_REGISTRY
    assert rows["dinkes@bekasikota.go.id"]["In the directory"] == "no"
