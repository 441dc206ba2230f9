"""The mail services: the registry's accounts in the directory, warnings of unused
accounts (E10), and the directory read for the reports."""
import datetime
import os

from ansible.module_utils.city.errors import ToolkitError
from ansible.module_utils.city.mail import connection
from ansible.module_utils.city.service.base import Service, Task
from ansible.module_utils.city.service.change import Change
from ansible.module_utils.city.service.plan import Plan, Threshold

REGISTRY_FILES = ("mail", "agencies", "people", "domain")


def load_registry(registry_dir, names=REGISTRY_FILES):
    """{name: data} of the registry's ``names``.yml; a file that does not load is a ToolkitError."""
    from ansible.module_utils.city.registry.loader import load_file
    try:
        return {name: load_file(os.path.join(registry_dir, name + ".yml")).data for name in names}
    except Exception as exc:  # the validation play reports registry problems in detail
        raise ToolkitError("cannot read the registry in %s: %s (run the validation first)" % (registry_dir, exc))


def handover_keys(people_doc):
    """{person id: [public key lines]} of people.yml (public keys: not secrets)."""
    out = {}
    for person in people_doc.get("people") or []:
        keys = person.get("handover_keys") if isinstance(person, dict) else None
        if isinstance(person, dict) and isinstance(keys, list):
            out[str(person.get("id"))] = [k for k in keys if isinstance(k, str)]
    return out


class _DirectoryWork:
    """Mixin: the connection options and the directory they open."""

    requirements = "ldap3 and PyYAML"
    libraries = ("ldap3", "yaml")

    @classmethod
    def spec(cls):
        spec = super().spec()
        for name, option in connection.CONNECTION_ARGUMENTS.items():
            spec.setdefault(name, dict(option))
        return spec

    def directory(self):
        from ansible.module_utils.city.mail.directory import Directory
        timeout = self.params.get("timeout")
        return connection.directory_from(Directory, self.params, **({"timeout": timeout} if timeout else {}))


def _first(value):
    return (value[0] if value else "") if isinstance(value, list) else (value or "")


def _operation_change(op):
    """An LDAP operation of the plan as a :class:`Change`: never a secret."""
    from ansible.module_utils.city.mail.plan import DEACTIVATE, DELETE
    shown = op.as_dict()
    after = dict(shown.get("changes") or {})
    for key in ("ticket", "password", "handover_to"):
        # The password is the note that one is handed over, never a value; handover_to
        # is the one person who can open it (Pasal 35): part of the review.
        if shown.get(key):
            after[key] = shown[key]
    return Change(op.account.address, op.action, shown.get("before") or {}, after,
                  risky=op.action in (DEACTIVATE, DELETE), subject=op)


class MailAccounts(_DirectoryWork, Service):
    name = "mail_accounts"
    section = ("Mail accounts",
               "accounts to create, modify, deactivate, reactivate, reset or delete (E1-E11)", "Account")
    requirements = "ldap3 and PyYAML"
    max_change_ratio = 0.1
    argument_spec = dict(
        registry_dir=dict(type="path", required=True),
        base=dict(type="str"),
        handover_dir=dict(type="path", required=True),
        archive_dir=dict(type="path", required=True),
        mailbox_archive_dir=dict(type="path"),
        window=dict(type="int", default=8),
        timeout=dict(type="float", default=30),
    )

    def desired(self):
        from ansible.module_utils.city.mail.desired import desired_accounts, suffix_of
        self.docs = load_registry(self.params["registry_dir"])
        try:
            domain = self.docs["domain"]["domain"]["name"]
        except (KeyError, TypeError) as exc:
            raise ToolkitError("cannot read the registry in %s: %s (run the validation first)"
                               % (self.params["registry_dir"], exc))
        self.base = self.params["base"] or "ou=accounts," + suffix_of(domain)
        self.result.update(plan={}, operations=[], handover_files=[], archives=[])
        return desired_accounts(self.docs["mail"], self.docs["agencies"], self.docs["people"], domain, self.base)

    def target(self):
        return "%s on %s" % (self.base, self.params["uri"])

    def read(self):
        self.connection = self.directory()
        self.current = self.connection.read(self.base)
        return self.current

    def plan(self, desired, current):
        from ansible.module_utils.city.mail.plan import (CREATE, DEACTIVATE, DELETE, MODIFY, REACTIVATE, RENAME,
                                                         RESET)
        from ansible.module_utils.city.mail.plan import make_plan
        self.ops = make_plan(desired, current)
        managed = sum(1 for address, account in desired.items()
                      if address in current or (account.renamed_from or "") in current)
        return Plan([_operation_change(op) for op in self.ops], managed=managed,
                    actions=(CREATE, RENAME, MODIFY, DEACTIVATE, REACTIVATE, RESET, DELETE))

    def threshold(self):
        return Threshold(self.params["max_change_ratio"], "accounts", verb="deactivates or deletes")

    def report(self, plan):
        from ansible.module_utils.city.mail.plan import DELETE
        operations = []
        for op in self.ops:
            out = op.as_dict()
            if op.action == DELETE:
                # The mailbox to archive first (E9): the mail server names it by entryUUID.
                out["mailbox"] = self._mailbox_of(op)
            operations.append(out)
        return {"plan": plan.counts(), "operations": operations}

    def _mailbox_of(self, op):
        """The mailbox of the entry ``op`` acts on: its uid and entryUUID (the mail server's name)."""
        account = op.account
        entry = self.current.get(account.address) or self.current.get(account.renamed_from or "") or {}
        return {"uid": op.dn.split(",")[0].split("=", 1)[1], "uuid": str(_first(entry.get("entryUUID")))}

    def check_mailbox_archives(self):
        """Refuse, before anything is applied, a delete whose mailbox has no verified archive."""
        from ansible.module_utils.city.mail import mailbox_archive
        from ansible.module_utils.city.mail.plan import DELETE
        missing = []
        for op in self.ops:
            if op.action != DELETE:
                continue
            try:
                uid, uuid = mailbox_archive.check_account(self._mailbox_of(op))
                mailbox_archive.verify(os.path.join(self.params["mailbox_archive_dir"],
                                                    mailbox_archive.archive_name(uid, uuid)))
            except ToolkitError as exc:
                missing.append("%s (%s)" % (op.account.address, exc))
        if missing:
            raise ToolkitError("nothing applied: %d account(s) to delete have no verified archive of their "
                               "mailbox (E9; playbooks/mail.yml archives them first): %s"
                               % (len(missing), "; ".join(missing[:10])))

    def diff(self, plan):
        return plan.diff("directory (accounts the registry owns, before)", "directory (after)")

    def apply(self, plan):
        from ansible.module_utils.city.mail import handover
        from ansible.module_utils.city.mail.directory import new_password
        from ansible.module_utils.city.mail.plan import CREATE, DELETE, RESET
        p = self.params
        if p["mailbox_archive_dir"]:
            self.check_mailbox_archives()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        passwords, credentials = {}, {}
        for op in self.ops:
            if op.action in (CREATE, RESET):
                passwords[id(op)] = new_password()
                credentials.setdefault(op.account.recipient, []).append({
                    "address": op.account.address, "agency": op.account.owner, "password": passwords[id(op)],
                    "reason": "new account" if op.action == CREATE else "reset", "ticket": op.ticket})
        if credentials:
            try:
                import pyrage  # noqa: F401 - checked before anything is written
            except ImportError:
                from ansible.module_utils.basic import missing_required_lib
                raise ToolkitError(missing_required_lib("pyrage") + " (nothing applied)")
        # Written before any password is set: a crash afterwards loses none.
        self.result["handover_files"] = handover.write(p["handover_dir"], stamp, credentials,
                                                       handover_keys(self.docs["people"]))
        for op in self.ops:
            if op.action == DELETE:
                self.result["archives"].append(self.connection.archive(op.dn, p["archive_dir"], stamp))
        try:
            done, failures = self.connection.apply(self.ops, passwords, p["window"])
        except ToolkitError:
            for change in plan.changes:
                change.status = "failed"  # a lost connection: none is known to have applied
            raise
        if not failures:
            return
        refused = {id(op) for op, _why in failures}
        for change in plan.changes:
            change.status = "failed" if id(change.subject) in refused else "ok"
        self.result["failures"] = [{"address": op.account.address, "dn": op.dn, "action": op.action,
                                    "reason": why} for op, why in failures]
        self.result["city"]["changes"] = plan.records()
        raise ToolkitError("%d of %d operations were refused (the others were applied): %s" % (
            len(failures), len(self.ops), "; ".join(
                "%s %s: %s" % (f["action"], f["address"], f["reason"]) for f in self.result["failures"][:10])))


class MailUnused(_DirectoryWork, Service):
    name = "mail_unused"
    section = ("Warnings for unused mail accounts", "warnings to queue (E10)", "Warning")
    argument_spec = dict(
        registry_dir=dict(type="path", required=True), base=dict(type="str"), days=dict(type="int"),
        spool_dir=dict(type="path", required=True), sender=dict(type="str"), today=dict(type="str"))
    timing = False

    threshold = None  # warnings are added, never changed or deleted: no share to exceed

    def admins_by_agency(self):
        """Agency code -> the mail address of its admin (their own account, else the agency's)."""
        accounts = [a for a in self.docs["mail"].get("accounts") or [] if a.get("status") == "active"]
        by_holder = {a.get("holder"): a["address"] for a in accounts if a.get("kind") == "personal"}
        by_agency = {a.get("owner"): a["address"] for a in accounts if a.get("kind") == "agency"}
        out = {}
        for agency in self.docs["agencies"].get("agencies") or []:
            address = by_holder.get(agency.get("mail_admin")) or by_agency.get(agency.get("code"))
            if address:
                out[agency["code"]] = address
        return out

    def desired(self):
        from ansible.module_utils.city.mail.desired import suffix_of
        p = self.params
        self.docs = load_registry(p["registry_dir"], ("city", "domain", "agencies", "mail"))
        domain = self.domain = self.docs["domain"]["domain"]["name"]
        self.days = p["days"] or int(self.docs["city"]["policy"]["mail"]["unused_warning_days"])
        self.now = datetime.datetime.now(datetime.timezone.utc)
        if p["today"]:
            self.now = datetime.datetime.combine(datetime.date.fromisoformat(p["today"]), datetime.time(12),
                                                 tzinfo=datetime.timezone.utc)
        self.admins = self.admins_by_agency()
        self.sender = p["sender"] or self.admins.get(self.docs["city"]["roles"]["communication_agency"],
                                                     "postmaster@" + domain)
        self.base = p["base"] or "ou=accounts," + suffix_of(domain)
        return self.days

    def target(self):
        # Not the spool directory: the control node's setting, not what is reviewed.
        return "unused-account warnings of %s" % self.base

    def read(self):
        from ansible.module_utils.city.mail.unused import read_usage, unused
        self.rows = unused(read_usage(self.directory(), self.base), self.now, self.days)
        return self.rows

    def _spool(self, check_mode):
        from ansible.module_utils.city.mail.unused import spool_warnings
        try:
            return spool_warnings(self.rows, self.params["spool_dir"], self.now.strftime("%Y-%m"), self.sender,
                                  self.admins, self.days, self.now, self.domain, check_mode=check_mode)
        except ValueError as exc:  # a uid that cannot name a file in the spool
            raise ToolkitError(str(exc))

    def plan(self, desired, current):
        # The file's name, not its path: the spool is the control node's setting, not the change.
        self.paths = self._spool(check_mode=True)
        return Plan([Change(os.path.basename(path), "queue-warning", None, {"file": os.path.basename(path)})
                     for path in self.paths], actions=("queue-warning",))

    def report(self, plan):
        return {"queued": list(self.paths), "days": self.days, "unused": [
            {"address": r["address"], "agency": r["ou"], "last_used": r["last_used"].strftime("%Y-%m-%d")}
            for r in self.rows]}

    def apply(self, plan):
        self.result["queued"] = self._spool(check_mode=False)


class MailInventory(_DirectoryWork, Task):
    """Every account of the directory with its last use and lock, for the reports."""

    name = "mail_inventory"
    requirements = "ldap3"
    libraries = ("ldap3",)
    argument_spec = dict(base=dict(type="str", required=True), timeout=dict(type="int", default=10))

    def run(self):
        from ansible.module_utils.city.mail.unused import read_usage
        read_at = datetime.datetime.now(datetime.timezone.utc)
        usage = read_usage(self.directory(), self.params["base"])
        accounts = sorted(({"address": u["address"], "uid": u["uid"], "ou": u["ou"],
                            "last_used": u["last_used"].isoformat() if u["last_used"] else None,
                            "locked": u["locked"]} for u in usage), key=lambda a: a["address"])
        self.result.update(accounts=accounts, count=len(accounts), base=self.params["base"],
                           read_at=read_at.isoformat(timespec="seconds"))
        self.result["state"] = {"base": self.params["base"], "accounts": accounts,
                                "taken_at": self.result["read_at"]}
        return self.result


class MailboxArchive(Service):
    """On the mail server: archive the mailboxes of accounts to delete, or remove them (E9)."""
    name = "mailbox_archive"
    section = ("Mailboxes of deleted accounts", "mailboxes to archive or remove (E9)", "Mailbox")
    requirements = "the Python standard library"
    libraries = ()
    argument_spec = dict(
        mail_root=dict(type="path", required=True),
        archive_dir=dict(type="path", required=True),
        accounts=dict(type="list", elements="dict", required=True),
        state=dict(type="str", choices=["archived", "absent"], default="archived"),
    )
    threshold = None  # the accounts come from mail_accounts' plan, which has its own threshold
    timing = False

    def target(self):
        return "mailboxes in %s" % self.params["mail_root"]

    def desired(self):
        from ansible.module_utils.city.mail.mailbox_archive import check_account
        self.accounts = [check_account(a) for a in self.params["accounts"]]
        return self.accounts

    def read(self):
        """{(uid, uuid): (mailbox exists, archive verifies against it)}."""
        from ansible.module_utils.city.mail import mailbox_archive
        state = {}
        for uid, uuid in self.accounts:
            mailbox = os.path.join(self.params["mail_root"], uuid)
            path = os.path.join(self.params["archive_dir"], mailbox_archive.archive_name(uid, uuid))
            verified = False
            if os.path.exists(path):
                try:
                    mailbox_archive.verify(path, mailbox)
                    verified = True
                except ToolkitError:
                    pass  # archived again (archived) or kept (absent, whose apply says why)
            state[(uid, uuid)] = (os.path.isdir(mailbox), verified)
        return state

    def plan(self, desired, current):
        changes = []
        for uid, uuid in desired:
            exists, verified = current[(uid, uuid)]
            if self.params["state"] == "archived" and not verified:
                changes.append(Change(uid, "archive", None, {"uuid": uuid}, subject=(uid, uuid)))
            elif self.params["state"] == "absent" and exists:
                changes.append(Change(uid, "remove", {"uuid": uuid}, None, risky=True, subject=(uid, uuid)))
        return Plan(changes, managed=len(desired), actions=("archive", "remove"))

    def apply(self, plan):
        from ansible.module_utils.city.mail import mailbox_archive
        self.result["archives"] = []
        for change in plan.changes:
            uid, uuid = change.subject
            if change.action == "archive":
                self.result["archives"].append(
                    mailbox_archive.archive(self.params["mail_root"], self.params["archive_dir"], uid, uuid))
            else:
                mailbox_archive.remove(self.params["mail_root"], self.params["archive_dir"], uid, uuid)
            change.status = "ok"

    def finish(self, plan):
        from ansible.module_utils.city.mail import mailbox_archive
        # Every account's archive, made now or before: what the playbook fetches.
        self.result["archive_files"] = [
            os.path.join(self.params["archive_dir"], mailbox_archive.archive_name(uid, uuid))
            for uid, uuid in self.accounts]
