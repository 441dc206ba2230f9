import os
import shutil
import sys

import pytest

from module_runner import run_module
from named_server import UPDATE_KEY, NamedServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "inventory", "registry")
sys.path.insert(0, os.path.join(ROOT, "tests", "registry"))

@pytest.fixture
def registry(tmp_path):
    target = tmp_path / "registry"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture
def named(tmp_path):
    server = NamedServer(tmp_path / "named", "bekasikota.go.id").start()
    yield server
    server.stop()


@pytest.fixture
def apply_dns(named):
    def apply(registry, check=False, diff=False, **extra):
        args = dict(registry_dir=str(registry), server="127.0.0.1", port=named.port,
                    key_name=UPDATE_KEY, key_secret=named.secret)
        args.update(extra)
        return run_module("dns_zone", args, check=check, diff=diff)
    return apply
