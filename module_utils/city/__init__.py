"""Shared, dependency-light code of the city infrastructure toolkit.

Importable as ``ansible.module_utils.city`` everywhere: inside modules AnsiballZ packs
it; on the control node (plugins, bin/, tests, benchmarks) scripts/install-deps.sh
links this folder into the project's .venv under the same name.
"""
