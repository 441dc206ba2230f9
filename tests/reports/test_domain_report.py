"""D9: the subdomain report per agency and for the city, from the registry, the trail and the drift."""
import csv
import datetime
import io
import json

import pytest

from paths import EXAMPLE, ROOT
from reports_helpers import RUN

from ansible.module_utils.city.reports import build, city
from ansible.module_utils.city.reports import domain as domain_report
from ansible.module_utils.city.reports import trail as trail_mod

TEMPLATES = ROOT + "/templates/reports"


def tz(ctx):
    return city.timezone(ctx)


def dns_snapshot():
    """dns_zone's check-mode plan as report.yml keeps it: the server's drift from the registry."""
    return {"v": 1, "kind": "dns", "host": "dns1", "taken_at": "2026-11-20T01:00:00+00:00",
            "plan": {"add": 0, "change": 1, "delete": 1, "owned_rrsets_before": 200},
            "changes": [
                {"action": "change", "name": "dinkes.bekasikota.go.id.", "type": "A",
                 "before": ["dinkes.bekasikota.go.id. 3600 IN A 192.0.2.99"],
                 "after": ["dinkes.bekasikota.go.id. 3600 IN A 192.0.2.41"]},
                {"action": "delete", "name": "www.sipkd.bekasikota.go.id.", "type": "CNAME",
                 "before": ["www.sipkd.bekasikota.go.id. 3600 IN CNAME sipkd.bekasikota.go.id."], "after": []}]}


@pytest.fixture
def data(ctx, trail_path):
    return domain_report.build(ctx, trail_mod.read(str(trail_path)), [dns_snapshot()], 2026, tz(ctx))


def row(rows, name):
    return next(r for r in rows if r["name"] == name)


def test_subdomains_come_with_owner_status_and_served_addresses(data):
    dinkes = row(data["subdomains"], "dinkes")
    assert (dinkes["owner"], dinkes["owner_name"], dinkes["status"], dinkes["kind"]) == (
        "DINKES", "Dinas Kesehatan", "active", "agency")
    assert dinkes["fqdn"] == "dinkes.bekasikota.go.id" and dinkes["decree"]
    suspended = row(data["subdomains"], "bekasifair")
    assert (suspended["owner"], suspended["status"]) == ("DISPERDAGIN", "suspended")
    assert suspended["addresses"] == ["192.0.2.9", "2001:db8:b3c::9"], "served at the suspension target (D7)"
    deactivated = row(data["subdomains"], "sipkd")
    assert deactivated["status"] == "deactivated" and deactivated["addresses"] == []
    excepted = row(data["subdomains"], "tirtapatriot")
    assert excepted["excepted"] and excepted["addresses"] == ["203.0.113.50"] and excepted["exception_reference"]
    main = data["subdomains"][0]
    assert (main["name"], main["kind"], main["owner"]) == ("@", "main-domain", "DISKOMINFOSTANDI")
    assert "192.0.2.10" in main["addresses"]


def test_changes_of_the_year_go_to_the_owner_of_the_name(data):
    objects = {c["object"]: c for c in data["changes"]}
    # 2026 in Jakarta: the March run; not the 2025 one, not the one on 2026-12-31 20:00 UTC (2027 there),
    # not the check run's plan, not the mail change, not the record of another format version.
    assert set(objects) == {"dinkes.bekasikota.go.id. A", "_dmarc.bekasikota.go.id. TXT",
                            "oldsite.bekasikota.go.id. A"}
    change = objects["dinkes.bekasikota.go.id. A"]
    assert (change["owner"], change["action"], change["run"], change["commit"]) == (
        "DINKES", "change", RUN, "abcdef012345")
    assert change["before"] == ["dinkes.bekasikota.go.id. 3600 IN A 192.0.2.40"] and len(change["after"]) == 2
    assert change["operator"] == "<b>budi</b>" and change["dirty"] is True
    assert change["time"].startswith("2026-03-10 09:00")  # shown in the city's time zone
    assert objects["_dmarc.bekasikota.go.id. TXT"]["owner"] == "DISKOMINFOSTANDI", "the main domain's own name"
    assert objects["oldsite.bekasikota.go.id. A"]["owner"] is None, "a name the registry no longer lists"
    assert row(data["subdomains"], "dinkes")["changes"] == 1 and row(data["subdomains"], "disdik")["changes"] == 0
    assert data["trail"]["skipped"] == 2 and "line 4" in data["trail"]["problems"][0]


def test_an_agency_sees_its_changes_and_drift_only(data):
    dinkes = domain_report.for_agency(data, "DINKES")
    disdik = domain_report.for_agency(data, "DISDIK")
    assert [s["name"] for s in dinkes["subdomains"]] == ["dinkes"]
    assert [c["object"] for c in dinkes["changes"]] == ["dinkes.bekasikota.go.id. A"]
    assert disdik["changes"] == [] and disdik["drift"] == []
    assert [d["name"] for d in dinkes["drift"]] == ["dinkes.bekasikota.go.id."]
    bpkad = domain_report.for_agency(data, "BPKAD")
    assert [(d["name"], d["action"]) for d in bpkad["drift"]] == [("www.sipkd.bekasikota.go.id.", "delete")]
    assert "DINKES" in domain_report.owner_codes(data) and None not in domain_report.owner_codes(data)


def test_the_year_is_chosen(ctx, trail_path):
    trail = trail_mod.read(str(trail_path))
    last_year = domain_report.build(ctx, trail, [], 2025, tz(ctx))
    assert [c["object"] for c in last_year["changes"]] == ["dinkes.bekasikota.go.id. TXT"]
    next_year = domain_report.build(ctx, trail, [], 2027, tz(ctx))
    assert [(c["object"], c["owner"]) for c in next_year["changes"]] == [("disdik.bekasikota.go.id. A", "DISDIK")]


def test_a_missing_trail_is_no_recorded_change_and_the_report_says_so(ctx, tmp_path):
    result = build.run(EXAMPLE, TEMPLATES, str(tmp_path / "out"), trail_path=str(tmp_path / "none.jsonl"),
                       year=2026, today=datetime.date(2026, 11, 23))
    assert result["summary"]["domain"]["changes"] == 0 and not result["summary"]["trail"]["exists"]
    page = (tmp_path / "out" / "domain-2026" / "city.html").read_text(encoding="utf-8")
    assert "No audit trail at" in page and "none.jsonl" in page
    assert "No state of the DNS server was read" in page


def render(tmp_path, trail_path, snapshots=()):
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    for snap in snapshots:
        (state / ("%s-%s.json" % (snap["kind"], snap["host"]))).write_text(json.dumps(snap), encoding="utf-8")
    out = tmp_path / "out"
    result = build.run(EXAMPLE, TEMPLATES, str(out), state_dir=str(state), trail_path=str(trail_path), year=2026,
                       today=datetime.date(2026, 11, 23))
    return out, result


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_agency_pages_and_csv(tmp_path, trail_path, data):
    out, result = render(tmp_path, trail_path, [dns_snapshot()])
    year = out / "domain-2026"
    dinkes = (year / "DINKES.html").read_text(encoding="utf-8")
    disdik = (year / "DISDIK.html").read_text(encoding="utf-8")
    assert "dinkes.bekasikota.go.id. A" in dinkes and "192.0.2.42" in dinkes
    assert "dinkes.bekasikota.go.id. A" not in disdik and "No change recorded in 2026" in disdik
    assert "Dinas Pendidikan" in disdik and "disdik.bekasikota.go.id" in disdik
    assert str(year / "DINKES.html") in result["files"] and (out / "index.html").exists()

    # The CSV parses back to the rows of the report, multi-line cells and all.
    rows = read_csv(year / "DINKES-changes.csv")
    headers = [h for _k, h in domain_report.CHANGE_COLUMNS]
    assert rows[0] == headers and len(rows) == 2
    parsed = dict(zip(headers, rows[1]))
    change = domain_report.for_agency(data, "DINKES")["changes"][0]
    assert parsed["Record set"] == change["object"] and parsed["After"] == "\n".join(change["after"])
    assert parsed["Operator"] == "<b>budi</b>" and parsed["Run"] == RUN
    subs = read_csv(year / "city-subdomains.csv")
    assert len(subs) == 1 + len(data["subdomains"])
    by_name = {r[0]: dict(zip(subs[0], r)) for r in subs[1:]}
    assert by_name["bekasifair.bekasikota.go.id"]["Status"] == "suspended"
    assert by_name["bekasifair.bekasikota.go.id"]["Owner"] == "DISPERDAGIN"
    assert by_name["tirtapatriot.bekasikota.go.id"]["Excepted (D4)"] == "yes"
    city_changes = read_csv(year / "city-changes.csv")
    assert {r[3] for r in city_changes[1:]} == {c["object"] for c in data["changes"]}
    drift_headers = [h for _k, h in domain_report.DRIFT_COLUMNS]
    drift = [dict(zip(drift_headers, r)) for r in read_csv(year / "city-drift.csv")[1:]]
    assert [(d["Server"], d["Owner"], d["Plan"]) for d in drift] == [("dns1", "DINKES", "change"),
                                                                    ("dns1", "BPKAD", "delete")]


def test_html_is_escaped(tmp_path, trail_path):
    out, _ = render(tmp_path, trail_path)
    page = (out / "domain-2026" / "DINKES.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;budi&lt;/b&gt;" in page and "<b>budi</b>" not in page
    city_page = (out / "domain-2026" / "city.html").read_text(encoding="utf-8")
    assert "&#34;=cmd|&#39; /C calc&#39;!A0&#34;" in city_page
    assert "<script" not in city_page.lower()


def test_nothing_of_the_city_is_written_in_the_templates():
    import glob
    for path in glob.glob(TEMPLATES + "/*.j2") + glob.glob(ROOT + "/module_utils/city/reports/*.py"):
        text = open(path, encoding="utf-8").read().lower()
        assert "bekasi" not in text, "%s names the city: take it from the registry" % path


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    from ansible.module_utils.city.reports.csvout import to_csv
    text = to_csv([("a", "A"), ("b", "B")], [{"a": "=HYPERLINK(\"x\")", "b": "+6281299990000"},
                                              {"a": "-12", "b": "@SUM(A1)"}, {"a": "é, \"quoted\"\nline", "b": None}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["A", "B"], ["'=HYPERLINK(\"x\")", "+6281299990000"], ["-12", "'@SUM(A1)"],
                    ["é, \"quoted\"\nline", ""]]
    assert text.encode("utf-8").decode("utf-8") == text and "\r\n" in text
