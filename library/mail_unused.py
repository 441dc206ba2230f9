#!/usr/bin/python
"""Ansible module: report accounts unused for a month and queue their warnings (E10)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_unused
short_description: Report mail accounts unused for a month and queue their warnings (E10)
description:
  - Reads the last successful bind of every account (C(pwdLastSuccess), kept by slapd's
    lastbind; an account that never bound counts from its creation) with one paged search.
  - Returns the active accounts unused for O(days) or more, oldest first.
  - Queues one warning per account and period in O(spool_dir), to the account with the
    agency's mail admin in copy, as RFC 5322 messages for the mail server to deliver
    (role mail_server's notice-deliver; playbooks/mail.yml hands them over).
  - A warning queued for the period is marked in the spool's C(issued/) and not queued again,
    even when its file was removed; a queued one is never lost. Its Message-ID is on the main
    domain and the same if it is ever written again (C(<city-notice.unused.<period>.<uid>@<domain>>)),
    so the mail server delivers it to a mailbox once.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ldap_connection
  - reviewed_plan
options:
  registry_dir:
    description: Directory of the registry (for the domain, the policy and the agencies' admins).
    type: path
    required: true
  base:
    description: Base of the accounts; default C(ou=accounts) under the suffix of the main domain.
    type: str
  days:
    description: Days without use that trigger a warning; default C(policy.mail.unused_warning_days).
    type: int
  spool_dir:
    description: Directory the warning messages are queued in.
    type: path
    required: true
  sender:
    description: From address of the warnings; default the communication agency's account.
    type: str
  today:
    description: Date to evaluate at, C(YYYY-MM-DD) (tests, previews); default now.
    type: str
requirements:
  - ldap3
  - PyYAML
notes:
  - Supports check mode, which reports the unused accounts and the warnings it would queue and writes nothing.
"""

EXAMPLES = r"""
- name: Report unused accounts and queue their warnings
  mail_unused:
    registry_dir: "{{ project_root }}/inventory/registry"
    uri: ldap://127.0.0.1:13389
    bind_dn: cn=toolkit,ou=system,dc=bekasikota,dc=go,dc=id
    bind_password: "{{ vault_ldap_toolkit_password }}"
    spool_dir: /var/spool/city-warnings
"""

RETURN = r"""
unused:
  description: The accounts unused for the given days, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"address": "budi.santoso@bekasikota.go.id", "agency": "DISKOMINFOSTANDI", "last_used": "2026-09-30"}]
queued:
  description: The warning messages newly queued by this run (in check mode, that it would queue).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.city.mail.service import MailUnused


def main():
    MailUnused.main()


if __name__ == "__main__":
    main()
