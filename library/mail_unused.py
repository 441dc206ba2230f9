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
    agency's mail admin in copy, as RFC 5322 messages for the mail server to deliver.
    A warning already queued for the period is not queued again; a queued one is never lost.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers
extends_documentation_fragment:
  - ldap_connection
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

import datetime
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.city.mail import connection

try:
    from ansible.module_utils.city.registry.loader import load_file
    from ansible.module_utils.city.mail.desired import suffix_of
    from ansible.module_utils.city.mail.directory import Directory, DirectoryError
    from ansible.module_utils.city.mail.unused import read_usage, spool_warnings, unused
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = exc


def admins_by_agency(registry_dir):
    """Agency code -> the mail address of its admin (their own account, else the agency's)."""
    docs = {n: load_file(os.path.join(registry_dir, n + ".yml")).data for n in ("agencies", "mail")}
    accounts = [a for a in docs["mail"].get("accounts") or [] if a.get("status") == "active"]
    by_holder = {a.get("holder"): a["address"] for a in accounts if a.get("kind") == "personal"}
    by_agency = {a.get("owner"): a["address"] for a in accounts if a.get("kind") == "agency"}
    out = {}
    for agency in docs["agencies"].get("agencies") or []:
        address = by_holder.get(agency.get("mail_admin")) or by_agency.get(agency.get("code"))
        if address:
            out[agency["code"]] = address
    return out


def main():
    module = AnsibleModule(
        argument_spec=connection.argument_spec(
            registry_dir=dict(type="path", required=True), base=dict(type="str"),
            days=dict(type="int"), spool_dir=dict(type="path", required=True), sender=dict(type="str"),
            today=dict(type="str")),
        supports_check_mode=True)
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("ldap3 and PyYAML"), exception=str(IMPORT_ERROR))
    p = module.params
    city = load_file(os.path.join(p["registry_dir"], "city.yml")).data
    domain = load_file(os.path.join(p["registry_dir"], "domain.yml")).data["domain"]["name"]
    days = p["days"] or int(city["policy"]["mail"]["unused_warning_days"])
    now = datetime.datetime.now(datetime.timezone.utc)
    if p["today"]:
        now = datetime.datetime.combine(datetime.date.fromisoformat(p["today"]), datetime.time(12),
                                        tzinfo=datetime.timezone.utc)
    admins = admins_by_agency(p["registry_dir"])
    sender = p["sender"] or admins.get(city["roles"]["communication_agency"], "postmaster@" + domain)
    directory = connection.directory_from(Directory, p)
    try:
        rows = unused(read_usage(directory, p["base"] or "ou=accounts," + suffix_of(domain)), now, days)
    except DirectoryError as exc:
        module.fail_json(msg=str(exc))
    try:
        queued = spool_warnings(rows, p["spool_dir"], now.strftime("%Y-%m"), sender, admins, days, now,
                                dry_run=module.check_mode)
    except ValueError as exc:  # a uid that cannot name a file in the spool
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(queued), queued=queued, days=days, unused=[
        {"address": r["address"], "agency": r["ou"], "last_used": r["last_used"].strftime("%Y-%m-%d")}
        for r in rows])


if __name__ == "__main__":
    main()
