"""The registry's accounts as directory entries (docs/directory-design.md)."""
import os

import yaml

from ansible.module_utils.city.mail.desired import (DEACTIVATED, DELETED, desired_accounts,
                                                         suffix_of)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REG = os.path.join(ROOT, "inventory", "registry")


def load(name):
    with open(os.path.join(REG, name), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def accounts():
    return desired_accounts(load("mail.yml"), load("agencies.yml"), load("people.yml"), "bekasikota.go.id")


def test_suffix_from_the_main_domain():
    assert suffix_of("bekasikota.go.id.") == "dc=bekasikota,dc=go,dc=id"
    assert suffix_of("Kota.Example") == "dc=kota,dc=example"


def test_every_registry_account_has_one_entry_under_ou_accounts():
    got = accounts()
    assert len(got) == len(load("mail.yml")["accounts"])
    assert all(a.dn.endswith(",ou=accounts,dc=bekasikota,dc=go,dc=id") for a in got.values())
    assert len({a.dn for a in got.values()}) == len(got)


def test_position_account_attributes():
    acc = accounts()["kepala.dinkes@bekasikota.go.id"]
    assert acc.dn == "uid=kepala.dinkes,ou=accounts,dc=bekasikota,dc=go,dc=id"
    attrs = acc.attributes
    assert attrs["uid"] == ["kepala.dinkes"] and attrs["mail"] == ["kepala.dinkes@bekasikota.go.id"]
    assert attrs["ou"] == ["DINKES"] and attrs["employeeType"] == ["position"]
    assert attrs["title"] == ["kepala-pd"] and attrs["employeeNumber"] == ["197310151997012001"]
    assert "," not in attrs["sn"][0] and "." not in attrs["sn"][0], "titles are stripped"


def test_agency_account_has_no_holder_and_is_named_after_the_agency():
    attrs = accounts()["setda@bekasikota.go.id"].attributes
    assert attrs["employeeNumber"] == [] and attrs["title"] == []
    assert attrs["cn"] == ["Sekretariat Daerah Kota Bekasi"] and attrs["sn"] == ["Setda"]


def test_states_and_reset_tickets_come_from_the_registry():
    got = accounts()
    assert got["supardi.wiryo@bekasikota.go.id"].state == DEACTIVATED
    assert got["nur.aini.rahmawati@bekasikota.go.id"].state == DELETED
    assert got["budi.santoso@bekasikota.go.id"].resets


def test_see_also_is_the_reverse_of_secretary_for_active_delegates_and_mailboxes():
    """The master logins read seeAlso on the delegate's own entry (P17 Pasal 35(2))."""
    got = accounts()
    by_dn = {a.dn.lower(): a for a in got.values()}
    for account in got.values():
        for target in account.attributes["seeAlso"]:
            assert account.state == "active"
            assert by_dn[target.lower()].state != DELETED
            assert account.dn in by_dn[target.lower()].attributes["secretary"]
    for account in got.values():
        if account.state == DELETED:
            continue
        for delegate in account.attributes["secretary"]:
            holder = by_dn.get(delegate.lower())
            if holder is not None and holder.state == "active":
                assert account.dn in holder.attributes["seeAlso"]
    assert any(a.attributes["seeAlso"] for a in got.values())


def test_a_rename_cut_short_after_the_modrdn_is_finished_by_the_next_plan():
    """slapd killed between the modrdn and the modify: the entry has its new DN and its old
    mail; the next plan modifies it, it does not rename it again nor create another."""
    from ansible.module_utils.city.mail.plan import MODIFY, RENAME, make_plan
    mail = load("mail.yml")
    for acc in mail["accounts"]:
        if acc["address"] == "krenova@bekasikota.go.id":
            acc["address"], acc["renamed_from"] = "inovasi.daerah@bekasikota.go.id", "krenova@bekasikota.go.id"
    want = desired_accounts(mail, load("agencies.yml"), load("people.yml"), "bekasikota.go.id")
    new = want["inovasi.daerah@bekasikota.go.id"]
    entry = dict({k: list(v) for k, v in new.attributes.items()}, mail=["krenova@bekasikota.go.id"], dn=new.dn)
    ops = [op for op in make_plan({new.address: new}, {"krenova@bekasikota.go.id": entry})]
    assert [(op.action, op.dn) for op in ops] == [(MODIFY, new.dn)]
    assert ops[0].changes == {"mail": ["inovasi.daerah@bekasikota.go.id"]}
    fresh = make_plan({new.address: new}, {"krenova@bekasikota.go.id": dict(entry, dn="uid=krenova,ou=accounts,"
                                                                              "dc=bekasikota,dc=go,dc=id")})
    assert [op.action for op in fresh][:2] == [RENAME, MODIFY]
