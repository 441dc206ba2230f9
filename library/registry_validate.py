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
  - City infrastructure toolkit maintainers
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

import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible.module_utils.city.registry.summary import summarise
    from ansible.module_utils.city.registry.validate import validate
    IMPORT_ERROR = None
except ImportError as exc:  # rapidyaml / jsonschema missing on the control node
    IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            registry_dir=dict(type="path", required=True),
            schema_dir=dict(type="path", required=True),
            display_root=dict(type="path"),
            today=dict(type="str"),
            fail_on_warnings=dict(type="bool", default=False),
            approval_root=dict(type="dict", options=dict(
                ketua=dict(type="str", required=True),
                keys=dict(type="list", elements="str", required=True, no_log=False),
            )),
            limits=dict(type="dict", options=dict(
                (name, dict(type="int")) for name in ("max_file_bytes", "max_total_bytes",
                                                      "max_files", "max_dirs", "max_depth",
                                                      "max_alias_nodes"))),
        ),
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("rapidyaml, jsonschema and jsonschema-rs"),
                         exception=str(IMPORT_ERROR))
    today = None
    if module.params["today"]:
        try:
            today = datetime.date.fromisoformat(module.params["today"])
        except ValueError:
            module.fail_json(msg="today must be YYYY-MM-DD, not %r" % module.params["today"])
    limits = {k: v for k, v in (module.params["limits"] or {}).items() if v is not None}
    try:
        from ansible.module_utils.city.registry.limits import Limits
        limits = Limits(limits)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = validate(module.params["registry_dir"], module.params["schema_dir"], today=today,
                      limits=limits,
                      display_root=module.params["display_root"],
                      approval_root=module.params["approval_root"],
                      approval_root_source="sms_approval__root (group_vars/all/sms_approval.yml "
                                           "of the inventory)")
    errors = [f.format() for f in result.errors]
    warnings = [f.format() for f in result.warnings]
    out = dict(changed=False, ok=result.ok, errors=errors, warnings_found=warnings,
               findings=[f.as_dict() for f in result.findings],
               summary=summarise(result.context))
    for text in warnings:
        module.warn(text)
    if errors or (warnings and module.params["fail_on_warnings"]):
        module.fail_json(msg="registry INVALID: %d error(s), %d warning(s); nothing was applied.\n%s"
                         % (len(errors), len(warnings), "\n".join(errors + (
                             warnings if module.params["fail_on_warnings"] else []))), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
