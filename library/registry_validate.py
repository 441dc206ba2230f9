#!/usr/bin/python
"""Ansible module: validate the whole registry before anything is applied."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_validate
short_description: Validate the city registry (schemas and cross-file rules)
description:
  - Reads every registry file, checks it against its JSON Schema and applies every
    cross-file rule (references, uniqueness, address pools, mail address forms,
    deactivation and approval records, phone numbers, blast approvals).
  - Fails listing every error with file, line, column, rule id, the article of the
    regulation behind it and what to do, so that nothing is applied from a bad registry.
  - Runs on the control node as the first play of every playbook.
  - Never changes anything; safe in check mode.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
options:
  registry_dir:
    description: Directory of the registry (C(city.yml), C(agencies.yml), ... and C(blasts/)).
    type: path
    required: true
  schema_dir:
    description: Directory of the JSON Schemas (C(<file>.schema.json)).
    type: path
    required: true
  display_root:
    description: Paths in messages are shown relative to this directory (the project root).
    type: path
  today:
    description:
      - Date against which deadlines are checked, C(YYYY-MM-DD); default is today.
      - Used by tests and to preview the renewal warnings of a future date.
    type: str
  fail_on_warnings:
    description: Treat warnings (such as the domain renewal window) as errors.
    type: bool
    default: false
  approval_root:
    description:
      - The trust anchor of blast approvals pinned in the inventory (C(sms_approval__root) of
        C(group_vars/all/sms_approval.yml)) - the Ketua and the OpenSSH public keys that approve
        blasts (trust version 1, docs/security.md).
      - The registry's C(sms.yml) C(secretariat.ketua) and C(approval_keys) must match the current
        trust (this root followed by the valid rotation statements of C(approval-trust.yml)), and
        blasts are verified against it. Without it the registry is invalid (rule S2-TRUST).
    type: dict
    suboptions:
      ketua:
        description: Person id of the Ketua.
        type: str
        required: true
      keys:
        description: OpenSSH public key lines (C(ssh-ed25519 AAAA... comment)).
        type: list
        elements: str
        required: true
  limits:
    description:
      - Bounds of what the registry may hold, the inventory's policy (a registry edit cannot
        change them); any left out keeps its default (docs/registry-format.md, "How a
        registry is read").
    type: dict
    suboptions:
      max_file_bytes:
        description: Bytes of one registry file (default 64 MiB).
        type: int
      max_total_bytes:
        description: Bytes of all registry files together (default 512 MiB).
        type: int
      max_files:
        description: Registry files, blasts and their archive included (default 50,000).
        type: int
      max_dirs:
        description: Folders of the registry (default 64).
        type: int
      max_depth:
        description: Nesting of mappings and sequences in one file (default and most 64).
        type: int
      max_alias_nodes:
        description: Nodes that aliases may add to one file once expanded (default 10,000).
        type: int
requirements:
  - rapidyaml
  - jsonschema
  - jsonschema-rs
  - ssh-keygen (OpenSSH) to verify the signatures of blasts
notes:
  - The findings are also returned as data for reports and CI.
"""

EXAMPLES = r"""
- name: Validate the registry
  registry_validate:
    registry_dir: "{{ registry_dir }}"
    schema_dir: "{{ playbook_dir }}/../schemas"
    display_root: "{{ playbook_dir }}/.."
    approval_root: "{{ sms_approval__root }}"

- name: Preview the warnings the registry will raise next month
  registry_validate:
    registry_dir: inventory/registry
    schema_dir: schemas
    approval_root: "{{ sms_approval__root }}"
    today: "2027-02-10"
"""

RETURN = r"""
ok:
  description: Whether the registry is valid (no errors).
  returned: always
  type: bool
  sample: true
errors:
  description: The errors, one formatted line (plus a fix line) each.
  returned: always
  type: list
  elements: str
warnings_found:
  description: The warnings, formatted like the errors.
  returned: always
  type: list
  elements: str
findings:
  description: Every finding as data (severity, rule, requirement, article, file, line, column, message, fix).
  returned: always
  type: list
  elements: dict
summary:
  description: What the registry holds (counts per kind and status).
  returned: always
  type: dict
  sample: {"main_domain": "bekasikota.go.id", "blasts": 1}
"""

from ansible.module_utils.city.registry.task import RegistryValidate


def main():
    RegistryValidate.main()


if __name__ == "__main__":
    main()
