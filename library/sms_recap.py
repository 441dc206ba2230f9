#!/usr/bin/python
"""Ansible module: the SMS Center's recap of blasts and incoming messages (S7)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: sms_recap
short_description: Recap of the SMS Center's blasts and incoming messages for the secretariat (S7)
description:
  - Runs on the SMS gateway host and reads, never writes, what the SMS Center keeps there
    (docs/sms-design.md).
  - Per blast in the ledger O(ledger), how many recipients it has and how many of their
    outbox files gammu-smsd sent (in C(sent/)), failed (in C(error/)) or still holds (in
    C(outbox/), or not enqueued yet), searched in every modem's folders of O(spool_dir);
    a file enqueued but in no folder counts as missing.
  - Per blast, the users who reported non-receipt (keyword of kind C(non-receipt) in
    O(incoming)) with their agency and whether the center did send them the blast, and the
    replies.
  - The incoming messages counted by kind, by keyword and by agency, unknown senders apart,
    and the non-receipt reports that name no blast of the ledger.
  - Returns the recap as data and as Markdown for the report.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
options:
  ledger:
    description: The blast ledger written by M(sms_blast). A missing file is an empty ledger.
    type: path
    default: /var/lib/sms-center/ledger.sqlite3
  incoming:
    description:
      - The received messages stored by the receive router. A missing file means none.
      - The router's fallback file C(incoming-fallback.jsonl) is looked for next to it.
    type: path
    default: /var/lib/sms-center/incoming.sqlite3
  spool_dir:
    description:
      - The modems' spool, C(<spool_dir>/<phone_id>/{outbox,sent,error}/); C(inbox/) and
        C(rescue/) for the received messages not stored yet (RV(recap.kept_aside)).
    type: path
    default: /var/spool/sms-center
  phonebook:
    description: The phonebook (for the agency of the recipients of failed messages).
    type: path
    default: /var/lib/sms-center/phonebook.json
  since:
    description:
      - Only the blasts planned and the messages received on or after this date, C(YYYY-MM-DD).
      - Default everything.
    type: str
  blasts:
    description: Only these blasts (ids C(YYYY-MM-NNN)); default every blast.
    type: list
    elements: str
notes:
  - Supports check mode; the module never changes anything, so the result is the same.
  - Opening a database read-only may leave SQLite's C(-wal) and C(-shm) files next to it;
    run as root, SQLite gives them the database's owner.
"""

EXAMPLES = r"""
- name: Recap of November's blasts and messages
  sms_recap:
    since: "2026-11-01"
  register: sms_recap_result

- name: Write the report on the controller
  ansible.builtin.copy:
    content: "{{ sms_recap_result.markdown }}"
    dest: reports/sms-recap.md
    mode: "0640"
  delegate_to: localhost
"""

RETURN = r"""
recap:
  description: The recap as data.
  returned: always
  type: dict
  contains:
    generated_at:
      description: When the recap was made (UTC).
      type: str
    since:
      description: The O(since) date, if any.
      type: str
    blasts:
      description: One entry per blast, oldest first.
      type: list
      elements: dict
      sample:
        - blast_id: 2026-11-001
          planned_at: "2026-11-02T08:00:00Z"
          recipients: 3
          sent: 1
          failed: 1
          pending: 1
          missing: 0
          failed_recipients: [{"user_id": "tuti.alawiyah", "agency": "SETDA", "phone_id": "modem1"}]
          non_receipt: [{"user_id": "yusuf.hermawan", "agency": "SETDA", "reports": 1,
                         "last_received_at": "2026-11-02T09:12:40Z", "delivery": "sent"}]
          replies: []
    incoming:
      description: The received messages, by kind, keyword and agency; unknown senders apart.
      type: dict
      sample:
        total: 3
        by_kind: {"non-receipt": 1, "question": 1, "unknown-sender": 1}
        by_keyword: {"TANYA": 2, "TIDAKTERIMA": 1}
        by_agency: {"SETDA": {"total": 2, "by_kind": {"non-receipt": 1, "question": 1}}}
        unknown_senders: {"messages": 1, "numbers": {"+6281299990000": 1}}
    non_receipt_unmatched:
      description: Non-receipt reports of registered users that name no blast of the ledger.
      type: list
      elements: dict
    fallback_pending:
      description: Messages the router could only keep in its fallback file (not counted above).
      type: int
    kept_aside:
      description:
        - What the receive router could not store at once. C(stored_late) (with
          C(stored_late_by_way) C(sweep), C(fallback), C(rescue)) counts the messages received
          since O(since) that a later run stored; C(waiting) (with C(waiting_by_place)
          C(inbox), C(rescue), C(fallback)) those still in their files and not in the
          database, which the sweep stores.
      type: dict
      sample:
        stored_late: 3
        stored_late_by_way: {"sweep": 1, "fallback": 1, "rescue": 1}
        waiting: 1
        waiting_by_place: {"inbox": 1, "rescue": 0, "fallback": 0}
    sources:
      description: Which of the ledger, the incoming database and the spool were found.
      type: dict
markdown:
  description: The recap as a Markdown document.
  returned: always
  type: str
"""

from ansible.module_utils.city.sms.service import SmsRecap


def main():
    SmsRecap.main()


if __name__ == "__main__":
    main()
