"""Open the hand-over files the way their one recipient does: ``age -d -i KEY FILE``.

The example registry's hand-over keys are public only (their private halves were never
kept), so the tests make key pairs of their own, one per person and of the same type as
the example's (age X25519, ssh-ed25519, ssh-rsa), and put the public halves into the
registry copy they apply (:meth:`Keyring.give`). Files are opened with the real ``age``
command (Debian's, a Go implementation), not with the library that wrote them (pyrage, the
Rust one): that the two agree is part of what the tests prove.
"""
import atexit
import json
import os
import shutil
import subprocess
import tempfile

import yaml

AGE = shutil.which("age") or "/usr/bin/age"


def _kind(line):
    return "age" if line.startswith("age1") else line.split(None, 1)[0]


class Keyring:
    """Key pairs made by the tests: ``identity(person)`` is the private key file, never
    anywhere but a temporary directory of this test session."""

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="handover-keys-")
        os.chmod(self.dir, 0o700)
        self.public, self.files = {}, {}
        self._ours = set()

    def make(self, name, kind="age"):
        """A new key pair under ``name`` (a person id, or any other holder such as an
        operator): returns the public key line."""
        path = os.path.join(self.dir, "%s-%s" % (name, len(self.files)))
        if kind == "age":
            subprocess.run(["age-keygen", "-o", path], check=True, capture_output=True, timeout=30)
            public = subprocess.run(["age-keygen", "-y", path], check=True, capture_output=True,
                                    text=True, timeout=30).stdout.strip()
        else:
            # RSA at age's minimum size: the tests need the behaviour, not the strength.
            bits = ["-b", "2048"] if kind == "ssh-rsa" else []
            subprocess.run(["ssh-keygen", "-q", "-t", kind[len("ssh-"):], "-N", "", "-C", name,
                            "-f", path] + bits, check=True, timeout=60)
            with open(path + ".pub", encoding="ascii") as fh:
                public = fh.read().strip()
        self.public[name], self.files[name] = public, path
        self._ours.add(public)
        return public

    def identity(self, name):
        return self.files[name]

    def give(self, registry):
        """Replace every hand-over key of ``registry``'s people.yml by a key the tests hold the
        private half of (one per person, the same type). Run it again: it changes nothing."""
        path = os.path.join(str(registry), "people.yml")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        people = yaml.safe_load(text)["people"]
        for person in people:
            keys = person.get("handover_keys") or []
            if not keys or all(k in self._ours for k in keys):
                continue
            pid = person["id"]
            mine = self.public.get(pid) or self.make(pid, _kind(keys[0]))
            old = json.dumps(keys)
            assert text.count(old) == 1, "the keys of %s are not on one line of people.yml" % pid
            text = text.replace(old, json.dumps([mine]))
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


_KEYRING = []


def keyring():
    """The session's keyring (made once, removed when the session ends)."""
    if not _KEYRING:
        _KEYRING.append(Keyring())
        atexit.register(shutil.rmtree, _KEYRING[0].dir, True)
    return _KEYRING[0]


def age_open(path, identity):
    """``age -d -i identity path``: the CompletedProcess (returncode, stdout, stderr)."""
    return subprocess.run([AGE, "-d", "-i", identity, str(path)], capture_output=True, text=True,
                          timeout=60, check=False)


def read(path, identity):
    """The JSON of a hand-over file opened with ``identity``; fails when it does not open."""
    done = age_open(path, identity)
    assert done.returncode == 0, "age -d %s: %s" % (path, done.stderr.strip())
    return json.loads(done.stdout)


def recipient(path):
    """The person a hand-over file is for: its directory, <handover_dir>/<person>/<run>.age."""
    return os.path.basename(os.path.dirname(str(path)))


def handed_over(paths, ring=None):
    """{address: password} of the files ``paths``, each opened by its own recipient."""
    ring = ring or keyring()
    creds = {}
    for path in paths:
        person = recipient(path)
        content = read(path, ring.identity(person))
        assert content["person"] == person, (path, content["person"])
        for item in content["credentials"]:
            creds[item["address"]] = item["password"]
    return creds
