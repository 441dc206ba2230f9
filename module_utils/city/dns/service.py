"""The DNS service: the registry's domain.yml as the record sets of the zone on the primary."""
import os

from ansible.module_utils.city.service.base import Service
from ansible.module_utils.city.service.change import Change
from ansible.module_utils.city.service.plan import Plan, Threshold

ACTIONS = ("add", "change", "delete")


class DnsZone(Service):
    name = "dns_zone"
    section = ("DNS records", "records of the zone to add, change or delete (D1-D8)", "Record set")
    requirements = "dnspython and PyYAML"
    libraries = ("dns", "yaml")
    max_change_ratio = 0.25
    argument_spec = dict(
        registry_dir=dict(type="path", required=True),
        zone=dict(type="str"),
        server=dict(type="str", required=True),
        port=dict(type="int", default=53),
        key_name=dict(type="str", required=True, no_log=False),
        key_secret=dict(type="str", required=True, no_log=True),
        key_algorithm=dict(type="str", default="hmac-sha256",
                           choices=["hmac-sha256", "hmac-sha384", "hmac-sha512"]),
        timeout=dict(type="float", default=10),
        unmanaged_labels=dict(type="list", elements="str", default=["_acme-challenge"]),
        max_message_size=dict(type="int", default=60000),
    )

    def desired(self):
        from ansible.module_utils.city.dns.desired import desired_state
        from ansible.module_utils.city.dns.zone_io import Server
        from ansible.module_utils.city.errors import ToolkitError
        from ansible.module_utils.city.registry.loader import LoadError, load_file
        p = self.params
        path = os.path.join(p["registry_dir"], "domain.yml")
        try:
            zone, want, self.owner = desired_state(load_file(path).data, p["zone"], p["unmanaged_labels"])
        except (LoadError, KeyError, TypeError, ValueError, OSError) as exc:
            raise ToolkitError("cannot read the registry's %s: %s (run the validation first)" % (path, exc))
        self.zone = zone
        self.server = Server(p["server"], p["port"], zone, p["key_name"], p["key_secret"], p["key_algorithm"],
                             p["timeout"])
        self.result.update(plan={}, changes=[], messages=0)
        return want

    def target(self):
        return "zone %s on %s:%s" % (self.zone, self.params["server"], self.params["port"])

    def read(self):
        return self.server.read(self.owner.owns)

    def plan(self, desired, current):
        from ansible.module_utils.city.dns.plan import CHANGE, DELETE, make_plan
        self.zone_plan = make_plan(desired, current)
        changes = []
        for change, record in zip(self.zone_plan.changes, (c.as_dict() for c in self.zone_plan.changes)):
            changes.append(Change("%s %s" % (record["name"], record["type"]), change.action, record["before"],
                                  record["after"], risky=change.action in (CHANGE, DELETE), subject=change))
        return Plan(changes, managed=self.zone_plan.owned_before, actions=ACTIONS)

    def threshold(self):
        return Threshold(self.params["max_change_ratio"], "record sets the registry owns")

    def report(self, plan):
        out = {"plan": self.zone_plan.summary(), "changes": [c.as_dict() for c in self.zone_plan.changes]}
        # The drift of the zone from the registry, as the reports keep it (reports/snapshots.py).
        out["state"] = dict(out)
        return out

    def diff(self, plan):
        return plan.diff("zone (records the registry owns, before)", "zone (after)")

    def apply(self, plan):
        from ansible.module_utils.city.dns.apply import apply_plan
        self.result["messages"] = apply_plan(self.server, self.zone_plan, self.params["max_message_size"],
                                             lambda: self.server.read(self.owner.owns))
