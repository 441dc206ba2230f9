"""Jinja2 filter: the current trust that approves SMS blasts (S2).

- ``sms_approval_trust(root, trust_file_data)``:
  ``sms_approval__root | sms_approval_trust(approval_trust_data)`` -> ``{version, ketua, keys,
  digest, source, problem, ignored}``: the inventory's pinned root followed by every rotation
  statement of the registry's ``approval-trust.yml`` (its data, or none) that verifies, in
  order (module_utils/city/sms/trust.py). A statement that does not verify and every
  statement after it are ignored (``problem`` says why; the validator reports it at its line).
  An unusable root fails the filter.
"""

from ansible.errors import AnsibleFilterError

from ansible.module_utils.city.sms import trust


def sms_approval_trust(root, trust_file_data=None):
    """The current trust as a dict, from the pinned root and the rotation statements."""
    try:
        return trust.current(root, trust.statements_of(trust_file_data)).as_dict()
    except trust.TrustError as exc:
        raise AnsibleFilterError("sms_approval_trust filter: %s" % exc) from exc


class FilterModule:
    """The approval trust filter."""

    def filters(self):
        """Map of filter name to function."""
        return {"sms_approval_trust": sms_approval_trust}
