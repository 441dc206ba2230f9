"""Which hosts of a run would be reached over SSH without a pinned host key.

``hostvars | unverified_ssh_hosts(hosts, host_key_checking, ssh_args)`` returns
``"host: reason"`` for every host in ``hosts`` that connects over SSH (ssh, smart,
paramiko) and whose key would not be checked against a pinned known-hosts file.
playbooks/validate.yml stops a run that has one: an impersonated host would receive
the vault's secrets.

A host is verified when Ansible's host key checking is on (globally and for that
host) and its SSH options say ``StrictHostKeyChecking=yes`` with a
``UserKnownHostsFile`` of its own. ssh takes the first value it is given of an option
and Ansible puts the global ``ssh_args`` first, so a ``no``, ``off`` or
``accept-new`` anywhere in them is refused even when a later option says ``yes``.
"""
import re
import shlex

from ansible.errors import AnsibleFilterError

SSH_CONNECTIONS = frozenset(("ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                             "ansible.builtin.smart", "ansible.builtin.paramiko_ssh",
                             "ansible.builtin.paramiko"))
_ARG_VARIABLES = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")
_OPTION = re.compile(r"^(?:-o)?\s*([A-Za-z]+)\s*[= ]\s*(.*)$")


def _bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _options(text):
    """The ``-o Name=value`` options of an ssh argument string, in order, names lowercased."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise AnsibleFilterError("unverified_ssh_hosts: SSH arguments that do not parse: %s" % exc)
    found = []
    for i, word in enumerate(words):
        if word == "-o" and i + 1 < len(words):
            word = words[i + 1]
        elif word.startswith("-o"):
            word = word[2:]
        else:
            continue
        match = _OPTION.match(word)
        if match:
            found.append((match.group(1).lower(), match.group(2).strip().strip('"')))
    return found


def _reason(host, host_vars, host_key_checking, ssh_args):
    if str(host_vars.get("ansible_connection", "ssh")) not in SSH_CONNECTIONS:
        return None
    # `-i localhost,` lists the control node itself; its plays run with connection local.
    if host == "localhost" and "ansible_host" not in host_vars:
        return None
    for name in ("ansible_host_key_checking", "ansible_ssh_host_key_checking",
                 "ansible_paramiko_host_key_checking"):
        if name in host_vars and not _bool(host_vars[name]):
            return "%s is false" % name
    if not _bool(host_key_checking):
        return "host key checking is off in the Ansible configuration (host_key_checking, ANSIBLE_HOST_KEY_CHECKING)"
    if str(host_vars.get("ansible_connection", "ssh")).endswith("paramiko") or "paramiko_ssh" in str(
            host_vars.get("ansible_connection", "")):
        return "paramiko checks keys against the user's own known hosts, not the inventory's: use ssh"
    options = _options(ssh_args) + [o for name in _ARG_VARIABLES for o in _options(host_vars.get(name, ""))]
    strict = [value.lower() for name, value in options if name == "stricthostkeychecking"]
    files = [value for name, value in options if name == "userknownhostsfile"]
    if not strict or strict[0] != "yes":
        return "its SSH options do not start with StrictHostKeyChecking=yes (found: %s)" % (
            strict[0] if strict else "none")
    if not files or files[0] in ("", "/dev/null", "none"):
        return "its SSH options name no UserKnownHostsFile of pinned keys"
    return None


def unverified_ssh_hosts(hostvars, hosts, host_key_checking=True, ssh_args=""):
    found = []
    for host in sorted(set(hosts)):
        reason = _reason(host, hostvars[host], host_key_checking, ssh_args)
        if reason:
            found.append("%s: %s" % (host, reason))
    return found


class FilterModule:
    def filters(self):
        return {"unverified_ssh_hosts": unverified_ssh_hosts}
