"""One directory and one mail server for the mail tests: the example registry applied
once by mail_accounts, Postfix and Dovecot of the role mail_server on it.

The tests share them (a rendering and a registry apply cost seconds each) and use
different accounts; a test that changes an account's state puts it back or uses one no
other test reads.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ldap"))
import handover_files  # noqa: E402
from mail_servers import MailServers  # noqa: E402
from paths import EXAMPLE  # noqa: E402
from slapd_server import SlapdServer  # noqa: E402


class Directory:
    """The session's slapd, its registry and the passwords handed over for it."""

    def __init__(self, root, keyring):
        self.root = Path(root)
        self.registry = self.root / "registry"
        shutil.copytree(EXAMPLE, self.registry)
        self.keyring = keyring
        self.slapd = SlapdServer(self.root / "slapd").start()
        self.passwords = {}

    def apply(self, **extra):
        from module_runner import run_module
        self.keyring.give(self.registry)
        args = dict(registry_dir=str(self.registry), **self.slapd.connection_args(),
                    handover_dir=str(self.root / "handover"), archive_dir=str(self.root / "archive"))
        args.update(extra)
        result = run_module("mail_accounts", args)
        assert not result.get("failed"), result.get("msg")
        self.passwords.update(handover_files.handed_over(result["handover_files"]))
        return result

    def dn(self, address):
        return "uid=%s,%s" % (address.split("@")[0], self.slapd.base)


@pytest.fixture(scope="session")
def directory(tmp_path_factory):
    ring = handover_files.keyring()
    directory = Directory(tmp_path_factory.mktemp("mail-directory"), ring)
    directory.apply()
    yield directory
    directory.slapd.stop()


@pytest.fixture(scope="session")
def mail(directory):
    # Not under pytest's temporary directory: it is root's alone (0700), and the
    # daemons run as postfix, dovecot and the mailboxes' owner.
    work = tempfile.mkdtemp(prefix="city-test-mail-")
    os.chmod(work, 0o755)
    servers = MailServers(work, directory.slapd).start()
    yield servers
    servers.stop()
    shutil.rmtree(work, ignore_errors=True)
