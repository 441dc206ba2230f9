"""Run a command of bin/ with the project's Python (.venv), before anything imports ansible.

``make install`` (scripts/install-deps.sh) creates .venv and links the toolkit's
package into it as ``ansible.module_utils.city``, the name modules use.
"""
import os
import sys


def use(root):
    """Re-execute the calling script with .venv's Python unless it already runs there."""
    venv = os.path.join(root, ".venv")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    venv_python = os.path.join(venv, "bin", "python")
    if os.path.exists(venv_python):
        os.execv(venv_python, [venv_python] + sys.argv)
    try:
        import ansible.module_utils.city  # noqa: F401 - another environment that has it
    except ImportError:
        sys.exit("the toolkit is not installed: run `make install` first")
