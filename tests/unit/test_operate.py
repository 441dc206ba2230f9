"""The pieces of the plan and the audit trail: masking, change records, the plan document, the lock."""
import json
import os

import pytest

from ansible.module_utils.city.operate import changes, lock, plan_doc, trail
from ansible.module_utils.city.reports import trail as trail_reader
from ansible.module_utils.city.operate.masking import MASK, mask


@pytest.mark.parametrize("text, secret", [
    ('key "dns-update" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0"; };', "c2VjcmV0c2VjcmV0"),
    ("[gammu]\npin = 1234\nmodel = dummy", "1234"),
    ("olcRootPW: {ARGON2}$argon2id$v=19$m=12288,t=3,p=1$c2FsdA$aGFzaA", "$argon2id$v=19"),
    ("userPassword:: e1NTSEF9YWJjZGVm", "e1NTSEF9YWJjZGVm"),
    ("bindpw topsecretpw\nbindpw= topsecretpw", "topsecretpw"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----", "MIIEvQIBADAN"),
    ("$ANSIBLE_VAULT;1.1;AES256\n  6162636465\n  3132333435", "6162636465"),
])
def test_secrets_in_texts_are_masked(text, secret):
    masked = mask({"diff": [text]})
    assert secret not in json.dumps(masked)


def test_secret_keys_are_masked_whole_and_known_values_anywhere():
    value = {"bind_password": "x", "key_secret": "y", "sim_pins": {"modem1": "1"}, "name": "dinkes",
             "note": "the pin of modem1 is 987654"}
    masked = mask(value, known=["987654"])
    assert masked["bind_password"] == masked["key_secret"] == masked["sim_pins"] == MASK
    assert masked["name"] == "dinkes" and "987654" not in masked["note"]


def city_result(module, changes_, notes=(), section=None, **result):
    """A toolkit module's result: its plan in the one shape of the module base (service/base.py)."""
    result["city"] = {"module": module, "target": "t", "changes": list(changes_), "notes": list(notes),
                      "section": section or {"title": module, "what": "things", "object": "Thing"}}
    return result


def test_dns_zone_records_one_change_per_record_set():
    result = city_result("dns_zone", [
        {"object": "ppid.kota.example. A", "action": "add", "before": [],
         "after": ["ppid.kota.example. 3600 IN A 192.0.2.60"]},
        {"object": "old.kota.example. TXT", "action": "delete", "before": ['old 3600 IN TXT "x"'],
         "after": []}], changed=True)
    records = changes.from_result("dns_zone", result, "dns1", "Apply")
    assert [(r["object"], r["action"], r["status"]) for r in records] == [
        ("ppid.kota.example. A", "add", "ok"), ("old.kota.example. TXT", "delete", "ok")]
    assert records[0]["after"] == ["ppid.kota.example. 3600 IN A 192.0.2.60"] and records[0]["host"] == "dns1"
    assert records[0]["module"] == "dns_zone" and records[0]["target"] == "t"


def test_mail_accounts_failures_and_refusals():
    ops = [{"object": "a@kota.example", "action": "create", "before": {},
            "after": {"password": "(new, handed over to the agency's admin)"}},
           {"object": "b@kota.example", "action": "modify", "before": {"title": ["Staf"]},
            "after": {"title": ["Kepala"]}}]
    # The module marks each change of a partly applied plan (MailAccounts.apply).
    partial = changes.from_result("mail_accounts", city_result("mail_accounts", [
        dict(ops[0], status="failed"), dict(ops[1], status="ok")], failed=True), "ldap1", "Apply")
    assert [r["status"] for r in partial] == ["failed", "ok"]
    assert partial[1]["before"] == {"title": ["Staf"]} and partial[1]["after"] == {"title": ["Kepala"]}
    assert partial[0]["after"]["password"] == MASK, "not even the hand-over note is kept under that key"
    refused = changes.from_result("mail_accounts", city_result("mail_accounts", ops, failed=True), "ldap1", "Apply")
    assert {r["status"] for r in refused} == {"failed"}, "a refused plan applied nothing"


def test_sms_blast_is_one_change_and_a_scheduled_one_is_a_note():
    sent = city_result("sms_blast", [{"object": "blast 2026-11-001", "action": "enqueue",
                                      "before": {"already_enqueued": 0},
                                      "after": {"enqueued": 22, "recipients": 22, "segments": 2,
                                                "encoding": "GSM-7", "total_sms": 44}}])
    later = city_result("sms_blast", [], notes=[
        "blast 2026-12-001 is scheduled (send_after 2026-12-01T08:00:00+07:00): nothing is enqueued before then"])
    result = {"changed": True, "results": [sent, later]}
    records = changes.from_result("sms_blast", result, "sms1", "Enqueue")
    assert [(r["object"], r["action"], r["after"]["enqueued"], r["after"]["total_sms"]) for r in records] == [
        ("blast 2026-11-001", "enqueue", 22, 44)]
    assert changes.notes_from_result("sms_blast", result) == [
        "blast 2026-12-001 is scheduled (send_after 2026-12-01T08:00:00+07:00): nothing is enqueued before then"]


def test_other_tasks_are_one_change_each_with_their_diff_or_hidden():
    diff = {"before": "a\nsecret \"old\";\n", "after": "a\nsecret \"new\";\nb\n"}
    result = {"changed": True, "results": [
        {"changed": True, "item": "named.conf", "_ansible_item_label": "named.conf", "diff": diff},
        {"changed": False, "item": "other"},
        {"changed": True, "item": "key", "censored": "hidden", "_ansible_no_log": True}]}
    records = changes.from_result("ansible.builtin.template", result, "dns1", "Write")
    assert [(r["module"], r["object"]) for r in records] == [("template", "Write [named.conf]"),
                                                              ("template", "Write [key]")]
    assert records[0]["before"] == ["secret " + MASK] and records[0]["after"] == ["secret " + MASK, "b"]
    assert records[1]["before"] == records[1]["after"] == changes.NO_LOG_NOTE
    assert changes.from_result("ansible.builtin.debug", {"changed": False}, "dns1", "Show") == []


def test_plan_document_sections_counts_and_empty():
    run = {"run": "r1", "started": "2026-11-23T00:00:00+00:00", "operator": "alice", "commit": "abc",
           "dirty": True, "playbook": "playbooks/plan.yml", "inventory": ["inventory/lab"]}
    dns = city_result("dns_zone", [{"object": "a|b.kota.example. A", "action": "add", "before": [], "after": ["x"]}],
                      section={"title": "DNS records", "what": "records to add", "object": "Record set"})
    records = changes.from_result("dns_zone", dns, "dns1", "T")
    records += changes.from_result("ansible.builtin.copy", {"changed": True}, "sms1", "Phonebook")
    doc = plan_doc.document(run, records, notes=["n1"], sections=changes.sections_from_result(dns))
    text = plan_doc.markdown(doc)
    assert "## DNS records" in text and "1 to add" in text and "a\\|b.kota.example. A" in text
    assert "| Action | Record set | Before | After |" in text
    assert "## Server configuration" in text and "plus uncommitted changes" in text and "- n1" in text
    assert doc["summary"] == {"dns_zone": {"add": 1}, "configuration": {"change": 1}}
    empty = plan_doc.document(run, [])
    assert empty["empty"] and "**No changes.**" in plan_doc.markdown(empty)
    broken = plan_doc.document(run, [], errors=[{"host": "ldap1", "task": "Apply", "msg": "unreachable"}])
    assert not broken["empty"] and not broken["complete"]
    assert "The plan is incomplete" in plan_doc.markdown(broken) and "No changes" not in plan_doc.markdown(broken)


def test_trail_appends_whole_records_and_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "t" / "audit-trail.jsonl"
    log = trail.AuditTrail(str(path))
    log.append("r1", trail.RUN_START, operator="alice")
    log.append("r1", trail.RUN_END, status=trail.OK)
    with open(path, "a") as handle:
        handle.write('{"v": 1, "run": "r2", "ev')  # a crash in the middle of a write
    read = trail_reader.read(str(path))
    assert [(r["run"], r["event"]) for r in read.records] == [("r1", "run-start"), ("r1", "run-end")]
    assert read.skipped == 1, "the torn line is counted, not fatal"
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_lock_is_exclusive_and_reports_an_unfinished_holder(tmp_path):
    path = str(tmp_path / "apply.lock")
    first = lock.ApplyLock(path)
    assert first.acquire({"run": "r1", "pid": os.getpid()}) is None
    with pytest.raises(lock.LockBusy) as busy:
        lock.ApplyLock(path).acquire({"run": "r2"}, wait=0.3, poll=0.1)
    assert busy.value.holder["run"] == "r1" and "r1" in str(busy.value)
    first.release()
    again = lock.ApplyLock(path)
    assert again.acquire({"run": "r3"}) is None, "a clean end leaves no holder"
    os.close(again.fd)  # as if the process died: the kernel frees the lock, the description stays
    assert lock.ApplyLock(path).acquire({"run": "r4"})["run"] == "r3"
