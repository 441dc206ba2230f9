"""Forgery and replay (issue 11): nothing unapproved is enqueued, nothing is enqueued twice.

Each attack is made the way someone with a merge request (or a dead gateway) would make
it, and what counts is what the real gammu-smsd daemons (dummy driver) did: the files in
their sent/ folders and the "Transmitted" lines of their logs. The validator's side of
each attack is asserted too (tests/registry/test_approval_trust.py has its details):

* a key added to sms.yml approval_keys, a changed secretariat.ketua: validation errors at
  their lines; the gateway, verifying against its own allowed_signers, refuses the blast;
* a forged rotation statement: an error, and the gateway's file (rendered as
  playbooks/sms.yml does) keeps the pinned trust; a valid statement moves it on;
* a signed blast replayed under a new id: refused;
* an expired blast: a validation error and a refusal, also when it would complete an
  interrupted run;
* a rebuilt gateway (an empty ledger): blast.yml sends nothing again, and a blast whose
  record never came back to the control node is refused;
* two gateways in one blast.yml run: each recipient exactly once across both.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import types

import pytest

from module_runner import run_module
from paths import ROOT, SCHEMAS
from smsd_server import Smsd
from test_sms_blast import (AFTER, RATES, TEXT, VALIDATED, crash_after_renames, members, number_of,
                            playbook_inventory, run_blast_playbook, transmissions, _run)

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.sms import trust
from ansible.module_utils.city.registry.validate import validate

SUCCESSOR = "197204151998122003"  # a person of SETDA outside the secretariat
LATER = "2026-11-28T08:00:00+07:00"  # after the default expiry of blast_yaml


# -- gateways: real daemons, a spool and a ledger each ------------------------------------


@pytest.fixture
def gateways(tmp_path, phonebook_file, allowed_signers):
    """A factory of gateways: ``make(name, modems)`` starts one gammu-smsd per modem under
    ``tmp_path/<name>``; every daemon is stopped at the end."""
    made = []

    def make(name, modems=tuple(RATES)):
        root = tmp_path / name
        gw = types.SimpleNamespace(name=name, root=root, spool=root / "spool", modems=list(modems),
                                   ledger=root / "lib" / "ledger.sqlite3", daemons={})
        gw.hostvars = {"sms_blast__phonebook": str(phonebook_file), "sms_blast__spool_dir": str(gw.spool),
                       "sms_blast__ledger": str(gw.ledger), "sms_blast__allowed_signers": allowed_signers,
                       "sms_blast__spent_ledger": str(tmp_path / "state" / "sms-blasts.sqlite3"),
                       "sms_blast__now": AFTER}
        for modem in gw.modems:
            gw.daemons[modem] = Smsd(root, modem).start()
        made.append(gw)
        return gw

    yield make
    for gw in made:
        for daemon in gw.daemons.values():
            daemon.stop()


def sent(gw, blast_id=None):
    """{file name: modem} in the gateway's sent/ folders (of one blast)."""
    out = {}
    for modem in gw.modems:
        for name in os.listdir(gw.spool / modem / "sent"):
            if blast_id is None or "_b%s-u" % blast_id in name:
                out[name] = modem
    return out


def waiting(gw):
    return sum(len(os.listdir(gw.spool / m / "outbox")) for m in gw.modems)


def wait_sent(gw, count, blast_id=None, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sent(gw, blast_id)) >= count and not waiting(gw):
            return True
        time.sleep(0.3)
    return False


def settle():
    """Long enough for a daemon to pick up and send anything written to its outbox."""
    time.sleep(4)


def rebuild(gw):
    """The gateway dies and is built again: its daemons, spool and ledger start empty."""
    for daemon in gw.daemons.values():
        daemon.stop()
    for suffix in ("", "-wal", "-shm", ".lock"):
        path = str(gw.ledger) + suffix
        if os.path.exists(path):
            os.unlink(path)
    shutil.rmtree(gw.spool)
    shutil.rmtree(gw.root / "dummy")
    for modem in gw.modems:
        gw.daemons[modem] = Smsd(gw.root, modem).start()


def once_each(daemons_logs, names):
    """Every file of ``names`` was transmitted exactly once (the daemons' logs, all runs)."""
    log = daemons_logs
    return {n: len(log.get(n, [])) for n in names} == {n: 1 for n in names}


def module_args(gw, blast_text, registry_data, **extra):
    sms = registry_data["sms.yml"]
    args = dict(blast=blast_text, allowed_signers=gw.hostvars["sms_blast__allowed_signers"],
                originators=[str(o["person"]) for o in sms["originators"]],
                phonebook=gw.hostvars["sms_blast__phonebook"], spool_dir=str(gw.spool),
                ledger=str(gw.ledger), now=AFTER,
                modems=[{"phone_id": m, "rate_per_minute": RATES.get(m, 10)} for m in gw.modems],
                max_segments=registry_data["city.yml"]["policy"]["sms"]["max_segments"])
    args.update(extra)
    return args


def in_registry(registry, blast_text):
    blast_id = blast_text.split('id: "', 1)[1].split('"', 1)[0]
    (registry / "blasts" / ("%s.yml" % blast_id)).write_text(blast_text, encoding="utf-8")
    return blast_id


def check_registry(registry, approval_root, **kwargs):
    return validate(str(registry), SCHEMAS, display_root=str(registry), approval_root=approval_root,
                    **kwargs)


def rules_at(result):
    return {(f.rule, f.file) for f in result.errors}


def registry_with_two_gateways(registry):
    """sms.yml with modem1 on gateway sms1 and modem2 on a second gateway, sms2."""
    sms = registry / "sms.yml"
    text = sms.read_text(encoding="utf-8")
    old = "      - phone_id: modem2\n"
    assert text.count(old) == 1
    sms.write_text(text.replace(old, "  - name: sms2\n    host: sms2\n    sender_id: PEMKOBKS\n"
                                     "    modems:\n" + old), encoding="utf-8")


# -- the gateway's own allowed_signers, rendered as playbooks/sms.yml does ---------------------

SIGNERS_PLAY = """---
# What playbooks/sms.yml does for the role sms_gateway: the trust from the inventory's pin
# and the registry's approval-trust.yml (lookup city_registry, filter sms_approval_trust),
# written with the role's own template.
- hosts: localhost
  gather_facts: false
  vars:
    sms_gateway__approval_signers:
      principal: "{{ _sms_approval_trust.ketua }}"
      keys: "{{ _sms_approval_trust['keys'] }}"
  tasks:
    - ansible.builtin.set_fact:
        _sms_approval_trust: >-
          {{ sms_approval__root | default(none)
             | sms_approval_trust(query('city_registry', 'approval-trust.[y]ml', registry_dir=registry_dir)
                                  | first | default(none)) }}
    - ansible.builtin.template:
        src: %(template)s
        dest: "{{ dest }}"
        mode: "0644"
"""


def render_signers(tmp_path, registry, root, dest):
    play = tmp_path / "signers.yml"
    play.write_text(SIGNERS_PLAY % {"template": os.path.join(ROOT, "roles", "sms_gateway", "templates",
                                                             "allowed_signers.j2")}, encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                           "localhost,", "-c", "local", str(play), "-e", json.dumps({
                               "sms_approval__root": root, "registry_dir": str(registry),
                               "dest": str(dest), "ansible_python_interpreter": sys.executable})],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return [line for line in dest.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


def write_statements(registry, statements):
    lines = ["---", "statements:"]
    for st in statements:
        lines += ["  - version: %d" % st["version"], "    ketua: %s" % json.dumps(st["ketua"]),
                  "    keys:"] + ["      - %s" % json.dumps(k) for k in st["keys"]] + [
                  "    date: %s" % st["date"], "    reason: %s" % json.dumps(st["reason"]),
                  "    previous: %s" % st["previous"], "    signature: |"] + [
                  "      " + line for line in st["signature"].strip().splitlines()]
    (registry / trust.TRUST_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def rotation(current, private_key, ketua, keys):
    st = trust.new_statement(current, ketua, keys, "2026-11-21", "Keputusan Wali Kota: Ketua baru")
    st["signature"] = blast_signature.sign_bytes(trust.statement_content(st), private_key, trust.NAMESPACE)
    return st


# -- a key added to the registry, a Ketua changed in the registry ------------------------------


def test_a_key_or_a_ketua_put_in_the_registry_approves_nothing(gateways, copied_registry, make_blast,
                                                                registry_data, signing_keys,
                                                                approval_root):
    gw = gateways("sms1")
    ketua = registry_data["sms.yml"]["secretariat"]["ketua"]
    sms = copied_registry / "sms.yml"
    original = sms.read_text(encoding="utf-8")
    # 1. One's own key under the Ketua's id, and a blast signed with it.
    sms.write_text(original.replace("approval_keys:\n", 'approval_keys:\n  - person: "%s"\n    key: "%s"\n'
                                    % (ketua, signing_keys.other.public), 1), encoding="utf-8")
    own_key = make_blast("2026-11-940", TEXT, key="other")
    in_registry(copied_registry, own_key)
    assert {("S2-KEYS", "sms.yml"), ("S2-APPROVAL", "blasts/2026-11-940.yml")} <= rules_at(
        check_registry(copied_registry, approval_root))
    refused = run_module("sms_blast", module_args(gw, own_key, registry_data))
    assert refused.get("failed") and "refused, nothing enqueued" in refused["msg"]
    assert "does not verify against" in refused["msg"] and not refused["planned"]
    # 2. Another person made Ketua, with their key, approving their own blast.
    os.unlink(copied_registry / "blasts" / "2026-11-940.yml")
    sms.write_text(original.replace('ketua: "%s"' % ketua, 'ketua: "%s"' % SUCCESSOR, 1).replace(
        "approval_keys:\n", 'approval_keys:\n  - person: "%s"\n    key: "%s"\n' % (
            SUCCESSOR, signing_keys.other.public), 1), encoding="utf-8")
    new_ketua = make_blast("2026-11-941", TEXT, key="other", by=SUCCESSOR)
    in_registry(copied_registry, new_ketua)
    assert {("S2-KETUA", "sms.yml"), ("S2-APPROVAL", "blasts/2026-11-941.yml")} <= rules_at(
        check_registry(copied_registry, approval_root))
    refused = run_module("sms_blast", module_args(gw, new_ketua, registry_data))
    assert refused.get("failed") and "who is not the Ketua in" in refused["msg"], refused["msg"]
    # The same, through blast.yml with validation bypassed: the gateway alone refuses.
    inventory = playbook_inventory(copied_registry.parent / "hosts.yml", {"sms1": gw.hostvars}, approval_root)
    results, out = run_blast_playbook(inventory, copied_registry, *VALIDATED, expect_rc=2)
    assert results["sms1"][0].get("failed") and "who is not the Ketua" in results["sms1"][0]["msg"]
    settle()
    assert sent(gw) == {} and waiting(gw) == 0 and transmissions(gw.daemons) == {}
    with sqlite3.connect(gw.hostvars["sms_blast__spent_ledger"]) as db:
        assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0, \
            "a claim the gateway planned nothing of is released"


# -- rotation statements ---------------------------------------------------------------------


def test_a_forged_rotation_statement_is_ignored_and_a_valid_one_moves_the_trust(
        tmp_path, gateways, copied_registry, make_blast, registry_data, signing_keys, approval_root):
    gw = gateways("sms1")
    signers = tmp_path / "etc" / "allowed_signers"
    signers.parent.mkdir(exist_ok=True)
    gw.hostvars["sms_blast__allowed_signers"] = str(signers)
    ketua = registry_data["sms.yml"]["secretariat"]["ketua"]
    pinned = trust.current(approval_root)
    # Forged: a statement making the forger's key the Ketua's, signed by the forger.
    write_statements(copied_registry, [rotation(pinned, signing_keys.other.private, ketua,
                                                [signing_keys.other.public])])
    result = check_registry(copied_registry, approval_root)
    assert ("S2-TRUST", trust.TRUST_FILE) in rules_at(result)
    lines = render_signers(tmp_path, copied_registry, approval_root, signers)
    assert lines == [blast_signature.signers_line(ketua, trust.normalise_key(k)) for k in approval_root["keys"]]
    forged = make_blast("2026-11-942", TEXT, key="other")
    refused = run_module("sms_blast", module_args(gw, forged, registry_data))
    assert refused.get("failed") and "does not verify" in refused["msg"]
    # Valid: the Ketua signs version 2, a successor with a new key.
    write_statements(copied_registry, [rotation(pinned, signing_keys.ketua.private, SUCCESSOR,
                                                [signing_keys.successor.public])])
    assert ("S2-TRUST", trust.TRUST_FILE) not in rules_at(check_registry(copied_registry, approval_root))
    lines = render_signers(tmp_path, copied_registry, approval_root, signers)
    assert lines == [blast_signature.signers_line(SUCCESSOR, trust.normalise_key(signing_keys.successor.public))]
    old = make_blast("2026-11-943", TEXT, key="ketua")
    refused = run_module("sms_blast", module_args(gw, old, registry_data))
    assert refused.get("failed") and "who is not the Ketua in" in refused["msg"], "the old Ketua no longer approves"
    old_key = make_blast("2026-11-944", TEXT, key="ketua", by=SUCCESSOR)
    refused = run_module("sms_blast", module_args(gw, old_key, registry_data))
    assert refused.get("failed") and "does not verify" in refused["msg"], "the old key no longer approves"
    expected = members(registry_data, groups=("camat",))
    accepted = run_module("sms_blast", module_args(gw, make_blast("2026-11-945", TEXT, key="successor",
                                                                  by=SUCCESSOR), registry_data))
    assert not accepted.get("failed") and accepted["enqueued"] == len(expected), accepted.get("msg")
    assert wait_sent(gw, len(expected))
    settle()
    assert sorted(number_of(n) for n in sent(gw)) == sorted(expected.values())
    assert once_each(transmissions(gw.daemons), sent(gw))


# -- a replayed blast --------------------------------------------------------------------------


def test_a_blast_replayed_under_a_new_id_is_refused(gateways, copied_registry, make_blast, registry_data,
                                                     approval_root):
    gw = gateways("sms1")
    original = make_blast("2026-11-946", TEXT)
    expected = members(registry_data, groups=("camat",))
    first = run_module("sms_blast", module_args(gw, original, registry_data))
    assert not first.get("failed") and first["enqueued"] == len(expected), first.get("msg")
    assert wait_sent(gw, len(expected))
    # The same approval under another id: the id is signed.
    replay = original.replace('id: "2026-11-946"', 'id: "2026-11-947"')
    in_registry(copied_registry, replay)
    assert ("S2-APPROVAL", "blasts/2026-11-947.yml") in rules_at(check_registry(copied_registry, approval_root))
    refused = run_module("sms_blast", module_args(gw, replay, registry_data))
    assert refused.get("failed") and "does not verify" in refused["msg"]
    # The same file under another name: the id inside is spent.
    os.unlink(copied_registry / "blasts" / "2026-11-947.yml")
    (copied_registry / "blasts" / "2026-11-948.yml").write_text(original, encoding="utf-8")
    assert ("REG-BLAST-ID", "blasts/2026-11-948.yml") in rules_at(check_registry(copied_registry, approval_root))
    again = run_module("sms_blast", module_args(gw, original, registry_data))
    assert not again.get("failed") and again["enqueued"] == 0 and again["already_enqueued"] == len(expected)
    settle()
    assert len(sent(gw)) == len(expected) and waiting(gw) == 0
    assert once_each(transmissions(gw.daemons), sent(gw))


# -- expiry ------------------------------------------------------------------------------------


def test_an_expired_blast_is_refused_even_to_complete_it(gateways, copied_registry, make_blast, registry_data,
                                                         approval_root, monkeypatch):
    gw = gateways("sms1")
    text = make_blast("2026-11-949", TEXT, groups=["kepala-pd", "camat"])
    in_registry(copied_registry, text)
    expired = check_registry(copied_registry, approval_root, now=__import__("datetime").datetime.fromisoformat(LATER))
    assert [(f.rule, f.file) for f in expired.errors] == [("S2-EXPIRY", "blasts/2026-11-949.yml")]
    assert "blasts/archive/" in expired.errors[0].fix
    args = module_args(gw, text, registry_data)
    crash_after_renames(args, 4, monkeypatch)  # interrupted before the expiry, 4 files out
    total = len(members(registry_data, groups=("kepala-pd", "camat")))
    assert wait_sent(gw, 4)
    refused = run_module("sms_blast", dict(args, now=LATER))
    assert refused.get("failed") and "the approval expired at 2026-11-27T23:00:00+07:00" in refused["msg"]
    assert "%d of its %d recipients" % (total - 4, total) in refused["msg"], refused["msg"]
    settle()
    assert len(sent(gw)) == 4 and waiting(gw) == 0, "the rest of an expired blast never goes out"
    # blast.yml: the validator stops it first.
    inventory = playbook_inventory(copied_registry.parent / "hosts.yml", {"sms1": gw.hostvars}, approval_root)
    _results, out = run_blast_playbook(inventory, copied_registry, "-e", "registry_today=2026-11-28",
                                       expect_rc=2)
    assert "[S2-EXPIRY]" in out and "move it to blasts/archive/2026-11-949.yml" in out
    settle()
    assert len(sent(gw)) == 4 and once_each(transmissions(gw.daemons), sent(gw))
    assert _run(dict(args, now=AFTER))["enqueued"] == total - 4, "before the expiry it completes"


# -- a rebuilt gateway -------------------------------------------------------------------------


def test_a_rebuilt_gateway_sends_nothing_again(gateways, copied_registry, make_blast, registry_data,
                                               approval_root):
    gw = gateways("sms1")
    inventory = playbook_inventory(copied_registry.parent / "hosts.yml", {"sms1": gw.hostvars}, approval_root)
    camat = members(registry_data, groups=("camat",))
    recorded = in_registry(copied_registry, make_blast("2026-11-950", TEXT))
    results, _out = run_blast_playbook(inventory, copied_registry)
    [first] = results["sms1"]
    assert first["enqueued"] == len(camat) and first["planned"]
    assert wait_sent(gw, len(camat), recorded)
    # A second blast claimed and enqueued, but the gateway dies before its record reaches the
    # control node (here: the record step never runs).
    lurah = members(registry_data, groups=("lurah",))
    unrecorded_text = make_blast("2026-11-951", TEXT, groups=["lurah"])
    unrecorded = in_registry(copied_registry, unrecorded_text)
    claim = run_module("sms_blast_claim", {"state": "claimed", "blast": unrecorded_text, "gateway": "sms1",
                                           "gateways": ["sms1"], "ledger": gw.hostvars["sms_blast__spent_ledger"]})
    assert claim["claim"] == "new" and claim["send"], claim
    direct = run_module("sms_blast", module_args(gw, unrecorded_text, registry_data))
    assert direct["enqueued"] == len(lurah), direct.get("msg")
    assert wait_sent(gw, len(lurah), unrecorded)
    before = dict(sent(gw))
    log_before = transmissions(gw.daemons)
    assert once_each(log_before, before)

    rebuild(gw)
    results, out = run_blast_playbook(inventory, copied_registry, *VALIDATED, expect_rc=2)
    by_id = {r["blast"]["id"]: r for r in results["sms1"]}
    assert by_id[recorded]["restored"] == len(camat) and by_id[recorded]["enqueued"] == 0
    assert by_id[unrecorded].get("failed") and "never came back" in by_id[unrecorded]["msg"]
    assert "it may have gone out already, so it is never sent again" in by_id[unrecorded]["msg"]
    settle()
    assert sent(gw) == {} and waiting(gw) == 0, "the rebuilt gateway sent nothing"
    assert transmissions(gw.daemons) == log_before, "no transmission after the rebuild"
    with sqlite3.connect(str(gw.ledger)) as db:
        rows = db.execute("SELECT blast_id, count(*), count(enqueued_at) FROM enqueued GROUP BY blast_id").fetchall()
    assert rows == [(recorded, len(camat), len(camat))]
    # And again: the restored blast is enqueued already, the other still refused.
    results, _out = run_blast_playbook(inventory, copied_registry, *VALIDATED, expect_rc=2)
    by_id = {r["blast"]["id"]: r for r in results["sms1"]}
    assert by_id[recorded]["already_enqueued"] == len(camat) and not by_id[recorded]["changed"]
    assert by_id[unrecorded].get("failed")
    settle()
    assert sent(gw) == {} and transmissions(gw.daemons) == log_before


# -- two gateways ------------------------------------------------------------------------------


def test_two_gateways_send_each_recipient_exactly_once(tmp_path, gateways, copied_registry, make_blast,
                                                       registry_data, approval_root):
    registry_with_two_gateways(copied_registry)
    sms1, sms2 = gateways("sms1", ("modem1",)), gateways("sms2", ("modem2",))
    inventory = playbook_inventory(tmp_path / "hosts.yml", {"sms1": sms1.hostvars, "sms2": sms2.hostvars},
                                   approval_root)
    camat = members(registry_data, groups=("camat",))
    heads = members(registry_data, groups=("pimpinan",))
    first = in_registry(copied_registry, make_blast("2026-11-952", TEXT))                    # sms1: the first
    second = in_registry(copied_registry, make_blast("2026-11-953", TEXT, groups=["pimpinan"],
                                                     gateway="sms2"))
    results, _out = run_blast_playbook(inventory, copied_registry, "-f", "2")
    assert [r["blast"]["id"] for r in results["sms1"]] == [first]
    assert [r["blast"]["id"] for r in results["sms2"]] == [second]
    assert wait_sent(sms1, len(camat)) and wait_sent(sms2, len(heads))
    settle()
    for blast_id, expected in ((first, camat), (second, heads)):
        out = [n for gw in (sms1, sms2) for n in sent(gw, blast_id)]
        assert sorted(number_of(n) for n in out) == sorted(expected.values()), blast_id
    assert sent(sms2, first) == {} and sent(sms1, second) == {}
    # Again, and with sms2 made the first gateway: the first blast stays sms1's, spent.
    run_blast_playbook(inventory, copied_registry, *VALIDATED)
    sms = copied_registry / "sms.yml"
    text = sms.read_text(encoding="utf-8")
    head, gws = text.split("gateways:\n", 1)
    one, two = gws.split("  - name: sms2\n", 1)
    sms.write_text(head + "gateways:\n  - name: sms2\n" + two.rstrip("\n") + "\n" + one, encoding="utf-8")
    results, out = run_blast_playbook(inventory, copied_registry, expect_rc=2)
    assert "refused on gateway sms2: it was claimed on" in out and "for gateway sms1" in out
    assert "never sent through two gateways" in out
    assert [r["blast"]["id"] for r in results["sms2"]] == [second]
    settle()
    for blast_id, expected in ((first, camat), (second, heads)):
        out = [n for gw in (sms1, sms2) for n in sent(gw, blast_id)]
        assert len(out) == len(expected) == len(set(number_of(n) for n in out)), blast_id
    logs = transmissions(sms1.daemons)
    logs.update(transmissions(sms2.daemons))
    assert once_each(logs, list(sent(sms1)) + list(sent(sms2)))
