#!/usr/bin/python
"""Ansible module: the control node's ledger of blasts, so each goes out once, through one gateway."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: sms_blast_claim
short_description: Claim a blast for one gateway before it is sent, record what it enqueued after
description:
  - Runs on the control node (C(delegate_to localhost)), around every C(sms_blast) of C(playbooks/blast.yml).
    Its SQLite ledger O(ledger) lives in the state directory beside the audit trail, so the record of what
    was enqueued outlives any gateway (docs/sms-design.md, "Spent once, wherever sent").
  - "O(state=claimed), before C(sms_blast): the gateway that sends the blast is its C(gateway) field, else the
    first of O(gateways). On any other gateway the result says C(send=false) and nothing is read or written.
    On that gateway the blast (its id and the SHA-256 of its signature) is claimed in one transaction; refused
    when the ledger has it claimed for another gateway or with another signature. A blast claimed in an
    earlier run returns C(restore), the option C(sms_blast) needs to restore it into a rebuilt gateway's
    ledger or to refuse it when its record never came back."
  - "O(state=recorded), after C(sms_blast): O(outcome) (the C(sms_blast) result) gives the pairs enqueued
    (user id, modem, file, times; no text) and the gateway ledger's id, stored in one transaction. A claim
    made by this run (O(claim_token)) whose gateway planned nothing (not due yet, or refused before planning)
    is released."
  - Every write is one C(BEGIN IMMEDIATE) transaction, so the forks of several gateways serialise.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers
options:
  state:
    description: C(claimed) before sending, C(recorded) after.
    type: str
    choices: [claimed, recorded]
    required: true
  blast:
    description: The text of the blast file (YAML), the same text C(sms_blast) gets.
    type: str
    required: true
  gateway:
    description: The name (C(sms.yml) C(gateways[].name)) of the gateway this host is.
    type: str
    required: true
  gateways:
    description: The names of every gateway of C(sms.yml), in its order; a blast without a C(gateway) field goes
      out through the first.
    type: list
    elements: str
    default: []
  ledger:
    description: The control node's ledger (SQLite); created, with its directory, if missing. The playbook passes
      C($CITY_STATE_DIR/sms-blasts.sqlite3), else C(<project>/state/sms-blasts.sqlite3).
    type: path
    required: true
  claim_token:
    description: With O(state=recorded) - the C(claim_token) of the claim result, when the claim was made by this run.
    type: str
  outcome:
    description: With O(state=recorded) - the result of C(sms_blast) for this blast (its C(planned), C(pairs),
      C(ledger_id), C(planned_at), C(scheduled), C(failed)).
    type: dict
    default: {}
requirements:
  - PyYAML on the control node
notes:
  - Supports check mode - it says what it would claim, restore or refuse and writes nothing.
"""

EXAMPLES = r"""
- name: Claim the blast for this gateway
  sms_blast_claim:
    state: claimed
    blast: "{{ blast_text }}"
    gateway: sms1
    gateways: [sms1, sms2]
    ledger: "{{ playbook_dir }}/../state/sms-blasts.sqlite3"
  delegate_to: localhost
  register: claim

- name: Record what the gateway enqueued
  sms_blast_claim:
    state: recorded
    blast: "{{ blast_text }}"
    gateway: sms1
    ledger: "{{ playbook_dir }}/../state/sms-blasts.sqlite3"
    claim_token: "{{ claim.claim_token if claim.claim == 'new' else omit }}"
    outcome: "{{ sms_blast_run }}"
  delegate_to: localhost
"""

RETURN = r"""
blast_id:
  description: The blast's id.
  returned: always
  type: str
send:
  description: Whether this gateway sends the blast (O(state=claimed)).
  returned: when O(state=claimed)
  type: bool
designated:
  description: The gateway the blast goes out through.
  returned: when O(state=claimed)
  type: str
claim:
  description: C(new) (claimed by this run, or would be in check mode), C(existing) (claimed before) or
    C(skipped) (another gateway's blast).
  returned: when O(state=claimed)
  type: str
claim_token:
  description: The claim's token (given back with O(state=recorded)).
  returned: when claimed
  type: str
claimed_at:
  description: When the blast was first claimed (UTC).
  returned: when claimed
  type: str
restore:
  description: For a blast claimed before this run, what C(sms_blast) gets as its C(restore) option - C(claimed_at),
    C(ledger_id) (the gateway ledger known then), C(recorded_at), C(planned_at) and the recorded C(pairs).
  returned: when O(state=claimed)
  type: dict
ledger:
  description: Path of the control node's ledger.
  returned: always
  type: str
"""

import sqlite3

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible.module_utils.city.sms import blast as core
    from ansible.module_utils.city.sms.spent import SpentError, SpentLedger
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["claimed", "recorded"], required=True),
            blast=dict(type="str", required=True),
            gateway=dict(type="str", required=True),
            gateways=dict(type="list", elements="str", default=[]),
            ledger=dict(type="path", required=True),
            claim_token=dict(type="str", no_log=False),
            outcome=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(IMPORT_ERROR))
    p = module.params
    try:
        blast = core.parse(p["blast"])
    except core.BlastError as exc:
        module.fail_json(msg=str(exc), ledger=p["ledger"])
    bid = str(blast.get("id"))
    sig = core.signature_sha256(blast)
    out = {"changed": False, "blast_id": bid, "ledger": p["ledger"]}
    try:
        if p["state"] == "claimed":
            designated = str(blast.get("gateway") or (p["gateways"][0] if p["gateways"] else ""))
            out.update(designated=designated)
            if not designated:
                module.fail_json(msg="blast %s: sms.yml has no gateway to send it through" % bid, **out)
            if designated != p["gateway"]:
                out.update(send=False, claim="skipped", restore=None,
                           msg="blast %s goes out through gateway %s, not %s" % (bid, designated,
                                                                                  p["gateway"]))
                module.exit_json(**out)
            with SpentLedger(p["ledger"], readonly=module.check_mode) as spent:
                claimed = spent.claim(bid, sig, p["gateway"])
            out.update(claimed, send=True, changed=claimed["claim"] == "new")
        else:
            if module.check_mode:
                out["msg"] = "blast %s: nothing recorded in check mode" % bid
                module.exit_json(**out)
            with SpentLedger(p["ledger"]) as spent:
                changed, message = spent.record(bid, sig, p["gateway"], p["outcome"] or {},
                                                claim_token=p["claim_token"])
            out.update(changed=changed, msg=message)
    except SpentError as exc:
        module.fail_json(msg=str(exc), **out)
    except (OSError, sqlite3.Error) as exc:  # fail closed: nothing is sent without a claim
        module.fail_json(msg="blast %s: the control node's ledger %s failed: %s" % (
            bid, p["ledger"], exc), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
