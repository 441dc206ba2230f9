"""Compare the registry's accounts with the directory and plan the operations."""
from ansible.module_utils.city.mail.desired import ACTIVE, DEACTIVATED, DELETED, LOCKED, MANAGED

CREATE, RENAME, MODIFY, DEACTIVATE, REACTIVATE, RESET, DELETE = (
    "create", "rename", "modify", "deactivate", "reactivate", "reset", "delete")
RESET_MARK = "reset-ticket:"  # kept in `description`, so a ticket is used once (E5)


class Operation:
    __slots__ = ("action", "account", "dn", "changes", "ticket", "before")

    def __init__(self, action, account, dn, changes=None, ticket=None, before=None):
        self.action, self.account, self.dn = action, account, dn
        self.changes, self.ticket, self.before = changes or {}, ticket, before or {}

    def as_dict(self):
        """The operation for reports and --diff: never a secret."""
        out = {"action": self.action, "address": self.account.address, "dn": self.dn}
        if self.changes:
            out["changes"] = {k: v for k, v in self.changes.items() if k != "userPassword"}
        if self.before:
            out["before"] = {k: v for k, v in self.before.items() if k != "userPassword"}
        if self.ticket:
            out["ticket"] = self.ticket
        if self.action in (CREATE, RESET):
            # Who can read it is part of the review: the one person of P17 Pasal 35.
            out["password"] = "(new, encrypted to its recipient only)"
            out["handover_to"] = self.account.recipient
        return out


def _values(entry, name):
    value = entry.get(name) or []
    # ldap3 returns attributes of syntaxes it does not know (operational ones) as bytes.
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in (value if isinstance(value, list) else [value])]


def make_plan(desired, current):
    """Operations turning ``current`` ({address: entry dict}) into ``desired``."""
    ops = []
    for address, account in sorted(desired.items()):
        entry = current.get(address)
        if entry is None and account.renamed_from and account.renamed_from not in desired:
            entry = current.get(account.renamed_from)
            # Renamed already by a run cut short before its MODIFY: only the attributes remain.
            if entry is not None and entry["dn"].lower() != account.dn.lower():
                # modrdn: the entry, its entryUUID and so its mailbox stay (the mail server
                # names a mailbox by entryUUID); the attributes follow in MODIFY.
                ops.append(Operation(RENAME, account, entry["dn"], {"dn": [account.dn]},
                                     before={"dn": [entry["dn"]], "mail": [account.renamed_from]}))
                entry = dict(entry, dn=account.dn)
        if account.state == DELETED:
            if entry is not None:
                ops.append(Operation(DELETE, account, entry["dn"]))
            continue
        if entry is None:
            attributes = dict(account.attributes)
            if account.resets:
                # A new account's first password answers every earlier ticket.
                attributes["description"] = [RESET_MARK + t for t in account.resets]
            if account.state == DEACTIVATED:
                attributes["pwdAccountLockedTime"] = [LOCKED]  # created locked, in one operation
            ops.append(Operation(CREATE, account, account.dn, attributes))
            continue
        changes, before = {}, {}
        for name in MANAGED:
            want = account.attributes.get(name, [])
            have = _values(entry, name)
            if sorted(v.lower() for v in want) != sorted(v.lower() for v in have):
                changes[name], before[name] = want, have
        if changes:
            ops.append(Operation(MODIFY, account, entry["dn"], changes, before=before))
        locked = LOCKED in _values(entry, "pwdAccountLockedTime")
        if account.state == DEACTIVATED and not locked:
            ops.append(Operation(DEACTIVATE, account, entry["dn"]))
        elif account.state == ACTIVE and locked:
            ops.append(Operation(REACTIVATE, account, entry["dn"]))
        used = {v[len(RESET_MARK):] for v in _values(entry, "description") if v.startswith(RESET_MARK)}
        for ticket in account.resets:
            if ticket not in used:
                ops.append(Operation(RESET, account, entry["dn"], ticket=ticket))
    return ops
