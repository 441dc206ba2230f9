#!/usr/bin/python
"""Ansible module: apply the mail accounts of the registry to the directory in one call."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_accounts
short_description: Apply the registry's mail accounts to OpenLDAP in bulk
description:
  - Reads every account under O(base) with one paged search, plans the operations and
    applies them over a few connections at once, one thread each (O(window)).
  - "Lifecycle (docs/directory-design.md): C(active) accounts exist with the declared
    attributes (changed attributes are replaced, the entry is never recreated);
    C(deactivated) ones are locked by ppolicy (a bind fails, mail lookups with the
    documented filter no longer find them) and nothing is deleted; C(deleted) ones are
    exported to an LDIF archive with a SHA-256 checksum, verified, and only then removed;
    reactivation removes the lock and restores the account as it was."
  - New accounts and password resets (E5, once per ticket) get a random password meeting
    E6; the server hashes it (argon2) and ppolicy makes the holder change it at first
    login. Passwords are never printed or logged. Before any is set they are written into
    one age encrypted hand-over file per recipient person and run,
    C(<handover_dir>/<person id>/<run>.age), encrypted to that person's public keys only
    (people.yml C(handover_keys)). The recipient is the one person P17 Pasal 35 allows
    (E6) - the holder of a position or personal account, the agency's e-mail officer
    (agencies.yml C(mail_admin), E4) for its agency and event accounts. No shared password
    opens them, so neither another agency's admin nor the toolkit's operators can read them.
  - "The person opens the file with the private key, e.g. C(age -d -i ~/.ssh/id_ed25519 FILE)."
  - An account whose recipient has no usable key stops the run before anything is written
    or applied (the validation's rule C(E6-HANDOVER-KEY) reports it first).
  - Hand-over files and archives are 0600 in 0700 directories, whatever the umask, each
    synced to disk before the directory is changed.
  - A safety threshold refuses to deactivate or delete more than O(max_change_ratio) of
    the accounts in one run unless O(force) is set.
  - Entries under O(base) that the registry does not list are left alone.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ldap_connection
  - reviewed_plan
options:
  registry_dir:
    description: Directory of the registry (C(mail.yml), C(agencies.yml), C(people.yml), C(domain.yml)).
    type: path
    required: true
  base:
    description: Base of the accounts; default C(ou=accounts) under the suffix of the main domain.
    type: str
  handover_dir:
    description:
      - Where the encrypted hand-over files of new credentials are written, one directory per
        recipient person.
      - A check-mode plan writes nothing there and needs no key (C(make plan-readonly)).
    type: path
    required: true
  archive_dir:
    description: Where the LDIF archives of deleted accounts are written (E9).
    type: path
    required: true
  mailbox_archive_dir:
    description:
      - Where the archives of the mailboxes of deleted accounts are (E9; module mailbox_archive
        makes them on the mail server, playbooks/mail.yml fetches them here).
      - When set, no entry is deleted unless C(<uid>-<entryUUID>.mailbox.tar.gz) there verifies
        against its C(.sha256); one missing or damaged fails the run before anything is applied.
    type: path
  window:
    description: Number of connections the apply uses at once, each with one request in flight; every
      change of one account goes over the same connection, in order.
    type: int
    default: 8
  max_change_ratio:
    description: Largest share (0 to 1) of the accounts one run may deactivate or delete without
      O(force); up to 5 are always allowed.
    type: float
    default: 0.1
  force:
    description: Apply even when the plan exceeds O(max_change_ratio).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the server.
    type: float
    default: 30
requirements:
  - ldap3
  - PyYAML
  - pyrage on the control node, to apply (the hand-over files are age encrypted); a check-mode plan
    does without
notes:
  - Supports check mode and diff mode; secrets are masked in both.
  - Run the registry validation first (C(playbooks/validate.yml)); this module trusts it.
"""

EXAMPLES = r"""
- name: Apply the mail accounts
  mail_accounts:
    registry_dir: "{{ project_root }}/inventory/registry"
    uri: ldap://127.0.0.1:13389
    bind_dn: cn=toolkit,ou=system,dc=bekasikota,dc=go,dc=id
    bind_password: "{{ vault_ldap_toolkit_password }}"
    start_tls: true
    handover_dir: "{{ project_root }}/handover"
    archive_dir: "{{ project_root }}/archive/mail"
"""

RETURN = r"""
plan:
  description: Number of operations of each kind.
  returned: always
  type: dict
  sample: {"create": 2, "rename": 0, "modify": 1, "deactivate": 0, "reactivate": 0, "reset": 1, "delete": 0}
operations:
  description:
    - Every planned operation, without secrets.
    - A delete names the mailbox to archive first as C(mailbox) (C(uid), C(uuid), the entry's entryUUID).
    - A rename (an account whose registry entry says C(renamed_from)) moves the entry to its new DN
      (modrdn), so its entryUUID and its mailbox stay; the modify that follows sets its attributes.
  returned: always
  type: list
  elements: dict
failures:
  description: Operations the server refused, with the entry and the reason.
  returned: when some failed
  type: list
  elements: dict
handover_files:
  description: The age encrypted hand-over files written, one per recipient person with new
    credentials (C(<handover_dir>/<person id>/<run>.age)).
  returned: always
  type: list
  elements: str
archives:
  description: The LDIF archives written before deletions (each with a .sha256 beside it).
  returned: always
  type: list
  elements: str
timing:
  description: Seconds spent reading, planning and applying, measured inside the module.
  returned: always
  type: dict
"""

from ansible.module_utils.city.mail.service import MailAccounts


def main():
    MailAccounts.main()


if __name__ == "__main__":
    main()
