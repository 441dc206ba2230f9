"""Who may approve a blast: the inventory's pinned root and the registry's rotations (S2).

The registry is edited by merge request, so it cannot say by itself whose key
approves a blast: a key added to ``sms.yml`` or a new ``secretariat.ketua`` would
approve its author's own blast. The trust anchor therefore lives in the inventory
(``group_vars/all/sms_approval.yml``, reviewed under the inventory's own rule):

    sms_approval__root: {ketua: <person id>, keys: [<OpenSSH public key>, ...]}

That is trust state version 1. The registry may move it on with rotation
statements (``approval-trust.yml``), as TUF rotates its root keys: statement N+1
names the new Ketua and keys and the SHA-256 of state N, and is signed
(``ssh-keygen -Y sign -n sms-trust``) by a key of state N. The current trust is
the root followed by every statement that verifies, in order; the first one that
does not is reported and it and everything after it are ignored, so one edit can
never replace the anchor.
"""
import hashlib
import os
import re

from ansible.module_utils.city.sms import signature as blast_signature

NAMESPACE = "sms-trust"
ROOT_VAR = "sms_approval__root"
ROOT_FILE = os.path.join("group_vars", "all", "sms_approval.yml")
TRUST_FILE = "approval-trust.yml"

PERSON_RE = re.compile(r"^([0-9]{18}|[a-z][a-z0-9-]{2,63})$")
# The key types ssh-keygen signs with; the comment is kept only when it cannot
# reach another field of an allowed_signers line.
KEY_RE = re.compile(r"^(?P<type>ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)"
                    r"|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
                    r" (?P<body>[A-Za-z0-9+/]+={0,3})(?: (?P<comment>[^\n]*))?$")
SAFE_COMMENT_RE = re.compile(r"^[A-Za-z0-9@._+:-]{1,64}$")
# A line break or another control character would start a second allowed_signers line.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

FIX_ROTATE = ("a new Ketua or key takes a rotation statement in approval-trust.yml signed by a "
              "key of the current trust (bin/trust-sign), or a new pin in the inventory")


class TrustError(ValueError):
    """A root that cannot anchor anything."""


def _match(line):
    if not isinstance(line, str) or CONTROL_RE.search(line.strip()):
        return None
    return KEY_RE.match(" ".join(line.split()))


def key_id(line):
    """``type base64`` of an OpenSSH public key line (the comment is not part of the key)."""
    match = _match(line)
    return "%s %s" % (match.group("type"), match.group("body")) if match else None


def normalise_key(line):
    """The key line as written to allowed_signers: type, base64 and a harmless comment."""
    match = _match(line)
    if match is None:
        raise TrustError("%r is not an OpenSSH public key line" % (str(line)[:60],))
    comment = match.group("comment") or ""
    head = "%s %s" % (match.group("type"), match.group("body"))
    return head + (" " + comment if SAFE_COMMENT_RE.match(comment) else "")


def _plain(value):
    """Plain Python data (Ansible hands its own str/dict subclasses to filters)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def state(version, ketua, keys, source):
    return {"version": version, "ketua": ketua, "keys": keys, "source": source}


def digest(trust_state):
    """SHA-256 (hex) of a trust state: what the next rotation statement names as ``previous``."""
    content = {"version": trust_state["version"], "ketua": trust_state["ketua"],
               "keys": sorted(key_id(k) for k in trust_state["keys"])}
    return hashlib.sha256(blast_signature.canonical_json(content)).hexdigest()


def _keys(keys, what):
    if not isinstance(keys, list) or not keys:
        raise TrustError("%s has no keys: list at least one OpenSSH public key" % what)
    out, seen = [], set()
    for key in keys:
        if not isinstance(key, str) or key_id(key) is None:
            raise TrustError("%s: %r is not an OpenSSH public key line" % (what, str(key)[:60]))
        # The line's shape is not enough: ssh-keygen skips a key whose data does not parse,
        # so a malformed key would be trusted on paper and verify nothing.
        problem = blast_signature.public_key_problem(key)
        if problem is not None:
            raise TrustError("%s: the key %s... is not a valid OpenSSH public key (%s)"
                             % (what, key_id(key)[:40], problem[:120]))
        if key_id(key) in seen:
            raise TrustError("%s lists the key %s... twice" % (what, key_id(key)[:40]))
        seen.add(key_id(key))
        out.append(normalise_key(key))
    return out


def root_state(root):
    """Trust state version 1 from the inventory's ``sms_approval__root``; TrustError if unusable."""
    if root is None or root == {} or root == "":
        raise TrustError("%s is not set: the inventory pins the Ketua and the keys that approve "
                         "blasts (%s)" % (ROOT_VAR, ROOT_FILE))
    root = _plain(root)
    if not isinstance(root, dict) or set(root) - {"ketua", "keys"}:
        raise TrustError("%s must be a mapping of ketua and keys only" % ROOT_VAR)
    ketua = root.get("ketua")
    if not isinstance(ketua, str) or not PERSON_RE.match(ketua):
        raise TrustError("%s.ketua must be a person id (an 18-digit NIP or a non-ASN id), not %r"
                         % (ROOT_VAR, ketua))
    return state(1, ketua, _keys(root.get("keys"), ROOT_VAR + ".keys"), "inventory")


def statement_content(statement):
    """The bytes a rotation statement's signer signs: the statement without its signature."""
    content = {k: v for k, v in _plain(statement).items() if k != "signature"}
    return blast_signature.canonical_json(content)


class Trust:
    """The current trust: ``state`` (version, ketua, keys), the states it went through, and
    the problem of the first statement that did not verify, if any."""

    def __init__(self, current, history, problem=None, ignored=0):
        self.state = current
        self.history = history
        self.problem = problem  # (index, field, message) or None
        self.ignored = ignored

    @property
    def ketua(self):
        return self.state["ketua"]

    @property
    def keys(self):
        return list(self.state["keys"])

    @property
    def version(self):
        return self.state["version"]

    def trusts(self, person, key):
        """Whether ``key`` (an OpenSSH line) of ``person`` is a key of the current trust."""
        wanted = key_id(key)
        return (str(person) == self.ketua and wanted is not None
                and wanted in {key_id(k) for k in self.keys})

    def as_dict(self):
        return {"version": self.version, "ketua": self.ketua, "keys": self.keys,
                "digest": digest(self.state), "source": self.state["source"],
                "problem": None if self.problem is None else self.problem[2],
                "ignored": self.ignored}


def _check_statement(prev, index, statement):
    """(next state, None) or (None, (field, message))."""
    if not isinstance(statement, dict):
        return None, ((), "statement %d is not a mapping" % (index + 1))
    version = statement.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != prev["version"] + 1:
        return None, (("version",), "statement %d has version %r; the trust is at version %d, so "
                      "the next statement is version %d" % (index + 1, version, prev["version"],
                                                            prev["version"] + 1))
    previous = statement.get("previous")
    if not isinstance(previous, str) or previous != digest(prev):
        return None, (("previous",), "statement %d (version %d) does not follow the current trust: "
                      "its previous is %r, the SHA-256 of trust version %d is %s (was the "
                      "inventory's pin changed?)" % (index + 1, version, previous, prev["version"],
                                                     digest(prev)))
    ketua = statement.get("ketua")
    if not isinstance(ketua, str) or not PERSON_RE.match(ketua):
        return None, (("ketua",), "statement %d: ketua %r is not a person id" % (index + 1, ketua))
    for field in ("date", "reason"):
        if not isinstance(statement.get(field), str) or not statement.get(field).strip():
            return None, ((field,), "statement %d has no %s" % (index + 1, field))
    try:
        keys = _keys(statement.get("keys"), "statement %d" % (index + 1))
    except TrustError as exc:
        return None, (("keys",), str(exc))
    ok, why = blast_signature.verify_with_keys(
        statement_content(statement), statement.get("signature"), prev["ketua"], prev["keys"],
        NAMESPACE)
    if not ok:
        return None, (("signature",), "statement %d (version %d) is not signed by a key of trust "
                      "version %d (Ketua %s): %s" % (index + 1, version, prev["version"],
                                                     prev["ketua"], why))
    return state(version, ketua, keys, "%s statement %d" % (TRUST_FILE, index + 1)), None


def current(root, statements=None):
    """The :class:`Trust` from the inventory's root and the registry's statements.

    Raises TrustError when the root itself is unusable; a bad statement is recorded in
    ``problem`` and it and the statements after it are ignored.
    """
    now = root_state(root)
    history = [now]
    statements = _plain(statements) if statements is not None else []
    if not isinstance(statements, list):
        return Trust(now, history, ((), "statements must be a list"), 0)
    for index, statement in enumerate(statements):
        following, problem = _check_statement(now, index, statement)
        if problem is not None:
            ignored = len(statements) - index
            field, message = problem
            if ignored > 1:
                message += "; it and the %d statement(s) after it are ignored" % (ignored - 1)
            else:
                message += "; it is ignored"
            return Trust(now, history, (index, field, message), ignored)
        now = following
        history.append(now)
    return Trust(now, history)


def statements_of(data):
    """The statement list of approval-trust.yml's data (None or {} when there is no file)."""
    if not data:
        return []
    if isinstance(data, dict):
        return data.get("statements") or []
    return data


def allowed_signers(trust, namespace=blast_signature.NAMESPACE):
    """The text of an ``allowed_signers`` file: the current Ketua's keys, for ``namespace``."""
    return "".join(blast_signature.signers_line(trust.ketua, key, namespace) + "\n"
                   for key in trust.keys)


def new_statement(trust, ketua, keys, date, reason):
    """The unsigned next statement after ``trust`` (bin/trust-sign signs it)."""
    return {"version": trust.version + 1, "ketua": ketua,
            "keys": _keys(list(keys), "the new statement"), "date": date, "reason": reason,
            "previous": digest(trust.state)}


# -- the inventory's pin, read outside Ansible (bin/registry-validate, tests) ------------------


def inventory_from_config(project_root):
    """The inventory directory ansible.cfg names (``[defaults] inventory``), else inventory/lab."""
    import configparser
    config = configparser.ConfigParser(interpolation=None)
    path = os.path.join(project_root, "ansible.cfg")
    try:
        config.read(path, encoding="utf-8")
        value = config.get("defaults", "inventory", fallback="")
    except configparser.Error:
        value = ""
    first = value.split(",")[0].strip()
    if not first:
        return os.path.join(project_root, "inventory", "lab")
    return os.path.normpath(os.path.join(project_root, os.path.expanduser(first)))


def load_root(inventory_dir):
    """``sms_approval__root`` of ``<inventory_dir>/group_vars/all/sms_approval.yml``, or None."""
    import yaml
    path = os.path.join(inventory_dir, ROOT_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TrustError("cannot read %s: %s" % (path, exc))
    return data.get(ROOT_VAR) if isinstance(data, dict) else None
