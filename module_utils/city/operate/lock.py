"""One apply at a time on a control node.

The lock is an exclusive ``flock`` on ``apply.lock`` held by the ansible-playbook
process for the whole run. The kernel releases it when that process dies, however it
dies, so a killed apply can never block the next one. What stays behind is the
holder's description, written into the lock file when the lock is taken and erased
when the run ends cleanly: a description found by the next holder is a run that was
interrupted, which the caller records before going on.

Ansible's workers are forks of ansible-playbook and share the lock: when only the main
process is killed, the task a worker is running still holds the lock until it ends, so
a new apply never runs beside the remains of the old one.
"""
import fcntl
import json
import os

from ansible.module_utils.city import fsutil


class LockBusy(Exception):
    def __init__(self, holder, waited):
        self.holder, self.waited = holder, waited
        super().__init__(describe(holder))


def describe(holder):
    if not holder:
        return "another apply (it has not described itself yet)"
    return "the apply %s started %s by %s on %s (pid %s, %s)" % (
        holder.get("run", "?"), holder.get("started", "?"), holder.get("operator", "?"),
        holder.get("control_host", "?"), holder.get("pid", "?"), holder.get("playbook", "?"))


def holder_alive(holder):
    """Whether the holder's main process still runs (True when it cannot be told from here)."""
    import socket
    if holder.get("control_host") != socket.gethostname() or not holder.get("pid"):
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True
    return True


class ApplyLock:
    def __init__(self, path):
        self.path = path
        self.fd = None

    def _read_holder(self, fd):
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        try:
            return json.loads(data.decode("utf-8")) if data.strip() else None
        except ValueError:
            return {"run": "?", "note": "unreadable holder description"}

    def acquire(self, holder, wait=0.0, poll=0.5, on_wait=None):
        """Take the lock and describe ``holder`` in it; return the previous, unfinished holder.

        Waits up to ``wait`` seconds for a running apply, calling ``on_wait(holder)``
        once; raises LockBusy naming the holder when it is still running after that.
        """
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        seen = []

        def busy(fd):
            seen.append(self._read_holder(fd))
            if on_wait and len(seen) == 1:
                on_wait(seen[0])
        try:
            fd = fsutil.flock(self.path, wait=max(0.0, wait), poll=poll, on_busy=busy)
        except fsutil.LockTimeout:
            raise LockBusy(seen[-1] if seen else None, wait)
        previous = self._read_holder(fd)
        self.fd = fd
        self._write(holder)
        return previous

    def _write(self, holder):
        data = json.dumps(holder, sort_keys=True).encode("utf-8") if holder else b""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)

    def release(self):
        """End the run cleanly: erase the description, then let the lock go."""
        if self.fd is None:
            return
        try:
            self._write(None)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
