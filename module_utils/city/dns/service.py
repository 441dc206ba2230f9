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
        # Public keys, not secrets; no_log=False says so to Ansible's name heuristic.
        # Not given (a report, a test's direct call): DKIM is left alone, and a note says so.
        dkim_public_keys=dict(type="dict", no_log=False),
    )

    def desired(self):
        from ansible.module_utils.city.dns.desired import desired_state, mail_selectors
        from ansible.module_utils.city.dns.dkim import DkimKeyError, key_records
        from ansible.module_utils.city.dns.zone_io import Server
        from ansible.module_utils.city.errors import ToolkitError
        from ansible.module_utils.city.registry.loader import LoadError, load_file
        p = self.params
        path = os.path.join(p["registry_dir"], "domain.yml")
        # Every key given is checked, used or not, before the zone is even read.
        given = p["dkim_public_keys"] is not None
        try:
            keys = key_records(p["dkim_public_keys"])
        except DkimKeyError as exc:
            raise DkimKeyError("nothing applied: %s (dkim_public_keys, from city_mail__dkim_public_keys)" % exc)
        try:
            doc = load_file(path).data
            selectors = mail_selectors(doc)
        except (LoadError, KeyError, TypeError, ValueError, OSError, AttributeError) as exc:
            raise ToolkitError("cannot read the registry's %s: %s (run the validation first)" % (path, exc))
        self.dkim_left_out = selectors if not given else []
        missing = [selector for selector in selectors if selector not in keys] if given else []
        if missing:
            raise ToolkitError(
                "nothing applied: domain.mail.dkim.selectors names %s with no public key given: set "
                "city_mail__dkim_public_keys in the inventory (selector -> base64 of the key: for %s, "
                "vault_mail_dkim_private_key through the filter dkim_public_key), which playbooks/dns.yml "
                "passes as dkim_public_keys" % (", ".join(missing), missing[0]), missing_dkim_keys=missing)
        self.ignored_keys = sorted(set(keys) - set(selectors))
        try:
            zone, want, self.owner = desired_state(
                doc, p["zone"], p["unmanaged_labels"],
                {selector: keys[selector] for selector in selectors} if given else None)
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

    def notes(self, plan):
        if self.dkim_left_out:
            yield ("DKIM records of %s not planned: no dkim_public_keys given, so the names under "
                   "_domainkey are left as they are" % ", ".join(self.dkim_left_out))
        if self.ignored_keys:
            yield ("DKIM public keys given for %s are not published: domain.mail.dkim.selectors does not "
                   "name them" % ", ".join(self.ignored_keys))

    def diff(self, plan):
        return plan.diff("zone (records the registry owns, before)", "zone (after)")

    def apply(self, plan):
        from ansible.module_utils.city.dns.apply import apply_plan
        self.result["messages"] = apply_plan(self.server, self.zone_plan, self.params["max_message_size"],
                                             lambda: self.server.read(self.owner.owns))
