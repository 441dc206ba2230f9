import datetime
import os
import shutil
import subprocess
import types
import zoneinfo

import pytest

from approval_fixtures import ACTIVE_BLAST, EXAMPLE_KEY, KETUA, active_blast_text, sign_blast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "inventory", "registry")
SCHEMAS = os.path.join(ROOT, "schemas")


@pytest.fixture
def registry(tmp_path):
    """A writable copy of the example registry."""
    target = tmp_path / "registry"
    shutil.copytree(EXAMPLE, target)
    return target


def _keypair(directory, name):
    path = os.path.join(str(directory), name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                   check=True, capture_output=True, timeout=30)
    with open(path + ".pub", encoding="ascii") as fh:
        return types.SimpleNamespace(private=path, public=fh.read().strip())


@pytest.fixture(scope="session")
def approval(tmp_path_factory):
    """Keys for the approval tests: ``ketua`` (pinned beside the example's key in ``root``),
    ``other`` (pinned nowhere), ``successor`` (for rotations)."""
    directory = tmp_path_factory.mktemp("approval-keys")
    keys = types.SimpleNamespace(ketua=_keypair(directory, "ketua"),
                                 other=_keypair(directory, "other"),
                                 successor=_keypair(directory, "successor"))
    keys.root = {"ketua": KETUA, "keys": [EXAMPLE_KEY, keys.ketua.public]}
    return keys


@pytest.fixture(scope="session")
def signed_base(tmp_path_factory, approval):
    """The example registry with the test Ketua key in sms.yml and a blast to send, signed
    with it, approved today (the city's day) and valid for three days."""
    base = tmp_path_factory.mktemp("signed-registry") / "registry"
    shutil.copytree(EXAMPLE, base)
    sms = base / "sms.yml"
    text = sms.read_text(encoding="utf-8")
    anchor = "approval_keys:\n"
    entry_end = text.index("originators:")
    text = (text[:entry_end] + '  - person: "%s"\n    key: "%s"\n' % (KETUA, approval.ketua.public)
            + text[entry_end:])
    assert text.index(anchor) < text.index(approval.ketua.public)
    sms.write_text(text, encoding="utf-8")
    tz = zoneinfo.ZoneInfo("Asia/Jakarta")
    today = datetime.datetime.now(tz).date()
    blast = base / ACTIVE_BLAST
    blast.write_text(active_blast_text(today.isoformat(),
                                       (today + datetime.timedelta(days=3)).isoformat()
                                       + "T17:00:00+07:00",
                                       today.isoformat() + "T07:00:00+07:00"), encoding="utf-8")
    sign_blast(blast, approval.ketua.private)
    return base


@pytest.fixture
def signed_registry(tmp_path, signed_base):
    """A writable copy of :func:`signed_base`; validate it with ``approval.root``."""
    target = tmp_path / "registry"
    shutil.copytree(signed_base, target)
    return target
