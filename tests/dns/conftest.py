import json
import os
import shutil
import subprocess
import sys

import pytest

from named_server import UPDATE_KEY, NamedServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "inventory", "registry")
sys.path.insert(0, os.path.join(ROOT, "tests", "registry"))

RUNNER = """
import sys
sys.path.insert(0, %r)
from registry import pathhook
pathhook.install()
import runpy
runpy.run_path(%r, run_name="__main__")
"""


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


def run_module(name, args, check=False, diff=False):
    """Run library/<name>.py as Ansible would run it; return its JSON result."""
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    code = RUNNER % (os.path.join(ROOT, "module_utils"), os.path.join(ROOT, "library", name + ".py"))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({"ANSIBLE_MODULE_ARGS": payload})],
                          capture_output=True, text=True, timeout=300, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module printed no JSON: %s %s" % (proc.stdout[-2000:], proc.stderr[-2000:]))


@pytest.fixture
def apply_dns(named):
    def apply(registry, check=False, diff=False, **extra):
        args = dict(registry_dir=str(registry), server="127.0.0.1", port=named.port,
                    key_name=UPDATE_KEY, key_secret=named.secret)
        args.update(extra)
        return run_module("dns_zone", args, check=check, diff=diff)
    return apply
