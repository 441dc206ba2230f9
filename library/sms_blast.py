#!/usr/bin/python
"""Ansible module: enqueue an approved SMS blast on the gateway, once per recipient."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: sms_blast
short_description: Enqueue a blast approved by the Ketua, exactly once per recipient
description:
  - Runs on the SMS gateway host. Reads one blast file of the registry (C(blasts/<id>.yml),
    given as its text), checks it and writes one gammu-smsd outbox file per recipient,
    spread over the modems in proportion to their rates (docs/sms-design.md).
  - "Refused, with nothing enqueued: a blast whose Ketua's signature (C(ssh-keygen -Y sign
    -n sms-blast) over its canonical form) does not verify against the gateway's own
    O(allowed_signers) file (S2), or approved by someone who is not a principal of it; when
    that file is missing, not a regular file, or (the module running as root) not owned by
    root or writable by its group or others; whose approval has no C(expires) or expired
    (also when it would complete an interrupted run: the message says how many recipients
    remain unsent); from an originator not in O(originators) (S1); of a kind outside S3;
    naming an unknown group, agency or person, or one without a registered user (S5); whose
    text needs more than O(max_segments) SMS segments; whose id is in the ledger with another
    signature."
  - "Spent once, wherever sent: O(restore) is the control node's record of a blast it claimed
    for this gateway before this run (module C(sms_blast_claim)). When the ledger does not hold
    the blast (a rebuilt gateway), its recorded recipients are inserted as already enqueued and
    nothing is written; when no record came back and this ledger is not the one the control
    node knew when it claimed the blast, the blast is refused (it may have gone out already)."
  - "Recipients: the union of the blast's groups, agencies and people, resolved against the
    registered users of the O(phonebook), one message per user and per phone number. The
    set is fixed in the ledger the first time the blast is planned: a re-run completes it,
    it never adds people registered later."
  - "Exactly once: the pairs (blast, recipient) are planned in the O(ledger) (SQLite, one
    transaction), the files are written to C(tmp/) and renamed into C(outbox/), and the
    pairs are marked enqueued (one transaction). A run after a crash, a killed daemon or a
    re-run of the playbook writes only the files that are in none of C(outbox/), C(sent/)
    and C(error/)."
  - A blast whose C(send_after) is in the future is not enqueued (the result says
    C(scheduled)); run the playbook again after that time.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - reviewed_plan
options:
  blast:
    description:
      - The text of the blast file (YAML), e.g. from C(lookup('city_registry', 'blasts/<id>.yml', registry_dir=...,
        raw=true)).
      - It is parsed as the registry validator parses it (dates stay text), so the signed
        canonical form is the same.
    type: str
    required: true
  allowed_signers:
    description:
      - The gateway's trust anchor - an C(ssh-keygen) C(allowed_signers) file with the current Ketua's keys
        (principal the Ketua's person id, C(namespaces="sms-blast")), installed root-owned by the role
        C(sms_gateway) from the inventory's pin and the registry's rotation statements.
      - The blast is verified with C(ssh-keygen -Y verify -f <this file> -I <approval.by> -n sms-blast);
        the registry's keys play no part here.
    type: path
    default: /etc/sms-center/allowed_signers
  restore:
    description:
      - The control node's record of the blast, given when it had claimed the blast for this gateway
        before this run (the result's C(restore) of C(sms_blast_claim)); omitted for a blast claimed now.
    type: dict
    suboptions:
      claimed_at:
        description: When the control node claimed the blast (UTC).
        type: str
      ledger_id:
        description: The id of this gateway's ledger as the control node knew it when it claimed the blast.
        type: str
      recorded_at:
        description: When the recorded pairs came back to the control node.
        type: str
      planned_at:
        description: When the gateway planned the blast (UTC), as recorded.
        type: str
      pairs:
        description: The pairs recorded on the control node, each already enqueued.
        type: list
        elements: dict
        default: []
        suboptions:
          user_id:
            description: The recipient's user id.
            type: str
            required: true
          phone_id:
            description: The modem it went through.
            type: str
            required: true
          file:
            description: The outbox file name (it holds the number).
            type: str
            required: true
          planned_at:
            description: When it was planned.
            type: str
          enqueued_at:
            description: When it was enqueued.
            type: str
  originators:
    description: Person ids allowed to originate a blast (C(sms.yml) C(originators[].person), S1).
    type: list
    elements: str
    required: true
  phonebook:
    description: The phonebook written by the role C(sms_gateway) (registered users, groups, agencies).
    type: path
    default: /var/lib/sms-center/phonebook.json
  spool_dir:
    description: The spool with one C(<phone_id>/{outbox,sent,error}/) tree per modem; C(tmp/) is created beside C(outbox/).
    type: path
    default: /var/spool/sms-center
  ledger:
    description: The SQLite ledger of enqueued pairs; created, with its directory, if missing.
    type: path
    default: /var/lib/sms-center/ledger.sqlite3
  modems:
    description: The modems of this gateway; recipients are spread in proportion to the rates.
    type: list
    elements: dict
    required: true
    suboptions:
      phone_id:
        description: The modem's gammu-smsd PhoneID (its spool directory's name).
        type: str
        required: true
      rate_per_minute:
        description:
          - Messages (outbox files) the modem sends per minute (S8); the role C(sms_gateway) paces
            gammu-smsd to it, one file per main loop whatever its number of segments.
        type: int
        default: 10
  max_segments:
    description: Largest number of SMS segments a blast's text may need (C(city.yml) C(policy.sms.max_segments)).
    type: int
    default: 3
  now:
    description:
      - The current time (ISO 8601; without an offset it is UTC), for tests; default the clock.
      - Decides whether C(send_after) has passed and C(approval.expires) has not, and is the time recorded in the
        ledger and in the file names.
    type: str
requirements:
  - PyYAML on the gateway (Debian C(python3-yaml))
  - ssh-keygen on the gateway (Debian C(openssh-client)), to verify the signature
notes:
  - Supports check mode (everything is computed, nothing is written - the recipients, the
    segments, the encoding, the characters that force UCS-2, the time at the modems' rates)
    and diff mode (the recipients with masked numbers and the per-modem counts).
  - Outbox files are UTF-16 with a byte-order mark, so gammu-smsd reads any text whatever its
    locale; their names are at most 99 bytes (gammu-smsd crashes on longer ones).
  - The files get the owner of C(outbox/) (the daemon's user) when the module runs as root.
"""

EXAMPLES = r"""
- name: Enqueue blast 2026-12-004 on the gateway
  sms_blast:
    blast: "{{ lookup('city_registry', 'blasts/2026-12-004.yml', registry_dir=registry_dir, raw=true) }}"
    originators: "{{ sms.originators | map(attribute='person') | list }}"
    modems:
      - {phone_id: modem1, rate_per_minute: 10}
      - {phone_id: modem2, rate_per_minute: 8}
    max_segments: 3

- name: Show the recipients, segments and time without enqueueing
  sms_blast:
    blast: "{{ lookup('city_registry', 'blasts/2026-12-004.yml', registry_dir=registry_dir, raw=true) }}"
    allowed_signers: /etc/sms-center/allowed_signers
    originators: "{{ sms.originators | map(attribute='person') | list }}"
    modems: [{phone_id: modem1}]
  check_mode: true
  diff: true
"""

RETURN = r"""
blast:
  description: Id, kind and originator of the blast.
  returned: always
  type: dict
  sample: {"id": "2026-11-001", "kind": "invitation", "originator": "197110171998031002"}
recipients:
  description: Every recipient of the blast (masked number) and the modem that sends to it.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "yusuf.hermawan", "phone": "+62815****146", "phone_id": "modem1"}]
recipient_count:
  description: Number of recipients.
  returned: success
  type: int
segments:
  description: SMS segments per recipient.
  returned: when the blast has a text
  type: int
  sample: 2
encoding:
  description: C(GSM-7) or C(UCS-2).
  returned: when the blast has a text
  type: str
units:
  description: Septets (GSM-7) or UTF-16 code units (UCS-2) of the text.
  returned: when the blast has a text
  type: int
non_gsm_chars:
  description: The characters that force UCS-2, with their index in the text.
  returned: when the blast has a text
  type: list
  elements: dict
  sample: [{"index": 18, "char": "\u2013", "codepoint": "U+2013"}]
total_sms:
  description: Segments over all recipients.
  returned: success
  type: int
per_modem:
  description: Recipients (messages), SMS segments, rate (messages a minute) and minutes of each modem.
  returned: success
  type: dict
  sample: {"modem1": {"recipients": 22, "sms": 44, "rate_per_minute": 10, "minutes": 2.2}}
estimated_minutes:
  description: Minutes the modems need for the whole blast, the slowest modem's share of messages at
    its rate (about recipients / sum of the rates).
  returned: success
  type: float
scheduled:
  description: True when C(send_after) is still in the future; nothing is enqueued then.
  returned: success
  type: bool
send_after:
  description: The blast's C(send_after), when it has one.
  returned: when set
  type: str
planned_at:
  description: When the ledger planned the blast (UTC); null while scheduled.
  returned: success
  type: str
enqueued:
  description: Files written to the outboxes by this run (in check mode, that it would write).
  returned: success
  type: int
recovered:
  description: Pairs left unmarked by an interrupted run whose file was found in the spool (marked now, not written again).
  returned: success
  type: int
restored:
  description: Pairs inserted from the control node's record into a ledger that had lost the blast (nothing written).
  returned: success
  type: int
planned:
  description: Whether the ledger holds the blast's plan after this run (false - nothing of it was planned here).
  returned: always
  type: bool
ledger_id:
  description: The id of this gateway's ledger (null while there is none).
  returned: success
  type: str
signature_sha256:
  description: SHA-256 of the blast's armoured signature, as both ledgers name the approval.
  returned: success
  type: str
expires:
  description: The approval's C(expires).
  returned: when set
  type: str
pairs:
  description: Every pair of the blast as the ledger holds it after this run, for the control node's record.
  returned: when not in check mode and not scheduled
  type: list
  elements: dict
  sample:
    - user_id: yusuf.hermawan
      phone_id: modem1
      file: OUTC20261123_010000_00_+628153774146_b2026-11-001-uyusuf.hermawan.txt
      planned_at: "2026-11-23T01:00:00+00:00"
      enqueued_at: "2026-11-23T01:00:00+00:00"
already_enqueued:
  description: Pairs the ledger had marked enqueued before this run.
  returned: success
  type: int
files:
  description: Names of the outbox files written by this run (in check mode, that it would write).
  returned: success
  type: list
  elements: str
notices:
  description: Modems missing (check mode) or no longer configured (their pending recipients moved to
    another modem); each is also a warning of the task.
  returned: success
  type: list
  elements: str
ledger:
  description: Path of the ledger.
  returned: always
  type: str
timing:
  description: Seconds spent checking, planning, writing and marking, measured inside the module.
  returned: when not scheduled
  type: dict
  sample: {"check": 0.02, "plan": 0.01, "write": 0.3, "mark": 0.01}
"""

from ansible.module_utils.city.sms.service import SmsBlast


def main():
    SmsBlast.main()


if __name__ == "__main__":
    main()
