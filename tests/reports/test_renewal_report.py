"""D6: the main domain's renewal status at chosen dates, the same as the validation's warning."""
import csv
import datetime

import pytest

from paths import EXAMPLE, SCHEMAS

from ansible.module_utils.city.registry import renewal
from ansible.module_utils.city.reports import renewal as renewal_report
from ansible.module_utils.city.registry.validate import validate

# The example registry: domain.expires 2027-03-15, 60 days of warning, a 35-day window.
CASES = [
    ("2026-11-23", renewal.OK, 112),          # before the warning
    ("2027-01-13", renewal.OK, 61),
    ("2027-01-14", renewal.WARN, 60),         # the warning starts
    ("2027-03-14", renewal.WARN, 1),
    ("2027-03-15", renewal.WINDOW, 0),        # expired today: the window's first day
    ("2027-04-19", renewal.WINDOW, -35),      # its last day
    ("2027-04-20", renewal.OVERDUE, -36),     # the window has passed
]


@pytest.mark.parametrize("today,state,days", CASES, ids=[c[0] for c in CASES])
def test_state_at_a_date(ctx, today, state, days):
    row = renewal_report.build(ctx, datetime.date.fromisoformat(today))
    assert (row["state"], row["days_left"]) == (state, days)
    assert (row["expires"], row["warn_from"], row["window_ends"]) == ("2027-03-15", "2027-01-14", "2027-04-19")
    assert row["domain"] == "bekasikota.go.id" and row["officer_name"]
    if state == renewal.WINDOW:
        assert row["window_days_left"] == 35 + days and "%d of the 35 days" % (35 + days) in row["advice"]
    assert 0 <= row["timeline"]["today"] <= 100, "today is always on the picture"


@pytest.mark.parametrize("today,state", [("2026-11-23", renewal.OK), ("2027-02-01", renewal.WARN),
                                         ("2027-03-30", renewal.WINDOW), ("2027-05-01", renewal.OVERDUE)])
def test_the_report_and_the_validation_agree(ctx, today, state):
    date = datetime.date.fromisoformat(today)
    found = [f for f in validate(EXAMPLE, SCHEMAS, today=date).findings if f.rule == "D6-RENEWAL"]
    assert renewal_report.build(ctx, date)["state"] == state
    assert bool(found) == (state != renewal.OK)
    # Past the window the renewal is overdue: an error, no longer a warning (D6).
    assert {f.severity for f in found} <= ({"error"} if state == renewal.OVERDUE else {"warning"})


def test_shared_rule_edges():
    expires = datetime.date(2027, 3, 15)
    status = renewal.renewal_status(expires, datetime.date(2027, 3, 15), window_days=35, warning_days=0)
    assert status["state"] == renewal.WINDOW
    assert renewal.renewal_status(expires, datetime.date(2027, 3, 14), 35, 0)["state"] == renewal.OK
    assert renewal.policy_days({"domain": {"renewal_window_days": 30, "renewal_warning_days": 90}}) == (30, 90)
    assert renewal.policy_days(None) == (35, 60)


def test_page_and_csv(tmp_path):
    from ansible.module_utils.city.reports import build
    from paths import ROOT
    build.run(EXAMPLE, ROOT + "/templates/reports", str(tmp_path), trail_path=None,
              today=datetime.date(2027, 3, 30))
    page = (tmp_path / "renewal.html").read_text(encoding="utf-8")
    assert "Expired: in the renewal window" in page and "20 of the 35 days" in page
    with open(tmp_path / "renewal.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["State"] == "renewal-window" and rows[0]["Days left"] == "-15"
    assert rows[0]["Expires"] == "2027-03-15" and rows[0]["Renewal window ends"] == "2027-04-19"
