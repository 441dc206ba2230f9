"""The sms_phonebook filter (filter_plugins/registry_filters.py) over the registry (S1, S5).

playbooks/sms.yml writes its result whole to the gateway's phonebook.json
(docs/sms-design.md): registered users only, phones in E.164, the agency from
people.yml, groups and keywords from sms.yml.
"""
import importlib.util
import json
import os
import re
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN = os.path.join(ROOT, "filter_plugins", "registry_filters.py")
REGISTRY = os.path.join(ROOT, "inventory", "registry")


@pytest.fixture(scope="module")
def sms_phonebook():
    spec = importlib.util.spec_from_file_location("registry_filters_phonebook_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()["sms_phonebook"]


@pytest.fixture(scope="module")
def registry():
    def load(name):
        with open(os.path.join(REGISTRY, name), encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    return {name: load(name + ".yml") for name in ("sms", "sms-users", "people", "city")}


def small(users, people=(), groups=("camat",), keywords=({"keyword": "tanya", "kind": "question"},)):
    """sms.yml, sms-users.yml, people.yml and city.yml of a tiny registry."""
    return ({"groups": [{"name": g} for g in groups], "keywords": list(keywords)},
            {"users": list(users)}, {"people": list(people)}, {"policy": {"sms": {"country_code": "62"}}})


def test_the_registry_phonebook(sms_phonebook, registry):
    book = sms_phonebook(registry["sms"], registry["sms-users"], registry["people"], registry["city"])
    registered = [u for u in registry["sms-users"]["users"] if u["status"] == "registered"]
    assert book["version"] == 1
    assert set(book) == {"version", "users", "groups", "agencies", "keywords"}
    assert [u["id"] for u in book["users"]] == sorted(u["id"] for u in registered)
    assert all(re.fullmatch(r"\+628[0-9]{8,11}", u["phone"]) for u in book["users"])
    assert len({u["phone"] for u in book["users"]}) == len(book["users"])
    assert book["groups"] == sorted(g["name"] for g in registry["sms"]["groups"])
    assert [k["keyword"] for k in book["keywords"]] == [k["keyword"].upper() for k in registry["sms"]["keywords"]]
    agencies = {str(p["id"]): p.get("agency") for p in registry["people"]["people"]}
    for user in book["users"]:
        assert user["agency"] == agencies.get(user["person"])
    assert book["agencies"] == sorted({u["agency"] for u in book["users"] if u["agency"]})
    # The file the role writes: plain JSON, the same every run.
    assert json.loads(json.dumps(book, sort_keys=True)) == book


def test_deregistered_users_are_left_out(sms_phonebook, registry):
    users = registry["sms-users"]["users"]
    deregistered = [u["id"] for u in users if u["status"] != "registered"]
    assert deregistered, "the example registry has a deregistered user"
    book = sms_phonebook(registry["sms"], registry["sms-users"], registry["people"], registry["city"])
    assert not set(deregistered) & {u["id"] for u in book["users"]}

    # Deregister one more: gone from the next phonebook, the others stay.
    first = next(u for u in users if u["status"] == "registered")
    changed = {"users": [dict(u, status="deregistered") if u is first else u for u in users]}
    after = sms_phonebook(registry["sms"], changed, registry["people"], registry["city"])
    assert [u["id"] for u in after["users"]] == [u["id"] for u in book["users"] if u["id"] != first["id"]]


def test_a_small_registry(sms_phonebook):
    book = sms_phonebook(*small(
        users=[{"id": "b.user", "person": "2", "phone": "0812-3456-7890", "groups": ["lurah", "camat"],
                "status": "registered"},
               {"id": "a.user", "person": 1, "phone": "62 811 1111 2222", "status": "registered"},
               {"id": "c.user", "person": "3", "phone": "0813-0000-0000", "status": "deregistered"}],
        people=[{"id": "2", "agency": "KEC-BEKASI-TIMUR"}, {"id": 1, "agency": "SETDA"}]))
    assert book == {
        "version": 1,
        "users": [{"id": "a.user", "phone": "+6281111112222", "person": "1", "agency": "SETDA", "groups": []},
                  {"id": "b.user", "phone": "+6281234567890", "person": "2", "agency": "KEC-BEKASI-TIMUR",
                   "groups": ["camat", "lurah"]}],
        "groups": ["camat"],
        "agencies": ["KEC-BEKASI-TIMUR", "SETDA"],
        "keywords": [{"keyword": "TANYA", "kind": "question"}],
    }


def test_empty_registry(sms_phonebook):
    assert sms_phonebook({}, {}, {}, {}) == {"version": 1, "users": [], "groups": [], "agencies": [],
                                             "keywords": []}


def test_a_bad_phone_is_an_ansible_filter_error(sms_phonebook):
    with pytest.raises(AnsibleFilterError, match="contains 'X'") as info:
        sms_phonebook(*small(users=[{"id": "x", "person": "1", "phone": "0812-XXXX", "status": "registered"}]))
    assert str(info.value).startswith("sms_phonebook filter: ")
    assert isinstance(info.value.__cause__, ValueError)


def test_through_ansible():
    """The filter as playbooks/sms.yml uses it, in a real ansible run."""
    env = dict(os.environ, ANSIBLE_INVENTORY="localhost,", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)   # use the project's ansible.cfg, which sets filter_plugins
    expression = ("{{ {'keywords': [{'keyword': 'info', 'kind': 'information'}]}"
                  " | sms_phonebook({'users': [{'id': 'u', 'person': 'p', 'phone': '0812-3456-7890',"
                  " 'status': 'registered'}]}, {'people': [{'id': 'p', 'agency': 'SETDA'}]}, {}) | to_json }}")
    result = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-c", "local",
         "-m", "ansible.builtin.debug", "-a", "msg=" + expression],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '\\"phone\\": \\"+6281234567890\\"' in result.stdout or '"phone": "+6281234567890"' in result.stdout
    assert "INFORMATION" not in result.stdout and "INFO" in result.stdout
