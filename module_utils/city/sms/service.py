"""The SMS service: an approved blast enqueued on its gateway, exactly once per recipient."""
from ansible.module_utils.city.service.base import Service, Task
from ansible.module_utils.city.service.change import Change
from ansible.module_utils.city.service.plan import Plan


class SmsBlast(Service):
    name = "sms_blast"
    section = ("SMS blasts", "approved blasts to enqueue (S2, S3)", "Blast")
    requirements = "PyYAML"
    timing = False  # the blast times its own phases (check, plan, write, mark)
    part = "city_sms_blast"  # read on the gateways: a read-only plan leaves it out
    argument_spec = dict(
        blast=dict(type="str", required=True),
        allowed_signers=dict(type="path", default="/etc/sms-center/allowed_signers"),
        restore=dict(type="dict", options=dict(
            claimed_at=dict(type="str"),
            ledger_id=dict(type="str"),
            recorded_at=dict(type="str"),
            planned_at=dict(type="str"),
            pairs=dict(type="list", elements="dict", default=[], options=dict(
                user_id=dict(type="str", required=True),
                phone_id=dict(type="str", required=True),
                file=dict(type="str", required=True),
                planned_at=dict(type="str"),
                enqueued_at=dict(type="str"),
            )),
        )),
        originators=dict(type="list", elements="str", required=True),
        phonebook=dict(type="path", default="/var/lib/sms-center/phonebook.json"),
        spool_dir=dict(type="path", default="/var/spool/sms-center"),
        ledger=dict(type="path", default="/var/lib/sms-center/ledger.sqlite3"),
        modems=dict(type="list", elements="dict", required=True, options=dict(
            phone_id=dict(type="str", required=True),
            rate_per_minute=dict(type="int", default=10),
        )),
        max_segments=dict(type="int", default=3),
        now=dict(type="str"),
    )

    threshold = None  # each blast is approved by the Ketua one by one: no share of a whole

    def desired(self):
        from ansible.module_utils.city.sms.blast import BlastRun
        p = self.params
        self.work = BlastRun(p["blast"], p["allowed_signers"], p["originators"], p["phonebook"], p["spool_dir"],
                             p["ledger"], p["modems"], p["max_segments"], now=p["now"],
                             check_mode=self.check_mode, restore=p["restore"])
        self.result = self.work.result  # a refusal reports what was computed before it
        self.work.check()
        return self.work

    def target(self):
        return "blast %s" % self.work.bid

    def read(self):
        self.work.plan()  # the ledger and the spool, read under the ledger's lock
        return self.work

    def plan(self, desired, current):
        work = self.work
        result = work.summary()
        changes = []
        if not work.scheduled and (work.to_write or work.recovered):
            changes.append(Change("blast %s" % work.bid, "enqueue", {"already_enqueued": work.already}, {
                "enqueued": result["enqueued"], "recovered": result["recovered"],
                "recipients": result["recipient_count"], "segments": result.get("segments"),
                "encoding": result.get("encoding"), "total_sms": result["total_sms"],
                "kind": result["blast"]["kind"], "originator": result["blast"]["originator"],
                "estimated_minutes": result["estimated_minutes"]}))
        elif work.changes:  # restored from the control node's record: the ledger only
            changes.append(Change("blast %s" % work.bid, "restore", None, {"restored": len(work.restored)}))
        return Plan(changes, actions=("enqueue",))

    def notes(self, plan):
        if self.work.scheduled:
            return ["blast %s is scheduled (send_after %s): nothing is enqueued before then"
                    % (self.work.bid, self.result.get("send_after", "?"))]
        return []

    def apply(self, plan):
        self.work.apply()

    def finish(self, plan):
        if not plan:
            self.work.record_pairs()
        self.work.summary(diff=self.diff_mode)
        for notice in self.result.get("notices") or []:
            self.warn(notice)

    def diff(self, plan):
        return None  # summary(diff=True) sets the blast's own --diff in finish()

    def close(self):
        work = getattr(self, "work", None)
        if work is not None:
            work.close()


class SmsBlastClaim(Task):
    """The control node's side of a blast: claim it for its gateway, then record what went out.

    The gateway it goes out through, with that gateway's modems and the originators, is
    computed here from the registry (:mod:`sms.gateway`), not in the playbook.
    """

    name = "sms_blast_claim"
    argument_spec = dict(
        state=dict(type="str", choices=["claimed", "recorded"], required=True),
        blast=dict(type="str", required=True),
        registry_dir=dict(type="path"),
        hosts=dict(type="list", elements="str", default=[]),
        gateway=dict(type="str"),
        gateways=dict(type="list", elements="str", default=[]),
        ledger=dict(type="path", required=True),
        claim_token=dict(type="str", no_log=False),
        outcome=dict(type="dict", default={}),
    )
    module_options = dict(required_one_of=[("gateway", "registry_dir")])
    # What the gateway's result says of the blast, all the control node keeps of it.
    OUTCOME_KEYS = ("planned", "pairs", "ledger_id", "planned_at", "scheduled", "failed")

    def _settings(self):
        p = self.params
        if not p["registry_dir"]:
            return {"gateway": p["gateway"], "gateways": list(p["gateways"])}
        from ansible.module_utils.city.sms.gateway import settings
        return settings(p["registry_dir"], p["hosts"] or [p["gateway"]])

    def run(self):
        from ansible.module_utils.city.errors import ToolkitError
        from ansible.module_utils.city.sms import blast as core
        from ansible.module_utils.city.sms.spent import SpentLedger
        import sqlite3
        p = self.params
        self.result.update(ledger=p["ledger"])
        blast = core.parse(p["blast"])
        bid = str(blast.get("id"))
        sig = core.signature_sha256(blast)
        self.result.update(blast_id=bid)
        settings = self._settings()
        gateway = settings["gateway"]
        self.result["settings"] = settings
        try:
            if p["state"] == "claimed":
                designated = str(blast.get("gateway") or (settings["gateways"][0] if settings["gateways"] else ""))
                self.result.update(designated=designated)
                if not designated:
                    raise ToolkitError("blast %s: sms.yml has no gateway to send it through" % bid)
                if designated != gateway:
                    self.result.update(send=False, claim="skipped", restore=None,
                                       msg="blast %s goes out through gateway %s, not %s" % (bid, designated, gateway))
                    return self.result
                with SpentLedger(p["ledger"], readonly=self.check_mode) as spent:
                    claimed = spent.claim(bid, sig, gateway)
                self.result.update(claimed, send=True, changed=claimed["claim"] == "new")
            elif self.check_mode:
                self.result["msg"] = "blast %s: nothing recorded in check mode" % bid
            else:
                outcome = {k: v for k, v in (p["outcome"] or {}).items() if k in self.OUTCOME_KEYS}
                with SpentLedger(p["ledger"]) as spent:
                    changed, message = spent.record(bid, sig, gateway, outcome, claim_token=p["claim_token"])
                self.result.update(changed=changed, msg=message)
        except (OSError, sqlite3.Error) as exc:  # fail closed: nothing is sent without a claim
            raise ToolkitError("blast %s: the control node's ledger %s failed: %s" % (bid, p["ledger"], exc))
        return self.result


class SmsRecap(Task):
    """What the gateway sent, failed and received, for the Ketua's recap and the reports (S7)."""

    name = "sms_recap"
    argument_spec = dict(
        ledger=dict(type="path", default="/var/lib/sms-center/ledger.sqlite3"),
        incoming=dict(type="path", default="/var/lib/sms-center/incoming.sqlite3"),
        spool_dir=dict(type="path", default="/var/spool/sms-center"),
        phonebook=dict(type="path", default="/var/lib/sms-center/phonebook.json"),
        since=dict(type="str"), blasts=dict(type="list", elements="str"))

    def run(self):
        from ansible.module_utils.city.errors import ToolkitError
        from ansible.module_utils.city.sms.recap import markdown, recap
        p = self.params
        try:
            data = recap(p["ledger"], p["incoming"], p["spool_dir"], p["phonebook"], since=p["since"],
                         blast_ids=p["blasts"])
        except (OSError, ValueError) as exc:
            raise ToolkitError(str(exc))
        self.result.update(recap=data, markdown=markdown(data),
                           state={"recap": data, "taken_at": data.get("generated_at")})
        return self.result
