"""playbooks/servers.yml configures each server as its own playbook does (issue 14, item 4).

site.yml and plan.yml configure every server in one play (servers.yml, the hosts side
by side) instead of the plays of dns_server.yml, ldap_server.yml and sms.yml one after
the other. It repeats their variables, registry reads and roles: a change to one of
those playbooks that servers.yml lacks would make `make site` configure a server
differently from the playbook run alone. These tests compare the files.
"""
from pathlib import Path

import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
SERVERS = {"dns_server.yml": "dns_primary", "ldap_server.yml": "directory", "sms.yml": "sms_gateways"}
CONDITION = {"dns_primary": "_servers__dns", "directory": "_servers__directory", "sms_gateways": "_servers__sms"}
# What may differ in a task of servers.yml: its name, its condition (the host's group).
# The guard that ends a server playbook's play for a host servers.yml configured is
# the server playbooks' own.
ADDED = ("name", "when")
GUARD = "city_servers__configured"


def plays(name):
    return [p for p in yaml.safe_load((PLAYBOOKS / name).read_text(encoding="utf-8")) if "hosts" in p]


def servers_play():
    (play,) = plays("servers.yml")
    return play


def task_body(task):
    return {k: v for k, v in task.items() if k not in ADDED}


def included_roles(play):
    return {t["ansible.builtin.include_role"]["name"]: t for t in play["tasks"]
            if "ansible.builtin.include_role" in t}


def test_servers_play_runs_on_the_server_playbooks_hosts():
    play = servers_play()
    assert set(play["hosts"].split(":")) == set(SERVERS.values())
    for name in SERVERS:
        (own,) = plays(name)
        assert own.get("become") == play.get("become") and own.get("gather_facts") == play.get("gather_facts")


def test_servers_play_has_each_server_playbooks_variables():
    play = servers_play()
    for name in SERVERS:
        (own,) = plays(name)
        for key, value in own.get("vars", {}).items():
            assert play["vars"].get(key) == value, "%s: variable %s differs in servers.yml" % (name, key)


def test_servers_play_reads_the_registry_as_each_server_playbook_does():
    play = servers_play()
    bodies = [task_body(t) for t in play["pre_tasks"]]
    for name in SERVERS:
        (own,) = plays(name)
        for task in own.get("pre_tasks", []):
            if GUARD in str(task.get("when", "")):
                continue
            assert task_body(task) in bodies, "%s: pre-task %r is not in servers.yml" % (name, task["name"])


def test_servers_play_includes_each_role_for_its_group_alone():
    roles = included_roles(servers_play())
    for name, group in SERVERS.items():
        (own,) = plays(name)
        (role,) = own["roles"]
        task = roles[role["role"]]
        assert task["when"] == CONDITION[group]
        assert servers_play()["vars"][task["when"]] == "{{ '%s' in group_names }}" % group
        # The tag the read-only and registry plans skip reaches the role's tasks.
        assert task["ansible.builtin.include_role"]["apply"]["tags"] == ["city_server"]


def test_server_playbooks_end_for_a_host_servers_yml_configured():
    marks = [t for t in servers_play()["post_tasks"] if GUARD in t.get("ansible.builtin.set_fact", {})]
    assert marks
    for name in ("dns_server.yml", "ldap_server.yml"):
        (own,) = plays(name)
        first = own["pre_tasks"][0]
        assert first["ansible.builtin.meta"] == "end_host" and GUARD in first["when"], name


def test_site_configures_the_servers_before_applying_the_registry():
    site = yaml.safe_load((PLAYBOOKS / "site.yml").read_text(encoding="utf-8"))
    imports = [p["ansible.builtin.import_playbook"] for p in site if "ansible.builtin.import_playbook" in p]
    assert imports.index("servers.yml") < imports.index("dns.yml") < imports.index("mail.yml")
    assert "sms.yml" not in imports, "sms.yml's play is servers.yml's: it would run twice"
    (servers,) = [p for p in site if p.get("ansible.builtin.import_playbook") == "servers.yml"]
    assert servers["tags"] == ["city_server"]
