"""module_utils/city/registry/safe_read: registry files read as bounded, regular, in-tree data."""
import os
import shutil

import pytest

from ansible.module_utils.city.registry import safe_read
from paths import EXAMPLE


@pytest.fixture
def registry(tmp_path):
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    return root


def test_reads_a_file_as_the_validator_does(registry):
    data = safe_read.read(str(registry), "domain.yml")
    assert isinstance(data["domain"]["expires"], str)  # dates stay text


@pytest.mark.parametrize("target", ["/etc/hostname", "/dev/zero"])
def test_a_link_out_of_the_registry_is_refused(registry, target):
    (registry / "blasts" / "leak.yml").symlink_to(target)
    with pytest.raises(safe_read.RegistryReadError, match="leaves the registry"):
        safe_read.read(str(registry), "blasts/leak.yml")


def test_a_symlink_loop_is_refused_not_an_oserror(registry):
    (registry / "loop.yml").symlink_to(registry / "loop.yml")
    with pytest.raises(safe_read.RegistryReadError):
        safe_read.read(str(registry), "loop.yml")


def test_a_fifo_is_refused_without_blocking(registry):
    os.mkfifo(registry / "pipe.yml")
    with pytest.raises(safe_read.RegistryReadError, match="not a regular file"):
        safe_read.read(str(registry), "pipe.yml")


def test_names_cannot_climb_out(registry):
    for name in ("../x.yml", "blasts/../../x.yml", "/etc/passwd"):
        with pytest.raises(safe_read.RegistryReadError):
            safe_read.read(str(registry), safe_read.expand(str(registry), name)[0])


def test_a_glob_lists_regular_files_sorted(registry):
    (registry / "blasts" / "2026-12-001.yml").write_text("blast: {id: '2026-12-001'}\n")
    names = safe_read.expand(str(registry), "blasts/*.yml")
    assert names == sorted(names) and "blasts/2026-12-001.yml" in names


def test_an_oversized_file_is_refused(registry, monkeypatch):
    monkeypatch.setattr(safe_read, "MAX_BYTES", 1000)
    with pytest.raises(safe_read.RegistryReadError, match="more than a registry file may have"):
        safe_read.read(str(registry), "mail.yml")
