"""Connection plugin: containers.podman.podman with pipelining, for the lab's containers."""
from __future__ import annotations

DOCUMENTATION = r"""
name: podman_pipelined
short_description: Run tasks in a podman container, the module piped to its Python
description:
  - >-
    The connection C(containers.podman.podman) with pipelining: each module goes to the
    container's Python on the standard input of one C(podman exec -i), instead of five
    C(podman exec) calls (home directory, temporary directory, C(chmod), run, clean up)
    around a file copy. About a fifth of a second per C(podman exec) on the lab machine,
    so a task costs under half of what it did (make plan, bench/plan_bench.py). The
    container's root filesystem is mounted (C(podman mount)) only when a file is copied,
    not for every task.
  - >-
    Everything else (file transfers through the container's mounted root filesystem,
    the options) is the collection's plugin's. Used by the lab inventory
    (inventory/lab/group_vars/lab_hosts.yml); production reaches its hosts over SSH.
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description: The name or ID of the container.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description: The user the commands run as inside the container (C(podman exec --user)).
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments of the podman command line.
    default: ''
    ini:
      - section: defaults
        key: podman_extra_args
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  podman_executable:
    description: The podman command.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """The collection's podman connection; a command given input gets ``podman exec -i``."""

    transport = "podman_pipelined"
    # The collection's plugin refuses pipelining because its `podman exec` has no -i:
    # the module piped to Python would never arrive. This one passes stdin on.
    has_pipelining = True

    def _connect(self):
        # The collection's plugin runs `podman mount` for every task; only a file
        # transfer needs the mount point, so it is asked for there (_mounted).
        self._connected = True
        self._mount_asked = False
        return self

    def _mounted(self):
        if not self._mount_asked:
            self._mount_asked = True
            super()._connect()

    @ensure_connect
    def put_file(self, in_path, out_path):
        self._mounted()
        super().put_file(in_path, out_path)

    @ensure_connect
    def fetch_file(self, in_path, out_path):
        self._mounted()
        super().fetch_file(in_path, out_path)

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        args = ["exec"]
        if in_data is not None:
            args.append("-i")
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
