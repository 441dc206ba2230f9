"""Make ``ansible.module_utils.registry`` importable on the control node.

Modules get this package from AnsiballZ; plain Python entry points (the validation
command, filter plugins, tests, benchmarks) call :func:`install` first.
"""
import os

MODULE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install(module_utils_dir=MODULE_UTILS_DIR):
    import ansible.module_utils as amu
    if module_utils_dir not in amu.__path__:
        amu.__path__.append(module_utils_dir)


def reexec_in_project_venv(root):
    """Run the calling script with the project's .venv Python when ansible is missing.

    Lets ``bin/...`` commands work from any shell, before or after ``make install``.
    """
    import sys
    try:
        import ansible  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = os.path.join(root, ".venv", "bin", "python")
    in_venv = os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(root, ".venv"))
    if os.path.exists(venv_python) and not in_venv:
        os.execv(venv_python, [venv_python] + sys.argv)
    sys.exit("ansible is not installed: run `make install` first")
