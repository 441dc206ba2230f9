"""Run a module of library/ the way Ansible does (JSON arguments in, JSON result out)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = """
import sys
sys.path.insert(0, %r)
from registry import pathhook
pathhook.install()
import runpy
runpy.run_path(%r, run_name="__main__")
"""


def run_module(name, args, check=False, diff=False, timeout=600):
    """Run library/<name>.py with ``args``; return its JSON result."""
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    code = RUNNER % (os.path.join(ROOT, "module_utils"), os.path.join(ROOT, "library", name + ".py"))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({"ANSIBLE_MODULE_ARGS": payload})],
                          capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module printed no JSON: %s %s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
