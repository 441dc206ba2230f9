"""The reports as a module's task: the registry, the trail and the servers' reads, rendered."""
import datetime

from ansible.module_utils.city.errors import ToolkitError
from ansible.module_utils.city.service.base import Task


class CityReport(Task):
    name = "city_report"
    requirements = "Jinja2, dnspython and PyYAML"
    libraries = ("jinja2", "dns", "yaml")
    argument_spec = dict(
        registry_dir=dict(type="path", required=True), templates_dir=dict(type="path", required=True),
        output_dir=dict(type="path", required=True), state_dir=dict(type="path"),
        audit_trail=dict(type="path"), year=dict(type="int"), today=dict(type="str"),
        dns_reads=dict(type="list", elements="dict", default=[]),
        mail_reads=dict(type="list", elements="dict", default=[]),
        sms_reads=dict(type="list", elements="dict", default=[]))

    def run(self):
        from ansible.module_utils.city.reports import snapshots as snaps
        from ansible.module_utils.city.reports.build import run
        p = self.params
        try:
            today = datetime.date.fromisoformat(p["today"]) if p["today"] else None
            new = [snaps.from_result(kind, snaps.host_of(read), read)
                   for kind in snaps.KINDS for read in p["%s_reads" % kind]]
            result = run(p["registry_dir"], p["templates_dir"], p["output_dir"], state_dir=p["state_dir"],
                         trail_path=p["audit_trail"], year=p["year"], today=today, new_snapshots=new,
                         check=self.check_mode)
        except (ToolkitError, OSError, ValueError) as exc:
            raise ToolkitError("reports not made: %s" % exc)
        self.result.update(changed=bool(result["changed"] or result["removed"]), index=result["index"],
                           files=result["files"], changed_files=result["changed"], removed=result["removed"],
                           snapshots=result["snapshots"], summary=result["summary"])
        return self.result
