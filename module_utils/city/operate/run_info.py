"""Who runs what, from where, on what authority: the description of a run."""
import datetime
import getpass
import os
import socket
import subprocess
import uuid


def operator():
    """The operator: $CITY_OPERATOR (CI sets the merging user), else the login behind sudo."""
    return (os.environ.get("CITY_OPERATOR") or os.environ.get("SUDO_USER") or getpass.getuser())


def git_state(path):
    """(commit, dirty) of the git work tree holding ``path``; (None, None) outside git."""
    def git(*args):
        return subprocess.run(["git", "-C", path] + list(args), capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def new_run_id(started):
    return started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def describe(playbook, inventory, check, registry_dir):
    started = datetime.datetime.now(datetime.timezone.utc)
    commit, dirty = git_state(registry_dir) if os.path.isdir(registry_dir) else (None, None)
    info = {"run": new_run_id(started), "started": started.isoformat(), "operator": operator(),
            "control_host": socket.gethostname(), "pid": os.getpid(), "playbook": playbook,
            "inventory": list(inventory or []), "check": bool(check), "registry": registry_dir,
            "commit": commit, "dirty": dirty}
    if os.environ.get("CITY_CHANGE_URL"):  # the merge request or pipeline behind the run
        info["change_url"] = os.environ["CITY_CHANGE_URL"]
    return info
