"""Tests of filter_plugins/registry_filters.py, directly and through a real ansible run."""
import importlib.util
import os
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN = os.path.join(ROOT, "filter_plugins", "registry_filters.py")

NAMES = {"e164", "mail_localpart", "strip_titles", "sms_encoding", "sms_segments",
         "sms_info", "mail_number", "to_roman", "in_pool", "sms_phonebook"}


@pytest.fixture(scope="module")
def filters():
    spec = importlib.util.spec_from_file_location("registry_filters_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__
    return module.FilterModule().filters()


def test_filter_names(filters):
    assert set(filters) == NAMES


def test_one_import_name_for_the_toolkit(filters):
    """The plugins import the project's module_utils/city as ansible.module_utils.city."""
    import ansible.module_utils.city
    assert os.path.realpath(ansible.module_utils.city.__file__) == os.path.realpath(
        os.path.join(ROOT, "module_utils", "city", "__init__.py"))


@pytest.mark.parametrize("name, args, expected", [
    ("e164", ("0812-3456-7890",), "+6281234567890"),
    ("e164", ("+65 6123 4567", "65"), "+6561234567"),
    ("mail_localpart", ("Dr. H. Ahmad Fauzi, S.Kom., M.T.",), "ahmad.fauzi"),
    ("mail_localpart", ("Hj. Dewi Ratna Sari, S.E.", "_"), "dewi_ratna_sari"),
    ("strip_titles", ("Hj. Dewi Ratna Sari, S.E.",), "Dewi Ratna Sari"),
    ("sms_encoding", ("Rapat pukul 08.00",), "GSM-7"),
    ("sms_encoding", ("Rapat \u2013 08.00",), "UCS-2"),
    ("sms_segments", ("a" * 161,), 2),
    ("sms_segments", ("",), 0),
    ("sms_info", ("a€",), {"encoding": "GSM-7", "units": 3, "segments": 1,
                          "non_gsm_chars": []}),
    ("mail_number", (14, 2, 2021), "014/II/2021"),
    ("to_roman", (12,), "XII"),
    ("in_pool", ("192.0.2.5", ["192.0.2.0/24"]), True),
    ("in_pool", ("203.0.113.5", ["192.0.2.0/24"]), False),
])
def test_filters(filters, name, args, expected):
    assert filters[name](*args) == expected


@pytest.mark.parametrize("name, args, reason", [
    ("e164", ("0812-ABCD",), "contains 'A'"),
    ("e164", ("+1 202 555 0100",), r"country code other than \+62"),
    ("e164", (None,), "must be a string"),
    ("mail_localpart", ("Dr. H.",), "no letters or digits"),
    ("mail_localpart", (None,), "must be a string"),
    ("strip_titles", (7,), "must be a string"),
    ("sms_encoding", (None,), "must be a string"),
    ("sms_segments", (160,), "must be a string"),
    ("sms_info", (None,), "must be a string"),
    ("mail_number", (0, 2, 2021), "1 or more"),
    ("mail_number", (1, 13, 2021), "month must be 1 to 12"),
    ("to_roman", (4000,), "1 to 3999"),
    ("in_pool", ("192.0.2.999", ["192.0.2.0/24"]), "not an IP address"),
    ("in_pool", ("192.0.2.5", ["192.0.2.1/24"]), "host bits set"),
])
def test_filters_raise_ansible_filter_error(filters, name, args, reason):
    with pytest.raises(AnsibleFilterError, match=reason) as info:
        filters[name](*args)
    assert str(info.value).startswith(name + " filter: ")
    assert isinstance(info.value.__cause__, ValueError)


def test_end_to_end_ansible_run():
    env = dict(os.environ, ANSIBLE_INVENTORY="localhost,", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)   # use /work/main/ansible.cfg, which sets filter_plugins
    result = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-c", "local",
         "-m", "ansible.builtin.debug", "-a", "msg={{ '0812-3456-7890' | e164 }}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "+6281234567890" in result.stdout
