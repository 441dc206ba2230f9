"""The validation as a module's task: every finding of the registry in one run, or the run stops."""
import datetime

from ansible.module_utils.city.errors import ToolkitError
from ansible.module_utils.city.service.base import Task

LIMIT_NAMES = ("max_file_bytes", "max_total_bytes", "max_files", "max_dirs", "max_depth", "max_alias_nodes")


class RegistryValidate(Task):
    name = "registry_validate"
    requirements = "rapidyaml, jsonschema and jsonschema-rs"
    libraries = ("jsonschema", "yaml")
    argument_spec = dict(
        registry_dir=dict(type="path", required=True),
        schema_dir=dict(type="path", required=True),
        display_root=dict(type="path"),
        today=dict(type="str"),
        fail_on_warnings=dict(type="bool", default=False),
        approval_root=dict(type="dict", options=dict(
            ketua=dict(type="str", required=True),
            keys=dict(type="list", elements="str", required=True, no_log=False),
        )),
        limits=dict(type="dict", options=dict((name, dict(type="int")) for name in LIMIT_NAMES)),
    )

    def run(self):
        from ansible.module_utils.city.registry.limits import Limits
        from ansible.module_utils.city.registry.summary import summarise
        from ansible.module_utils.city.registry.validate import validate
        p = self.params
        today = None
        if p["today"]:
            try:
                today = datetime.date.fromisoformat(p["today"])
            except ValueError:
                raise ToolkitError("today must be YYYY-MM-DD, not %r" % p["today"])
        try:
            limits = Limits({k: v for k, v in (p["limits"] or {}).items() if v is not None})
        except ValueError as exc:
            raise ToolkitError(str(exc))
        result = validate(p["registry_dir"], p["schema_dir"], today=today, limits=limits,
                          display_root=p["display_root"], approval_root=p["approval_root"],
                          approval_root_source="sms_approval__root (group_vars/all/sms_approval.yml of the inventory)")
        errors = [f.format() for f in result.errors]
        warnings = [f.format() for f in result.warnings]
        self.result.update(ok=result.ok, errors=errors, warnings_found=warnings,
                           findings=[f.as_dict() for f in result.findings], summary=summarise(result.context))
        for text in warnings:
            self.warn(text)
        if errors or (warnings and p["fail_on_warnings"]):
            raise ToolkitError("registry INVALID: %d error(s), %d warning(s); nothing was applied.\n%s" % (
                len(errors), len(warnings), "\n".join(errors + (warnings if p["fail_on_warnings"] else []))))
        return self.result
