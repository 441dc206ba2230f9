"""Fixtures of the report tests: the example registry loaded, a small handwritten audit trail,
a real slapd with a few accounts whose last use is known, and a gateway's files.

* ``ctx``: the example registry as the reports load it (session-wide, read-only).
* ``trail_path``: ``trail_records()`` written as JSON Lines, with one torn line.
* ``directory``: a started slapd holding ``ACCOUNTS``, configured by the role ldap_directory
  (tests/ldap/slapd_server.py: its rendered templates, verified StartTLS for every client).
"""
import json
import os
import sys

import pytest

from paths import EXAMPLE, ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "ldap"))
from slapd_server import SlapdServer  # noqa: E402

from ansible.module_utils.city.reports import city  # noqa: E402
from reports_helpers import ACCOUNTS, add_accounts, trail_records  # noqa: E402


@pytest.fixture(scope="session")
def ctx():
    return city.load(EXAMPLE)


@pytest.fixture
def trail_path(tmp_path):
    path = tmp_path / "audit-trail.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in trail_records()]
    lines.insert(3, '{"v": 1, "time": "2026-03-10T02:00:01+00:00", "run": "torn", "eve')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def directory(tmp_path):
    server = SlapdServer(tmp_path / "slapd")
    add_accounts(server, ACCOUNTS)
    server.start()
    yield server
    server.stop()
