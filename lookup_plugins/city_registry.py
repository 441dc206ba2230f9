"""Lookup plugin: read registry files as data that Ansible never templates."""
from __future__ import annotations

DOCUMENTATION = r"""
---
name: city_registry
short_description: Read registry files as plain data, never as templates
description:
  - Returns the parsed content of registry files (C(inventory/registry/<file>)) through the
    toolkit's own loader, the one the validator uses, so dates stay the text the file holds.
  - "Every value is marked unsafe: a string such as C({{ lookup('pipe', 'id') }}) in the
    registry stays that string and is never evaluated, whatever task or template reads it.
    This is the only way the toolkit's playbooks read the registry; never C(include_vars) or
    C(vars_files), which Ansible treats as trusted templates (docs/security.md)."
  - A name may be a glob relative to the registry (C(blasts/*.yml)); each match is one
    element of the result, in sorted order, as a mapping C({file, data}) when O(with_names)
    is true.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
options:
  _terms:
    description: File names relative to the registry directory (C(sms.yml)), or globs.
    required: true
    type: list
    elements: str
  registry_dir:
    description: The registry directory.
    type: path
    required: true
  with_names:
    description: Return C({file, data}) per file (C(file) relative to the registry) instead of the data alone.
    type: bool
    default: false
  raw:
    description: Return the file's text instead of its parsed data (still unsafe).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the SMS registry as data
  ansible.builtin.set_fact:
    registry_sms: "{{ lookup('city_registry', 'sms.yml', registry_dir=registry_dir) }}"

- name: Every blast file, with its name
  ansible.builtin.debug:
    msg: "{{ item.file }}"
  loop: "{{ query('city_registry', 'blasts/*.yml', registry_dir=registry_dir, with_names=true) }}"
"""

RETURN = r"""
_raw:
  description: The data of each file (or its text with O(raw), or C({file, data}) with O(with_names)), marked unsafe.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.unsafe_proxy import wrap_var


def _loader():
    from ansible.module_utils.city.registry import safe_read
    return safe_read


class LookupModule(LookupBase):
    """Registry files as unsafe data."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        registry_dir = self.get_option("registry_dir")
        with_names = self.get_option("with_names")
        raw = self.get_option("raw")
        safe_read = _loader()
        out = []
        for term in terms:
            try:
                names = safe_read.expand(registry_dir, str(term))
                for name in names:
                    value = safe_read.read(registry_dir, name, raw=raw)
                    out.append({"file": name, "data": value} if with_names else value)
            except safe_read.RegistryReadError as exc:
                raise AnsibleLookupError("city_registry: %s" % exc) from exc
        return wrap_var(out)
