"""What the approval tests of tests/registry share: the example's Ketua and key, the blast
to send of the signed registry (conftest.py ``signed_registry``), signing with bin/blast-sign.

A module of its own: a conftest is never imported by name (several exist).
"""
import os
import subprocess
import sys

from paths import EXAMPLE, ROOT

KETUA = "198108022010041003"  # the example registry's Ketua
EXAMPLE_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGRUIJg1xz/apo7dFGc9n5FqeeDPr9HRHexFp+RfoMm "
               "ketua-smscenter")
# A blast to send, as the broken-registry cases expect it (the archived example's text).
ACTIVE_BLAST = "blasts/2026-12-101.yml"


def sign_blast(path, private_key):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "blast-sign"), str(path),
                           private_key], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def active_blast_text(approved_on, expires, send_after):
    """The archived example blast as a blast to send: a new id, an approval of today."""
    with open(os.path.join(EXAMPLE, "blasts", "archive", "2026-11-001.yml"), encoding="utf-8") as fh:
        text = fh.read()
    for old, new in (("$schema=../../../../schemas", "$schema=../../../schemas"),
                     ('id: "2026-11-001"', 'id: "2026-12-101"'),
                     ("send_after: 2026-11-23T07:00:00+07:00", "send_after: %s" % send_after),
                     ("    date: 2026-11-20\n", "    date: %s\n    expires: %s\n" % (
                         approved_on, expires))):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text
