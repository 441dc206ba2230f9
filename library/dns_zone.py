#!/usr/bin/python
"""Ansible module: apply the DNS part of the registry to the primary in one call."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: dns_zone
short_description: Apply the subdomains of the registry to the primary DNS server in bulk
description:
  - Reads the zone from the primary by AXFR (TSIG), computes the plan (record sets to
    add, change and delete) for the names the registry owns, and applies it by dynamic
    update (RFC 2136) in as few UPDATE messages as the size limit allows.
  - Every change carries a prerequisite on the state that was read, so a record changed
    by someone else since the read makes the update fail cleanly instead of being
    overwritten; the failure names the conflicting names, and a re-run converges.
  - "Ownership: the registry owns the record sets of types A, AAAA, CNAME, MX, TXT, SRV
    and CAA at or below every subdomain it lists (whatever its status), and at the main
    domain and the names of its C(apex.records), and with a C(domain.mail) block at C(_dmarc),
    the mail services' SRV names and every name under C(_domainkey). It never touches SOA, NS or DNSSEC
    records, names under a label listed in O(unmanaged_labels) (C(_acme-challenge) by
    default), or names the registry does not mention."
  - "The main domain's mail records come from C(domain.mail): one MX per exchanger, the SPF
    TXT record, a DKIM TXT record per selector (the key from O(dkim_public_keys)), the DMARC TXT
    record at C(_dmarc) and the SRV records of the mail services (RFC 6186)."
  - "Subdomain status: C(active) publishes its records; C(suspended) (D7) replaces them by
    the pool's suspension target at the subdomain's name (its records stay in the
    registry and come back unchanged); C(deactivated) removes them."
  - A safety threshold refuses to change or delete more than O(max_change_ratio) of the
    owned record sets in one run unless O(force) is set.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
extends_documentation_fragment:
  - reviewed_plan
options:
  registry_dir:
    description: Directory of the registry; its C(domain.yml) is applied.
    type: path
    required: true
  zone:
    description: The zone to apply; default is the main domain of C(domain.yml).
    type: str
  server:
    description: Address of the primary server (as seen from the control node).
    type: str
    required: true
  port:
    description: Port of the primary server.
    type: int
    default: 53
  key_name:
    description:
      - Name of the TSIG key the zone is read (AXFR) and updated with.
      - In check mode the module only reads, so a key allowed to transfer and not to update the zone
        (the role dns_server's transfer-only key) is enough, and is what the read-only plan and the
        reports use; an UPDATE signed with it is refused by the server.
    type: str
    required: true
  key_secret:
    description: Base64 secret of the TSIG key (from ansible-vault).
    type: str
    required: true
  key_algorithm:
    description: TSIG algorithm.
    type: str
    default: hmac-sha256
    choices: [hmac-sha256, hmac-sha384, hmac-sha512]
  timeout:
    description: Seconds to wait for each answer of the server.
    type: float
    default: 10
  max_change_ratio:
    description: Largest share (0 to 1) of the owned record sets that one run may change or
      delete without O(force); up to 5 changes are always allowed.
    type: float
    default: 0.25
  force:
    description: Apply even when the plan exceeds O(max_change_ratio).
    type: bool
    default: false
  unmanaged_labels:
    description: Names with one of these labels are never touched.
    type: list
    elements: str
    default: [_acme-challenge]
  max_message_size:
    description: Largest UPDATE message to send, in bytes (TCP allows 65535).
    type: int
    default: 60000
  dkim_public_keys:
    description:
      - DKIM public keys of the main domain, selector -> base64 of the DER SubjectPublicKeyInfo
        (C(vault_mail_dkim_private_key | dkim_public_key)), from the inventory variable
        C(city_mail__dkim_public_keys); never from the registry, so that an edit of the registry
        chooses which selectors are published (C(domain.mail.dkim.selectors)), not the keys.
      - Each key must be RSA of 2048 to 8192 bits or Ed25519; any other value fails the module
        before the zone is read. A selector the registry names without a key here fails the
        module, naming the variable to set; a key for a selector the registry does not name is
        not published, and the plan says so in a note.
      - "Published as C(<selector>._domainkey) TXT C(v=DKIM1; k=rsa; p=...) (for Ed25519,
        C(k=ed25519) and the bare 32-byte key, RFC 8463), in strings of at most 255 bytes."
      - Not given, the module plans no DKIM record and leaves the names under C(_domainkey)
        as they are (a note says so); C(playbooks/dns.yml) always gives it.
    type: dict
requirements:
  - dnspython >= 2.4
  - PyYAML
notes:
  - Supports check mode (shows the plan) and diff mode (record by record).
  - Run the registry validation first (C(playbooks/validate.yml)); this module trusts it.
"""

EXAMPLES = r"""
- name: Apply the subdomains of the registry
  dns_zone:
    registry_dir: "{{ project_root }}/inventory/registry"
    server: 127.0.0.1
    port: 15353
    key_name: toolkit-update
    key_secret: "{{ vault_dns_tsig_secret }}"

- name: Apply the registry with the main domain's DKIM key, derived from the vault's private key
  dns_zone:
    registry_dir: inventory/registry
    server: 192.0.2.53
    key_name: toolkit-update
    key_secret: "{{ vault_dns_tsig_secret }}"
    dkim_public_keys:
      city2026: "{{ vault_mail_dkim_private_key | dkim_public_key }}"

- name: Show what would change, record by record
  dns_zone:
    registry_dir: inventory/registry
    server: 192.0.2.53
    key_name: toolkit-update
    key_secret: "{{ vault_dns_tsig_secret }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
plan:
  description: Counts of the plan and of the owned record sets before it.
  returned: always
  type: dict
  sample: {"add": 3, "change": 1, "delete": 0, "owned_rrsets_before": 120}
changes:
  description: Every planned change with the records before and after, as zone-file lines.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "add", "name": "ppid.bekasikota.go.id.", "type": "A",
            "before": [], "after": ["ppid.bekasikota.go.id. 3600 IN A 192.0.2.60"]}]
messages:
  description: Number of UPDATE messages sent (0 in check mode or when nothing changes).
  returned: always
  type: int
conflicts:
  description: Names changed on the server between the read and the update.
  returned: on conflict
  type: list
  elements: str
timing:
  description: Seconds spent reading the zone, planning and applying, measured inside the module.
  returned: always
  type: dict
  sample: {"read": 0.08, "plan": 0.01, "apply": 0.05}
"""

from ansible.module_utils.city.dns.service import DnsZone


def main():
    DnsZone.main()


if __name__ == "__main__":
    main()
