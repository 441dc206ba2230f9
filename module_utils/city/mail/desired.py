"""The mail part of the registry as directory entries (docs/directory-design.md).

Pure data: which entries should exist under ``ou=accounts``, with which attributes,
and in which state. Reading the directory, planning and applying live elsewhere.
"""
from ansible.module_utils.city.registry.names import strip_titles

ACTIVE, DEACTIVATED, DELETED = "active", "deactivated", "deleted"
LOCKED = "000001010000Z"  # ppolicy: locked until an administrator unlocks (E9, E11)
OBJECT_CLASSES = ("top", "inetOrgPerson")
# The attributes the toolkit owns on an account; any other attribute (a mail
# server's quota, the user's own telephoneNumber...) is left as it is.
MANAGED = ("objectClass", "uid", "mail", "cn", "sn", "ou", "employeeType", "employeeNumber",
           "title", "secretary", "seeAlso")


# Who receives an account's new or reset password (P17 Pasal 35, requirement E6): the
# holder of a position account (ayat (3): only the head knows the head's password) and of a
# personal account; the agency's e-mail officer (agencies.yml mail_admin, E4) for the
# agency's own account and its event accounts (ayat (2)). Nobody else, operators included.
HOLDER_KINDS = ("position", "personal")


def recipient_of(account, agencies):
    """The person id a new password of ``account`` (a mail.yml entry) is handed to, or None
    when the registry names nobody (a rule reports that); ``agencies``: {code: entry}."""
    if account.get("kind") in HOLDER_KINDS:
        holder = account.get("holder")
    else:
        agency = agencies.get(account.get("owner")) if isinstance(account.get("owner"), str) else None
        holder = agency.get("mail_admin") if isinstance(agency, dict) else None
    return holder if isinstance(holder, str) and holder else None


def delegates_of(account, agencies, holders):
    """Who else may send as ``account`` (P17 Pasal 35(2)-(3), 37(1)): the person ids whose own
    accounts log in to send in its name. A position account: its holder (from their personal
    accounts). The agency's own and event accounts: its e-mail officer (mail_admin) and its
    head. ``holders``: {person id: [addresses of their accounts]}."""
    if account.get("kind") == "position":
        people = [account.get("holder")]
    elif account.get("kind") in ("agency", "event"):
        agency = agencies.get(account.get("owner")) if isinstance(account.get("owner"), str) else None
        people = [agency.get("mail_admin"), agency.get("head")] if isinstance(agency, dict) else []
    else:
        return []
    own = str(account.get("address", "")).lower()
    return sorted({address for person in people if isinstance(person, str)
                   for address in holders.get(person, ()) if address != own})


def suffix_of(domain):
    """``bekasikota.go.id`` -> ``dc=bekasikota,dc=go,dc=id``."""
    return ",".join("dc=" + label for label in domain.rstrip(".").lower().split("."))


class Account:
    """One account as it should be in the directory."""
    __slots__ = ("dn", "address", "state", "attributes", "owner", "resets", "recipient", "renamed_from")

    def __init__(self, dn, address, state, attributes, owner, resets, recipient=None, renamed_from=None):
        self.dn, self.address, self.state = dn, address, state
        self.attributes, self.owner, self.resets = attributes, owner, resets
        self.recipient = recipient  # who its new passwords are handed to (recipient_of)
        self.renamed_from = renamed_from  # its address before, lowercased: renamed, not re-created


def desired_accounts(mail_doc, agencies_doc, people_doc, domain, base=None):
    """{lowercased address: Account} for every account of the registry."""
    base = base or "ou=accounts," + suffix_of(domain)
    agencies = {a.get("code"): a for a in agencies_doc.get("agencies") or []}
    people = {p.get("id"): p for p in people_doc.get("people") or []}
    accounts = [acc for acc in mail_doc.get("accounts") or [] if isinstance(acc, dict)]
    # The accounts a person logs in with: their personal and position accounts still there.
    holders = {}
    for acc in accounts:
        if acc.get("kind") in HOLDER_KINDS and acc.get("holder") and acc.get("status", ACTIVE) != DELETED:
            holders.setdefault(str(acc["holder"]), []).append(str(acc["address"]).lower())
    out = {}
    for acc in accounts:
        address = str(acc["address"]).lower()
        local = address.split("@", 1)[0]
        agency = agencies.get(acc.get("owner")) or {}
        holder = people.get(acc.get("holder")) or {}
        holder_name = strip_titles(str(holder.get("name", ""))) if holder else ""
        attributes = {
            "objectClass": list(OBJECT_CLASSES),
            "uid": [local],
            "mail": [address],
            "cn": [str(acc.get("display_name") or holder_name or agency.get("name") or local)],
            "sn": [holder_name or str(agency.get("acronym") or acc.get("owner") or local)],
            "ou": [str(acc.get("owner"))],
            "employeeType": [str(acc.get("kind"))],
            "employeeNumber": [str(acc["holder"])] if acc.get("holder") else [],
            "title": [str(acc["position"])] if acc.get("kind") == "position" and acc.get("position") else [],
            # Read by the mail servers (smtpd_sender_login_maps): who may send as this address.
            "secretary": ["uid=%s,%s" % (d.split("@", 1)[0], base) for d in delegates_of(acc, agencies, holders)],
        }
        resets = [str(r["ticket"]) for r in acc.get("password_resets") or [] if isinstance(r, dict)]
        out[address] = Account("uid=%s,%s" % (local, base), address, acc.get("status", ACTIVE),
                               attributes, acc.get("owner"), resets, recipient_of(acc, agencies),
                               str(acc["renamed_from"]).lower() if acc.get("renamed_from") else None)
    # The reverse of secretary, on each delegate's own entry (read by the mail servers'
    # master logins: a delegate opens the mailbox it may send as with its own password,
    # P17 Pasal 35(2)). Only the toolkit writes it: a user cannot grant themselves a mailbox.
    opens = {}
    for account in out.values():
        if account.state == DELETED:
            continue
        for delegate_dn in account.attributes["secretary"]:
            opens.setdefault(delegate_dn.lower(), []).append(account.dn)
    for account in out.values():
        account.attributes["seeAlso"] = sorted(opens.get(account.dn.lower(), [])) if account.state == ACTIVE else []
    return out
