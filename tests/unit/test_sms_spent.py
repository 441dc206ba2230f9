"""The control node's ledger of blasts (module_utils/city/sms/spent.py): one claim per
approval, whatever runs at the same time; what is released and what never is."""
import multiprocessing
import os

import pytest

from ansible.module_utils.city.sms.spent import SpentError, SpentLedger, default_path

SIG = "a" * 64


def _claim(args):
    path, gateway = args
    try:
        with SpentLedger(path) as spent:
            return gateway, spent.claim("2026-11-001", SIG, gateway)["claim"]
    except SpentError as exc:
        return gateway, "refused: %s" % exc


def test_concurrent_claims_for_several_gateways_leave_exactly_one(tmp_path):
    path = str(tmp_path / "state" / "sms-blasts.sqlite3")
    gateways = ["sms%d" % i for i in range(8)] * 2
    with multiprocessing.get_context("fork").Pool(8) as pool:
        outcomes = pool.map(_claim, [(path, g) for g in gateways])
    winners = {g for g, o in outcomes if o == "new"}
    assert len(winners) == 1
    (winner,) = winners
    assert [o for g, o in outcomes if g == winner].count("existing") == 1
    assert all(o.startswith("refused") and "never sent through two gateways" in o
               for g, o in outcomes if g != winner)
    with SpentLedger(path, readonly=True) as spent:
        assert spent.claim_of("2026-11-001")["gateway"] == winner


def test_another_signature_is_refused(tmp_path):
    with SpentLedger(str(tmp_path / "l.sqlite3")) as spent:
        spent.claim("2026-11-001", SIG, "sms1")
        with pytest.raises(SpentError, match="another signature"):
            spent.claim("2026-11-001", "b" * 64, "sms1")


def test_record_then_restore_and_what_is_released(tmp_path):
    path = str(tmp_path / "l.sqlite3")
    pairs = [{"user_id": "u%d" % i, "phone_id": "modem1", "file": "f%d" % i, "planned_at": "p",
              "enqueued_at": "e"} for i in range(3)]
    with SpentLedger(path) as spent:
        new = spent.claim("2026-11-001", SIG, "sms1")
        assert new["claim"] == "new" and new["restore"] is None
        # Not this run's claim (no token): a gateway that planned nothing keeps it claimed.
        assert spent.record("2026-11-001", SIG, "sms1", {"planned": False})[0] is False
        changed, _msg = spent.record("2026-11-001", SIG, "sms1", {"planned": True, "pairs": pairs,
                                                                  "ledger_id": "L1", "planned_at": "p"})
        assert changed
        again = spent.claim("2026-11-001", SIG, "sms1")
        assert again["claim"] == "existing" and again["restore"]["pairs"] == pairs
        # Recorded: never released, even with the token of the claim.
        spent.record("2026-11-001", SIG, "sms1", {"planned": False}, claim_token=new["claim_token"])
        assert spent.claim_of("2026-11-001") is not None
        # The next claim knows the gateway's ledger; released only by its own run's token.
        other = spent.claim("2026-11-002", SIG, "sms1")
        assert spent.claim_of("2026-11-002")["ledger_id"] == "L1"
        spent.record("2026-11-002", SIG, "sms1", {"planned": False}, claim_token="not-its-token")
        assert spent.claim_of("2026-11-002") is not None
        spent.record("2026-11-002", SIG, "sms1", {"planned": False, "scheduled": True},
                     claim_token=other["claim_token"])
        assert spent.claim_of("2026-11-002") is None
        with pytest.raises(SpentError, match="no claim"):
            spent.record("2026-11-003", SIG, "sms1", {"planned": True, "pairs": []})


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "state" / "l.sqlite3")
    with SpentLedger(path, readonly=True) as spent:
        assert spent.claim("2026-11-001", SIG, "sms1")["claim"] == "new"
    assert not os.path.exists(os.path.dirname(path))


def test_default_path_is_the_state_directory(tmp_path):
    assert default_path({"CITY_STATE_DIR": "/srv/state"}) == "/srv/state/sms-blasts.sqlite3"
    assert default_path({}, str(tmp_path)) == str(tmp_path / "state" / "sms-blasts.sqlite3")
