"""Fixtures of the SMS Center tests: real gammu-smsd daemons (dummy driver), signing keys,
a phonebook built from the example registry, and signed blasts.

Fixtures (generic, for every test file of tests/sms):

* ``smsd``: two started gammu-smsd daemons, ``modem1`` and ``modem2``, under
  ``tmp_path/gateway`` (spool ``tmp_path/gateway/spool``); a dict phone_id -> Smsd,
  stopped at the end.
* ``spool``: the same layout without daemons (``<spool>/<modem>/{inbox,outbox,sent,error}``),
  returns the spool directory.
* ``signing_keys``: ed25519 key pairs made with ssh-keygen: ``.ketua``, ``.other`` and
  ``.successor``, each with ``.private`` (path) and ``.public`` (the OpenSSH public key line).
* ``approval_root``: the trust anchor the tests' inventories pin (``sms_approval__root``):
  the example registry's Ketua with the example's key and ``signing_keys.ketua``.
* ``allowed_signers``: the gateway's allowed_signers file for ``approval_root`` (as the role
  sms_gateway writes it), its path.
* ``registry_data``: the parsed example registry files (sms.yml, sms-users.yml,
  people.yml, city.yml), a dict by file name.
* ``phonebook_file``: phonebook.json written with phonebook.build from the example
  registry; its path (``tmp_path/phonebook.json``).
* ``make_blast``: a factory ``make_blast(blast_id, text, groups=..., key=...)`` that writes a
  blast file (approved 2026-11-20, expiring 2026-11-27T23:00+07:00 unless told), signs it
  with ``bin/blast-sign`` and returns its YAML text.
"""
import json
import os
import shutil
import subprocess
import sys
import types

import pytest

from paths import EXAMPLE, ROOT
from smsd_server import Smsd

from ansible.module_utils.city.registry.loader import load_file
from ansible.module_utils.city.sms import phonebook, trust

MODEMS = ("modem1", "modem2")
SEKDA = "197110171998031002"  # an originator of the example registry
EXPIRES = "2026-11-27T23:00:00+07:00"  # 7 days after the approval of blast_yaml


def _keypair(directory, name):
    path = os.path.join(str(directory), name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                   check=True, capture_output=True, timeout=30)
    with open(path + ".pub", encoding="ascii") as fh:
        public = fh.read().strip()
    return types.SimpleNamespace(private=path, public=public)


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    return types.SimpleNamespace(ketua=_keypair(directory, "ketua"),
                                 other=_keypair(directory, "other"),
                                 successor=_keypair(directory, "successor"))


@pytest.fixture(scope="session")
def approval_root(registry_data, signing_keys):
    sms = registry_data["sms.yml"]
    ketua = sms["secretariat"]["ketua"]
    return {"ketua": ketua, "keys": [k["key"] for k in sms["approval_keys"]
                                     if k["person"] == ketua] + [signing_keys.ketua.public]}


def write_signers(path, root, statements=None):
    """The allowed_signers file of the trust from ``root`` and ``statements``, root:0644."""
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(trust.allowed_signers(trust.current(root, statements)))
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def allowed_signers(tmp_path, approval_root):
    return write_signers(tmp_path / "etc" / "allowed_signers", approval_root)


@pytest.fixture(scope="session")
def registry_data():
    return {name: load_file(os.path.join(EXAMPLE, name)).data
            for name in ("sms.yml", "sms-users.yml", "people.yml", "city.yml")}


@pytest.fixture
def phonebook_file(tmp_path, registry_data):
    book = phonebook.build(registry_data["sms.yml"], registry_data["sms-users.yml"],
                           registry_data["people.yml"], registry_data["city.yml"])
    path = tmp_path / "phonebook.json"
    path.write_text(json.dumps(book, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def spool(tmp_path):
    root = tmp_path / "spool"
    for modem in MODEMS:
        for sub in ("inbox", "outbox", "sent", "error"):
            (root / modem / sub).mkdir(parents=True)
    return root


@pytest.fixture
def smsd(tmp_path):
    daemons = {}
    try:
        for modem in MODEMS:
            daemons[modem] = Smsd(tmp_path / "gateway", modem).start()
        yield daemons
    finally:
        for daemon in daemons.values():
            daemon.stop()


def blast_yaml(blast_id, text, groups=None, agencies=None, people=None, send_after=None,
               originator=SEKDA, by=None, kind="invitation", approval_date="2026-11-20",
               expires=EXPIRES, gateway=None):
    """The YAML text of a blast file with a placeholder signature (sign it with bin/blast-sign)."""
    lines = ["---", "blast:", '  id: "%s"' % blast_id, "  kind: %s" % kind,
             '  originator: "%s"' % originator,
             "  text: %s" % json.dumps(text, ensure_ascii=False), "  recipients:"]
    for field, values in (("groups", groups), ("agencies", agencies), ("people", people)):
        if values:
            lines.append("    %s: [%s]" % (field, ", ".join(json.dumps(v) for v in values)))
    if send_after:
        lines.append("  send_after: %s" % send_after)
    if gateway:
        lines.append("  gateway: %s" % gateway)
    lines += ["  approval:", '    by: "%s"' % by, "    date: %s" % approval_date]
    if expires:
        lines.append("    expires: %s" % expires)
    lines += ["    signature: |", "      -----BEGIN SSH SIGNATURE-----",
              "      unsigned", "      -----END SSH SIGNATURE-----"]
    return "\n".join(lines) + "\n"


def sign_file(path, private):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "blast-sign"), str(path),
                           private], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def make_blast(tmp_path, registry_data, signing_keys):
    ketua = registry_data["sms.yml"]["secretariat"]["ketua"]
    directory = tmp_path / "blasts"
    directory.mkdir(exist_ok=True)

    def make(blast_id, text, key="ketua", **fields):
        fields.setdefault("by", ketua)
        if not any(fields.get(f) for f in ("groups", "agencies", "people")):
            fields["groups"] = ["camat"]
        path = directory / ("%s.yml" % blast_id)
        path.write_text(blast_yaml(blast_id, text, **fields), encoding="utf-8")
        if key:
            sign_file(path, getattr(signing_keys, key).private)
        return path.read_text(encoding="utf-8")

    return make


@pytest.fixture
def copied_registry(tmp_path, signing_keys):
    """A copy of the example registry whose Ketua also holds the test key (as sms.yml says;
    it counts because the tests' inventories pin it, ``approval_root``)."""
    target = tmp_path / "registry"
    shutil.copytree(EXAMPLE, target)
    sms = target / "sms.yml"
    text = sms.read_text(encoding="utf-8")
    anchor = "approval_keys:\n"
    ketua = text.split('ketua: "', 1)[1].split('"', 1)[0]
    text = text.replace(anchor, anchor + '  - person: "%s"\n    key: "%s"\n'
                        % (ketua, signing_keys.ketua.public), 1)
    sms.write_text(text, encoding="utf-8")
    return target
