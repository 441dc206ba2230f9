"""Render the roles' own templates from registry copies, the way a real run does.

One ``ansible-playbook`` run renders every case. Each case is an inventory host on the
local connection whose ``registry_dir`` is the case's registry copy. Per role, a play
over the cases that concern it takes the playbook's own play variables and the role's
defaults and vars, reads the registry with the playbook's own "Read the registry"
task (lookup ``city_registry``), runs the role's own "Check the variables" task and
renders each of the role's templates with the project's filter plugins
(ansible.cfg). Nothing validates the registry first: what a template does with a
hostile value is what is tested.

The cases render through the ``template`` lookup: the same engine, variables and
options as the ``template`` action, on the controller only (a module run per file
and case would take minutes on a small machine). The untouched example is also
written by the real ``ansible.builtin.template`` action, to the role's own
destinations, and the tests compare both.
"""
import json
import os
import subprocess
import sys

import yaml

from paths import ROOT

ROLES = os.path.join(ROOT, "roles")

# role -> (the playbook that applies it, its templates as (key, template, file name))
ROLE_TEMPLATES = {
    "sms_gateway": ("sms.yml", [("udev", "60-sms-center-modems.rules.j2", "60-sms-center-modems.rules")]),
    "dns_server": ("dns_server.yml", [("named_local", "named.conf.local.j2", "named.conf.local"),
                                      ("named_options", "named.conf.options.j2", "named.conf.options"),
                                      ("zone", "db.zone.j2", "db.zone")]),
    "ldap_directory": ("ldap_server.yml", [("ldif", "config.ldif.j2", "config.ldif")]),
}
SMS_HOST = "sms1"  # the example registry's gateway host
ACTION = "example-by-action"
# The smsdrc names these directories; inside the case's directory, Gammu's reader
# (which looks at them) can check the rendered file.
SMS_DIRS = ("etc", "spool", "log", "data")


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _play_of(playbook):
    """The play of ``playbooks/<playbook>`` that applies its role (the one with roles:)."""
    plays = [p for p in _yaml(os.path.join(ROOT, "playbooks", playbook)) if "roles" in p]
    assert len(plays) == 1, playbook
    return plays[0]


def _read_task(role):
    """The playbook's own task that reads the registry as data: its first set_fact of lookups."""
    play = _play_of(ROLE_TEMPLATES[role][0])
    tasks = [t for t in play.get("pre_tasks") or [] if "ansible.builtin.set_fact" in t
             and "city_registry" in json.dumps(t)]
    assert tasks, play.get("name")
    return dict(tasks[0])


def _role_task(role, tasks_file, module, name_part=""):
    tasks = [t for t in _yaml(os.path.join(ROLES, role, "tasks", tasks_file))
             if module in t and name_part in t.get("name", "")]
    assert tasks, (role, tasks_file, name_part)
    return dict(tasks[0])


def _smsdrc_task():
    return _role_task("sms_gateway", "config.yml", "ansible.builtin.template", "configuration of every modem")


def _variables(role, out):
    playbook, _ = ROLE_TEMPLATES[role]
    where = "{{ t_out }}/" + role
    variables = {}
    # Lowest to highest precedence, as in a run: role defaults, play vars, role vars.
    variables.update(_yaml(os.path.join(ROLES, role, "defaults", "main.yml")))
    variables.update(_play_of(playbook).get("vars") or {})
    variables.update(_yaml(os.path.join(ROLES, role, "vars", "main.yml")))
    if role == "sms_gateway":
        variables.update(sms_registry__host=SMS_HOST, sms_gateway__driver="at",
                         sms_gateway__config_dir=where + "/etc",
                         sms_gateway__spool_dir=where + "/spool", sms_gateway__log_dir=where + "/log",
                         sms_gateway__data_dir=where + "/data")
    if role == "dns_server":
        variables.update(
            dns_server__zone_dir=where + "/zones",
            _dns_server__key_file=os.path.join(out, "tsig.key"),
            # Glue for every NS name (documentation address): the inventory's part.
            dns_server__ns_addresses="{{ dict(_dns_server__nameservers"
                                     " | zip_longest([], fillvalue=['192.0.2.53'])) }}")
    return variables


def _lookup(path):
    return "{{ lookup('ansible.builtin.template', '%s') }}" % path


def _cases_play(role, out, templates_root):
    _, templates = ROLE_TEMPLATES[role]
    source = os.path.join(templates_root, role, "templates") + "/"
    check = _role_task(role, "main.yml", "ansible.builtin.assert")
    check.update(ignore_errors=True, register="_t_%s_check" % role)
    tasks = [_read_task(role), check]
    for key, template, _name in templates:
        tasks.append({"name": "render " + template, "ignore_errors": True,
                      "register": "_t_%s_%s" % (role, key),
                      "ansible.builtin.debug": {"msg": _lookup(source + template)}})
    if role == "sms_gateway":
        real = _smsdrc_task()
        # The role's own loop and destination; one result per modem.
        tasks.append({"name": "render smsdrc.j2", "ignore_errors": True, "register": "_t_%s_smsdrc" % role,
                      "loop": real["loop"], "loop_control": {"loop_var": "modem"},
                      "ansible.builtin.debug": {"msg": {"dest": real["ansible.builtin.template"]["dest"],
                                                        "content": _lookup(source + "smsdrc.j2")}}})
    return {"name": "render the templates of %s" % role, "hosts": role, "gather_facts": False,
            "vars": _variables(role, out), "tasks": tasks}


def _action_play(role, out, templates_root):
    """The example, by the template action itself (files written, the role's smsdrc dest)."""
    _, templates = ROLE_TEMPLATES[role]
    source = os.path.join(templates_root, role, "templates") + "/"
    tasks = [_read_task(role)]
    for _key, template, name in templates:
        tasks.append({"name": "write " + template, "ansible.builtin.template": {
            "src": source + template, "dest": "{{ t_out }}/%s/%s" % (role, name), "mode": "0600"}})
    if role == "sms_gateway":
        real = _smsdrc_task()
        tasks.append({"name": "write smsdrc.j2", "loop": real["loop"], "loop_control": {"loop_var": "modem"},
                      "ansible.builtin.template": {"src": source + "smsdrc.j2", "mode": "0600",
                                                   "dest": real["ansible.builtin.template"]["dest"]}})
    return {"name": "write the templates of %s" % role, "hosts": ACTION, "gather_facts": False,
            "vars": _variables(role, out), "tasks": tasks}


def _results_play(out):
    """One file with every registered result of every case (one module run in all)."""
    parts = []
    for role, (_, templates) in ROLE_TEMPLATES.items():
        keys = ["check"] + [key for key, _, _ in templates] + (["smsdrc"] if role == "sms_gateway" else [])
        values = ", ".join("'%s': hostvars[h]['_t_%s_%s']" % (key, role, key) for key in keys)
        parts.append("{%% for h in groups['%s'] %%}{%% set _ = r.update({h ~ ' %s': {%s}}) %%}"
                     "{%% endfor %%}" % (role, role, values))
    content = "{% set r = {} %}" + "".join(parts) + "{{ r | to_json }}"
    return {"name": "results", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "results", "ansible.builtin.copy": {
            "content": content, "dest": os.path.join(out, "results.json"), "mode": "0600"}}]}


def render(cases, out, templates_root=ROLES):
    """Render the templates of the roles each case concerns, under ``out``.

    ``cases``: {case: (registry dir, roles)}; the example (case ``example``) is also
    written by the template action, under ``<out>/example-by-action/<role>/``.
    Returns {case: {role: {key: result, "dir": where the case's files of the role go}}},
    each result the ``debug`` task's: ``msg`` is the rendered text (for ``smsdrc``, a
    list of per-modem results whose ``msg`` is ``{dest, content}``) or, with
    ``failed``, the error; ``check`` is the role's own assert.
    """
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tsig.key"), "w", encoding="ascii") as handle:
        subprocess.run(["tsig-keygen", "-a", "hmac-sha256", "toolkit-update"], check=True,
                       stdout=handle, timeout=30)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    groups = {role: {"hosts": {}} for role in ROLE_TEMPLATES}
    hosts = {}
    for case, (registry_dir, roles) in list(cases.items()) + [(ACTION, (cases["example"][0],
                                                                         list(ROLE_TEMPLATES)))]:
        hosts[case] = dict(local, registry_dir=registry_dir, t_out=os.path.join(out, case))
        for role in roles:
            for directory in ("zones",) + SMS_DIRS:
                os.makedirs(os.path.join(out, case, role, directory), exist_ok=True)
            if case != ACTION:
                groups[role]["hosts"][case] = None
    inventory = os.path.join(out, "hosts.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"hosts": dict(hosts, localhost=local), "children": groups}}, handle)
    plays = [_cases_play(role, out, templates_root) for role in ROLE_TEMPLATES]
    plays += [_action_play(role, out, templates_root) for role in ROLE_TEMPLATES]
    plays.append(_results_play(out))
    playbook = os.path.join(out, "render.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORKS="4")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", inventory, playbook], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    with open(os.path.join(out, "results.json"), encoding="utf-8") as handle:
        registered = json.load(handle)
    found = {case: {} for case in cases}
    for key, results in registered.items():
        case, role = key.split(" ")
        results["dir"] = os.path.join(out, case, role)
        if "smsdrc" in results:
            results["smsdrc"] = results["smsdrc"].get("results") or []
        found[case][role] = results
    return found
