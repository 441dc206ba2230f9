import os
import shutil

import pytest

import handover_files
from paths import ROOT
from slapd_server import SlapdServer


@pytest.fixture
def slapd(tmp_path):
    """A fresh slapd of the role's rendered configuration (rendered once per session)."""
    server = SlapdServer(tmp_path / "slapd").start()
    yield server
    server.stop()


@pytest.fixture
def registry(tmp_path):
    target = tmp_path / "registry"
    shutil.copytree(os.path.join(ROOT, "inventory", "registry"), target)
    return target


@pytest.fixture(scope="session")
def keyring():
    """Key pairs of the people who receive hand-overs, made once per session (the example
    registry's keys are public only)."""
    return handover_files.keyring()


@pytest.fixture
def apply_mail(slapd, tmp_path, keyring):
    from module_runner import run_module

    def apply(registry, check=False, diff=False, **extra):
        keyring.give(registry)  # its people's keys are the tests' own: the files can be opened
        args = dict(registry_dir=str(registry), **slapd.connection_args(), handover_dir=str(tmp_path / "handover"),
                    archive_dir=str(tmp_path / "archive"))
        args.update(extra)
        return run_module("mail_accounts", args, check=check, diff=diff)
    return apply
