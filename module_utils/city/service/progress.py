"""How far a long piece of work is, for the callback plugin city_progress to print while it runs.

A module's output reaches Ansible only when the module ends, so an apply of minutes
(20,000 accounts hashed by slapd) would be one silent task. A :class:`Progress` writes
its counts to a small JSON file in the directory named by ``CITY_PROGRESS_DIR``, which
the plugin creates on the control node and polls; the modules that run there (the
toolkit's bulk modules, delegated to localhost) inherit the variable from the controller.
Elsewhere (a module on a remote host) the variable is unset and a Progress does nothing.

The file holds the label the caller fixed, counts and times, nothing else: no registry
value, no name of an object. Progress never fails the work it reports on: a file that
cannot be written only stops the reporting.
"""
import itertools
import json
import os
import threading
import time

from ansible.module_utils.city import fsutil

ENV = "CITY_PROGRESS_DIR"
# Often enough for a poller that prints every few seconds, rarely enough that 8 threads
# acknowledging hundreds of operations a second do not spend their time writing files.
MIN_INTERVAL = 0.5
_numbers = itertools.count(1)


class Progress:
    """``what`` (a fixed label, e.g. "mail accounts") done of ``total``, in ``unit``.

    Usable as a context manager; :meth:`advance` may be called from many threads. The
    file is ``<CITY_PROGRESS_DIR>/<pid>-<n>.json``, written whole (a reader never sees
    half of it) at most every :data:`MIN_INTERVAL` seconds, and removed by :meth:`close`.
    """

    def __init__(self, what, total, unit=""):
        self.what, self.total, self.unit = str(what), max(0, int(total)), str(unit)
        self.done = 0
        self.started = self.updated = time.time()
        self._lock = threading.Lock()
        self._written = 0.0
        folder = os.environ.get(ENV)
        self.path = None
        if folder and self.total and os.path.isdir(folder):
            self.path = os.path.join(folder, "%d-%d.json" % (os.getpid(), next(_numbers)))
            self._write(force=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def advance(self, n=1):
        """Count ``n`` more units done."""
        if self.path is None:
            return
        with self._lock:
            self.done += n
            self.updated = time.time()
            self._write()

    def close(self):
        """The work is over (done or not): remove the file, report nothing more."""
        with self._lock:
            path, self.path = self.path, None
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass

    def state(self):
        return {"what": self.what, "unit": self.unit, "done": self.done, "total": self.total,
                "started": self.started, "updated": self.updated, "pid": os.getpid()}

    def _write(self, force=False):
        # Called with the lock held (or before any other thread knows the object).
        if self.path is None or (not force and self.updated - self._written < MIN_INTERVAL):
            return
        self._written = self.updated
        try:
            fsutil.atomic_write(self.path, json.dumps(self.state()), mode=0o600, durable=False)
        except OSError:
            self.path = None  # e.g. the plugin removed its directory: stop reporting, keep working
