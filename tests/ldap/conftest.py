import os
import shutil

import pytest

from handover_files import HANDOVER_PASSWORD
from paths import ROOT
from slapd_server import SlapdServer


@pytest.fixture
def slapd(tmp_path):
    server = SlapdServer(tmp_path / "slapd").start()
    yield server
    server.stop()


@pytest.fixture
def registry(tmp_path):
    target = tmp_path / "registry"
    shutil.copytree(os.path.join(ROOT, "inventory", "registry"), target)
    return target


@pytest.fixture
def apply_mail(slapd, tmp_path):
    from module_runner import run_module

    def apply(registry, check=False, diff=False, **extra):
        args = dict(registry_dir=str(registry), uri=slapd.uri, bind_dn=slapd.toolkit_dn,
                    bind_password=slapd.passwords[slapd.toolkit_dn], handover_dir=str(tmp_path / "handover"),
                    handover_vault_password=HANDOVER_PASSWORD, archive_dir=str(tmp_path / "archive"))
        args.update(extra)
        return run_module("mail_accounts", args, check=check, diff=diff)
    return apply
