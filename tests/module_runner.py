"""Run a module of library/ the way Ansible does (JSON arguments in, JSON result out)."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = """
import runpy
runpy.run_path(%r, run_name="__main__")
"""


def module_command(name, args, check=False, diff=False):
    """(command, arguments file) running library/<name>.py as Ansible does.

    The arguments go in a file, as AnsiballZ hands them over: given on the command
    line, AnsibleModule would first try them as a file name, and a JSON text with a
    run of more than 255 characters without a "/" fails there (ENAMETOOLONG).
    """
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)})
    fd, path = tempfile.mkstemp(prefix="%s-args-" % name, suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(payload)
    code = RUNNER % os.path.join(ROOT, "library", name + ".py")
    return [sys.executable, "-c", code, path], path


def run_module(name, args, check=False, diff=False, timeout=600):
    """Run library/<name>.py with ``args``; return its JSON result."""
    command, path = module_command(name, args, check, diff)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        os.unlink(path)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module printed no JSON: %s %s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
