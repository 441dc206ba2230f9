"""Counts that tell a reader what a registry holds."""
from collections import Counter


def summarise(ctx):
    def count(relname, key, field):
        return dict(sorted(Counter(str(e.get(field)) for unused_index, e in ctx.entries(relname, key)).items()))

    return {
        "main_domain": ctx.main_domain,
        "agencies": count("agencies.yml", "agencies", "kind"),
        "people": count("people.yml", "people", "status"),
        "subdomains": count("domain.yml", "subdomains", "status"),
        "mail_accounts": count("mail.yml", "accounts", "status"),
        "mail_accounts_by_kind": count("mail.yml", "accounts", "kind"),
        "sms_users": count("sms-users.yml", "users", "status"),
        "sms_groups": len(ctx.groups),
        "sms_modems": sum(len(g.get("modems") or []) for unused_index, g in ctx.entries("sms.yml", "gateways")),
        "blasts": len(ctx.active_blast_files),
        "archived_blasts": len(ctx.archived_blast_files),
    }
