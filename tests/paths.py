"""Paths the tests share (never import them from a conftest: several exist)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "inventory", "registry")
SCHEMAS = os.path.join(ROOT, "schemas")
# The inventory that pins who approves blasts in the tests (group_vars/all/sms_approval.yml).
LAB_INVENTORY = os.path.join(ROOT, "inventory", "lab")
