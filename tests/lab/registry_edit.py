"""A registry edit for the lab tests: one change for each service, made as a reviewer would see it.

- domain.yml: the subdomain ``dinkes`` gets a TXT record (DNS: one record set added);
- mail.yml: the first active personal account is deactivated (E9: with its request);
- sms-users.yml: a user's phone number changes (the gateway's phonebook file changes).
"""
import re
from pathlib import Path


def _replace_once(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, "%s: %r not found" % (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit(registry):
    registry = Path(registry)
    _replace_once(registry / "domain.yml", "      - {type: A, value: 192.0.2.41}\n",
                  '      - {type: A, value: 192.0.2.41}\n      - {type: TXT, value: "v=spf1 -all"}\n')
    mail = (registry / "mail.yml").read_text(encoding="utf-8")
    found = re.search(r"  - address: (\S+)\n    kind: personal\n(?:    (?!status).*\n)*?    status: active\n", mail)
    assert found, "no active personal account in mail.yml"
    block = found.group(0)
    (registry / "mail.yml").write_text(mail.replace(block, block.replace(
        "    status: active\n",
        "    status: deactivated\n    deactivation:\n      reason: moved\n"
        "      request: Surat Kepala BKPSDM Nomor 800/1-BKPSDM/XI/2026\n"
        "      validated_by: \"198212122008101001\"\n"
        "      validation_ref: Surat Kepala BKPSDM Nomor 800.1.6/2-BKPSDM.PPI/XI/2026\n"
        "      date: 2026-11-20\n"), 1), encoding="utf-8")
    _replace_once(registry / "sms-users.yml", 'phone: "+62 818-2934-0251"', 'phone: "+62 818-2934-0252"')
    return {"dns": "dinkes", "mail": found.group(1), "sms": "+62 818-2934-0252"}
