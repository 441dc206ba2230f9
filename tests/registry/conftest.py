import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "inventory", "registry")
SCHEMAS = os.path.join(ROOT, "schemas")


@pytest.fixture
def registry(tmp_path):
    """A writable copy of the example registry."""
    target = tmp_path / "registry"
    shutil.copytree(EXAMPLE, target)
    return target
