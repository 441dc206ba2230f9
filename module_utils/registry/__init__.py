"""Shared, dependency-light code of the city infrastructure toolkit.

Importable as ``ansible.module_utils.registry`` inside modules (AnsiballZ packs it)
and, on the control node, after :func:`tests`/CLI entry points put this directory on
``ansible.module_utils.__path__`` (see ``module_utils/registry/pathhook.py``).
"""
