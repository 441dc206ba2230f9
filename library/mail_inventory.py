#!/usr/bin/python
"""Ansible module: read every mail account's state in the directory, changing nothing."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_inventory
short_description: Read every mail account of the directory with its last use and lock, read-only
description:
  - Reads every account entry (C(objectClass=inetOrgPerson), one level under O(base)) with one
    paged search, and returns each with its address, uid, agency (C(ou)), when it was last used
    and whether it is locked (docs/directory-design.md).
  - Last use is slapd's C(pwdLastSuccess) (the last successful bind, C(olcLastBind)), else the
    entry's C(createTimestamp) for an account that never logged in; the same reading as
    M(mail_unused), for the inventory report of E10 (C(playbooks/report.yml)).
  - Never changes anything, in check mode or not; it binds as an account that may read the C(pwd*)
    attributes, the read-only C(cn=reader) (C(playbooks/report.yml)) or the toolkit's.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ldap_connection
options:
  base:
    description: Where the accounts are, C(ou=accounts,<suffix>).
    type: str
    required: true
  timeout:
    description: Seconds to wait for the server's answers.
    type: int
    default: 10
requirements:
  - ldap3
notes:
  - Supports check mode; the module never changes anything, so the result is the same.
  - A search the server cuts short (a size or time limit) fails the module rather than return
    part of the accounts.
"""

EXAMPLES = r"""
- name: Read every account's state for the reports
  mail_inventory:
    uri: ldap://127.0.0.1:13389
    start_tls: true
    ca_file: build/lab-tls/citylab-ldap1-ldap.crt
    bind_dn: cn=toolkit,ou=system,dc=bekasikota,dc=go,dc=id
    bind_password: "{{ vault_ldap_toolkit_password }}"
    base: ou=accounts,dc=bekasikota,dc=go,dc=id
  delegate_to: localhost
  register: mail_state
"""

RETURN = r"""
accounts:
  description: Every account entry under O(base), sorted by address.
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The mail address, lowercase.
      type: str
    uid:
      description: The entry's uid (the local part).
      type: str
    ou:
      description: The agency code of the account.
      type: str
    last_used:
      description: Last successful bind, else the creation time, ISO 8601 UTC; null when neither is readable.
      type: str
    locked:
      description: Whether the entry carries C(pwdAccountLockedTime) (deactivated, or locked by failed logins).
      type: bool
  sample:
    - {"address": "dinkes@bekasikota.go.id", "uid": "dinkes", "ou": "DINKES",
       "last_used": "2026-11-20T07:41:09+00:00", "locked": false}
count:
  description: Number of accounts read.
  returned: success
  type: int
base:
  description: The O(base) that was read.
  returned: success
  type: str
read_at:
  description: When the directory was read, ISO 8601 UTC (the moment unused days count back from).
  returned: success
  type: str
  sample: "2026-11-23T18:30:00+00:00"
"""

from ansible.module_utils.city.mail.service import MailInventory


def main():
    MailInventory.main()


if __name__ == "__main__":
    main()
