"""Documentation of the option every service module gets from the module base."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  reviewed_plan:
    description:
      - The plan a reviewer approved, C(plan.json) of C(make plan) (C(make site PLAN=reports/plan.json) passes it).
      - Before changing anything the module compares its own plan with that plan's part for this module and
        target (checksums of the changes, objects, actions, before and after). When they differ (the registry
        or the server changed since the review) nothing is applied and the failure names each difference.
      - Also refused, with nothing applied - a file that is not a complete plan of this toolkit, or whose
        checksum does not match its changes (edited after it was made).
      - Ignored in check mode.
    type: path
"""
