"""A server run as a child process on 127.0.0.1 for the tests: start, wait, log, stop, kill."""
import abc
import os
import socket
import subprocess
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess(abc.ABC):
    """Subclasses set ``self.dir`` and ``name`` and say how to run and probe the server."""

    name = "server"
    proc = None

    @abc.abstractmethod
    def command(self):
        """The argument list that runs the server in the foreground."""

    @abc.abstractmethod
    def ready(self):
        """True once the server answers."""

    def start(self, timeout=20):
        log = open(os.path.join(self.dir, self.name + ".log"), "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.name, self.log()))
            try:
                if self.ready():
                    return self
            except Exception:  # not listening yet
                pass
            time.sleep(0.1)
        raise RuntimeError("%s did not answer within %ds: %s" % (self.name, timeout, self.log()))

    def wait_until(self, predicate, timeout=60):
        """Poll ``predicate`` (bounded); True when it held within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False

    def log(self):
        with open(os.path.join(self.dir, self.name + ".log"), errors="replace") as fh:
            return fh.read()[-3000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
