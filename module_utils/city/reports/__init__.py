"""Reports for auditors and the mayor, from the registry, the audit trail and the servers' state.

One module per job:

- ``city``: the registry loaded for the reports, and what every report says about the city;
- ``trail``: the audit trail read (tolerantly) and its change records selected;
- ``snapshots``: the servers' state as read by ``playbooks/report.yml``, kept as JSON files;
- ``domain`` (D9), ``renewal`` (D6), ``mail`` (E10), ``sms`` (S7): one builder per report,
  turning those inputs into plain data (lists of dicts);
- ``csvout``: CSV text (quoting, UTF-8, spreadsheet formulas neutralised);
- ``render``: the Jinja2 templates of ``templates/reports/`` to HTML;
- ``build``: everything together, for the module ``city_report`` and ``bin/city-report``.

Controller only: never shipped to a managed host (Jinja2, dnspython).
"""
