#!/usr/bin/python
"""Ansible module: render the reports for auditors and the mayor on the controller."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: city_report
short_description: Render the city's reports (D6, D9, E10, S7) to HTML and CSV on the controller
description:
  - Keeps the servers' state read by the run (O(dns_reads), O(mail_reads), O(sms_reads)) as JSON
    files in O(state_dir), then
    renders every report from the registry, the audit trail and the snapshots of O(state_dir)
    into O(output_dir) (docs/reports.md), with the same code as C(bin/city-report).
  - The renewal status of the main domain (D6); the yearly report on the subdomains for the city
    and for each agency owning one, with the changes of the year from the audit trail and the
    drift of the DNS server (D9); the mail accounts with the ones unused for a month (E10); the
    SMS Center's recap per blast and for the period (S7); an C(index.html) linking them.
  - Runs on the controller only (it needs Jinja2 and the project's templates); it reads no server.
version_added: "1.0.0"
author:
  - City infrastructure toolkit maintainers (!UNKNOWN)
options:
  registry_dir:
    description: Directory of the registry.
    type: path
    required: true
  templates_dir:
    description: Directory of the report templates (C(templates/reports) of the project).
    type: path
    required: true
  output_dir:
    description: Where the reports are written.
    type: path
    required: true
  state_dir:
    description: Where the state snapshots are kept and read from; default C(<output_dir>/state).
    type: path
  audit_trail:
    description:
      - The audit trail (JSON Lines). A missing file means no recorded change; the reports say so.
    type: path
  year:
    description: Year of the subdomain report (changes of that year in the city's time zone); default this year.
    type: int
  today:
    description: Date the renewal status is computed for, C(YYYY-MM-DD); default today in the city's time zone.
    type: str
  dns_reads:
    description:
      - The results of M(dns_zone) in check mode (its plan is the drift of the zone), one per DNS
        server, as registered by a loop (the host is the loop variable) or with the host under C(host).
      - Like every read, each is kept in O(state_dir) as C(<kind>-<host>.json), replacing that
        host's previous one; a failed or unreachable read is kept with its error. Snapshots of
        hosts not read in this run are used as they are, with the time they were taken.
    type: list
    elements: dict
    default: []
  mail_reads:
    description: The results of M(mail_inventory), one per directory read (normally the provider).
    type: list
    elements: dict
    default: []
  sms_reads:
    description: The results of M(sms_recap), one per SMS gateway.
    type: list
    elements: dict
    default: []
notes:
  - Supports check mode (renders, writes nothing, and says which files would change).
  - The files are written whole (a temporary file renamed), mode 0640; a file whose content
    is the same is left alone.
"""

EXAMPLES = r"""
- name: Render the reports from the registry, the trail and the saved state
  city_report:
    registry_dir: "{{ project_root }}/inventory/registry"
    templates_dir: "{{ project_root }}/templates/reports"
    output_dir: "{{ project_root }}/reports"
    audit_trail: "{{ project_root }}/state/audit-trail.jsonl"
    year: 2026
"""

RETURN = r"""
index:
  description: The index page of the reports.
  returned: success
  type: str
  sample: /srv/city-toolkit/reports/index.html
files:
  description: Every file of the reports.
  returned: success
  type: list
  elements: str
changed_files:
  description: The files written (in check mode, that would be written), snapshots included.
  returned: success
  type: list
  elements: str
removed:
  description: Reports of the year's directory no longer made (an agency that owns no name any more), removed.
  returned: success
  type: list
  elements: str
snapshots:
  description: The snapshot files kept from O(dns_reads), O(mail_reads) and O(sms_reads).
  returned: success
  type: list
  elements: str
summary:
  description: The headline figures of every report.
  returned: success
  type: dict
  sample:
    year: 2026
    renewal: {"domain": "bekasikota.go.id", "expires": "2027-03-15", "days_left": 111, "state": "ok"}
    domain: {"subdomains": 69, "agencies": 47, "changes": 12, "drift": 0}
    mail: {"accounts": 147, "unused": 3, "days": 30}
    sms: {"blasts": 1, "incoming": 8}
"""

from ansible.module_utils.city.reports.task import CityReport


def main():
    CityReport.main()


if __name__ == "__main__":
    main()
