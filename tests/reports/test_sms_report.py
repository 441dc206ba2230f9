"""S7: the SMS recap per blast and for the period, from sms_recap's reading of a gateway's files."""
import csv

import pytest

from module_runner import run_module
from paths import EXAMPLE, ROOT
from reports_helpers import BLAST, UNKNOWN, make_gateway

from ansible.module_utils.city.reports import build, city, snapshots
from ansible.module_utils.city.reports import sms as sms_report


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    return make_gateway(tmp_path_factory.mktemp("gateway"))


def recap(gateway, since="2026-01-01"):
    data = gateway["data"]
    result = run_module("sms_recap", dict(ledger=data + "/ledger.sqlite3", incoming=data + "/incoming.sqlite3",
                                          phonebook=data + "/phonebook.json", spool_dir=gateway["spool"],
                                          since=since))
    assert not result.get("failed"), result.get("msg")
    return snapshots.from_result("sms", "sms1", result)


def test_per_blast_and_per_period(ctx, gateway):
    data = sms_report.build(ctx, [recap(gateway)], city.timezone(ctx))
    [g] = data["gateways"]
    assert g["host"] == "sms1" and g["error"] is None and g["since"] == "2026-01-01"
    [blast] = g["blasts"]
    assert (blast["blast_id"], blast["recipients"], blast["sent"], blast["failed"], blast["pending"],
            blast["missing"]) == (BLAST, 3, 1, 1, 1, 0)
    # What the registry adds: the kind (S3), the originator (S1), the approval (S2).
    assert blast["in_registry"] and blast["kind"] == "invitation" and blast["originator_name"]
    assert blast["approved_on"] and blast["approved_by"]
    [report] = blast["non_receipt"]
    assert (report["user_id"], report["delivery"], report["reports"]) == ("tuti.alawiyah", "failed", 1)
    assert report["agency_name"], "the agency's name from the registry"
    assert [r["user_id"] for r in blast["failed_recipients"]] == ["tuti.alawiyah"]
    keywords = {k["keyword"]: k for k in g["keywords"]}
    assert keywords["TIDAKTERIMA"]["kind"] == "non-receipt" and keywords["TIDAKTERIMA"]["messages"] == 1
    assert keywords["TANYA"]["messages"] == 1, "last year's question is outside the period"
    assert keywords["TANYA"]["description"]
    assert [r["user_id"] for r in blast["reply_list"]] == ["yusuf.hermawan"]
    assert g["incoming_total"] == 4 and g["unknown_senders"] == {"messages": 1, "numbers": [(UNKNOWN, 1)]}
    agency = gateway["users"]["agus"]["agency"]
    assert {(r["agency"], r["kind"], r["messages"]) for r in data["agency_rows"]} >= {(agency, "question", 1)}
    assert data["totals"]["failed"] == 1 and data["totals"]["non_receipt_users"] == 1


def test_the_period_is_chosen(ctx, gateway):
    data = sms_report.build(ctx, [recap(gateway, since="2025-12-01")], city.timezone(ctx))
    assert data["gateways"][0]["incoming_total"] == 5
    later = sms_report.build(ctx, [recap(gateway, since="2026-11-03")], city.timezone(ctx))
    assert later["gateways"][0]["blasts"] == [] and later["gateways"][0]["incoming_total"] == 0


def test_a_gateway_that_could_not_be_read(ctx):
    snap = snapshots.from_result("sms", "sms2", {"unreachable": True, "msg": "ssh: connect refused"})
    data = sms_report.build(ctx, [snap], city.timezone(ctx))
    assert data["gateways"][0]["error"] == "unreachable: ssh: connect refused"
    assert data["totals"]["blasts"] == 0


def test_page_and_csv(tmp_path, gateway):
    state = tmp_path / "state"
    state.mkdir()
    (state / "sms-sms1.json").write_text(snapshots.dump(recap(gateway)), encoding="utf-8")
    build.run(EXAMPLE, ROOT + "/templates/reports", str(tmp_path / "out"), state_dir=str(state))
    page = (tmp_path / "out" / "sms-recap.html").read_text(encoding="utf-8")
    assert BLAST in page and "tuti.alawiyah" in page and UNKNOWN in page
    assert "BALAS &lt;script&gt;alert(1)&lt;/script&gt; hadir" in page and "<script" not in page
    with open(tmp_path / "out" / "sms-blasts.csv", encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["Blast"], row["Sent"], row["Failed"], row["Pending"], row["Kind (S3)"]) == (
        BLAST, "1", "1", "1", "invitation")
    with open(tmp_path / "out" / "sms-keywords.csv", encoding="utf-8", newline="") as fh:
        keywords = {r["Keyword"]: r for r in csv.DictReader(fh)}
    assert keywords["TIDAKTERIMA"]["Kind"] == "non-receipt"
