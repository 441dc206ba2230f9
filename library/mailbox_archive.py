#!/usr/bin/python
"""Ansible module: archive the mailboxes of accounts to delete, or remove them (E9)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mailbox_archive
short_description: Archive the mailboxes of mail accounts to delete, or remove them once archived (E9)
description:
  - Runs on the mail server (role mail_server), where each account's mailbox is its home
    C(<mail_root>/<entryUUID>).
  - With O(state=archived), writes C(<uid>-<entryUUID>.mailbox.tar.gz) and its C(.sha256) in
    O(archive_dir) for every account whose archive is missing or does not hold its whole
    mailbox, and reads it back (the hash, then every file of the mailbox found in it with the
    same content). An account without a mailbox gets an empty archive.
  - With O(state=absent), removes each mailbox whose archive verifies against it; one that does
    not (mail arrived after the archive, a damaged archive) is kept and the module fails.
  - The accounts are the deletes of mail_accounts' plan (its C(operations[].mailbox));
    mail_accounts with C(mailbox_archive_dir) deletes no entry whose mailbox archive does not
    verify. playbooks/mail.yml runs the three in order.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - reviewed_plan
options:
  mail_root:
    description: Directory of the mailboxes (role mail_server's C(mail_server__mail_root)).
    type: path
    required: true
  archive_dir:
    description: Directory the archives are written to on the mail server (mode 0700).
    type: path
    required: true
  accounts:
    description: The accounts, each C(uid) (the local part) and C(uuid) (the entry's entryUUID).
    type: list
    elements: dict
    required: true
  state:
    description: C(archived) to archive, C(absent) to remove the archived mailboxes.
    type: str
    choices: [archived, absent]
    default: archived
notes:
  - Supports check mode, which names the mailboxes it would archive or remove and writes nothing.
"""

EXAMPLES = r"""
- name: Archive the mailboxes of the accounts to delete
  mailbox_archive:
    mail_root: /var/lib/city-mail
    archive_dir: /var/backups/city-mail
    accounts: "{{ mail_plan.operations | selectattr('action', 'eq', 'delete') | map(attribute='mailbox') | list }}"
"""

RETURN = r"""
archives:
  description: The archives written by this run.
  returned: when an archive was written
  type: list
  elements: dict
  sample: [{"uid": "budi.santoso", "uuid": "5f0c...", "archive": "/var/backups/city-mail/budi.santoso-5f0c....mailbox.tar.gz",
            "sha256": "9a1f...", "files": 14, "messages": 11}]
archive_files:
  description: The archive of every account given, written now or before (what to fetch).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.city.mail.service import MailboxArchive


def main():
    MailboxArchive.main()


if __name__ == "__main__":
    main()
