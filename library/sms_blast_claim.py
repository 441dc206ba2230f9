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
  - City infrastructure toolkit maintainers (!UNKNOWN)
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
  registry_dir:
    description:
      - The registry; its C(sms.yml) and C(city.yml) give the gateway whose C(host) is one of O(hosts), with its
        modems (their rates default to C(policy.sms.rate_per_modem_per_minute)), the originators and
        C(policy.sms.max_segments), returned as RV(settings) for the module C(sms_blast) on that gateway.
      - Either this or O(gateway) is required.
    type: path
  hosts:
    description: The inventory's names of the gateway host (long and short); with O(registry_dir).
    type: list
    elements: str
    default: []
  gateway:
    description: Without O(registry_dir) - the name (C(sms.yml) C(gateways[].name)) of the gateway this host is.
    type: str
  gateways:
    description: Without O(registry_dir) - the names of every gateway of C(sms.yml), in its order; a blast without
      a C(gateway) field goes out through the first.
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
    description: With O(state=recorded) - the result of C(sms_blast) for this blast; only its C(planned), C(pairs),
      C(ledger_id), C(planned_at), C(scheduled) and C(failed) are kept.
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
settings:
  description: The gateway this host is, every gateway's name, its modems, the originators and the length limit.
  returned: always
  type: dict
  sample: {"gateway": "sms1", "gateways": ["sms1"], "modems": [{"phone_id": "modem1", "rate_per_minute": 10}],
           "originators": ["197110171998031002"], "max_segments": 3}
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

from ansible.module_utils.city.sms.service import SmsBlastClaim


def main():
    SmsBlastClaim.main()


if __name__ == "__main__":
    main()
