"""Talk to the directory with ldap3: one paged read, pipelined writes, archives."""
import hashlib
import os
import secrets
import ssl
import string
import threading
import zlib

try:
    import ldap3
    from ldap3.core import exceptions as ldap_errors
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    ldap3 = ldap_errors = None

from ansible.module_utils.city.registry import destinations
from ansible.module_utils.city import fsutil
from ansible.module_utils.city.mail.connection import refusal
from ansible.module_utils.city.mail.desired import LOCKED, MANAGED
from ansible.module_utils.city.mail.plan import (CREATE, DEACTIVATE, DELETE, MODIFY, REACTIVATE, RENAME,
                                                 RESET, RESET_MARK)
from ansible.module_utils.city.service.progress import Progress
from ansible.module_utils.city.errors import ToolkitError

# entryUUID names the account's mailbox on the mail server (archived before a delete, E9).
READ_ATTRIBUTES = list(MANAGED) + ["pwdAccountLockedTime", "description", "entryUUID"]


class DirectoryError(ToolkitError):
    """A failure talking to the directory, naming the server and the reason."""


def new_password(length=16):
    """A random password meeting E6: lower, upper and digits, at least 8 characters."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for dummy in range(length))
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate)):
            return candidate


class VerifiedTls(ldap3.Tls if ldap3 is not None else object):  # object: only so the file imports
    """TLS whose certificate chain and host name Python's ssl module verifies.

    ldap3's own Tls turns the context's check_hostname off and matches the name
    itself afterwards, with ssl.match_hostname (gone in Python 3.12, where ldap3
    falls back to a copy that knows no IP addresses), and only when the handshake
    is done at wrap time. Here OpenSSL checks the name during the handshake, for
    StartTLS and ldaps:// alike, against the host of the URI.
    """

    def __init__(self, ca_file=None):
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.ca_file = ca_file

    def wrap_socket(self, connection, do_handshake=False):
        # cafile None: the system's trust store (create_default_context loads it).
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        connection.socket = context.wrap_socket(connection.socket, server_side=False,
                                                do_handshake_on_connect=do_handshake,
                                                server_hostname=connection.server.host)


def _unverified(uri, exc):
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
        return ("the certificate of %s could not be verified (%s); nothing was sent. Give ca_file the CA that "
                "signed it and make sure it names the host of the URI" % (uri, text))
    return None


class Directory:
    def __init__(self, uri, bind_dn, password, start_tls=True, ca_file=None, timeout=10):
        self.uri = uri
        lowered = str(uri or "").lower()
        # Checked here, raised at the first connection: every module already turns a
        # DirectoryError into its failure message.
        self._refusal = refusal(uri, start_tls)
        if self._refusal is None and ca_file and not os.path.isfile(ca_file):
            self._refusal = "ca_file %s is not a file: cannot verify %s" % (ca_file, uri)
        self._tls = None if lowered.startswith("ldapi://") else VerifiedTls(ca_file)
        # ldap3 packs receive_timeout into a socket option: whole seconds only.
        timeout = max(1, int(round(timeout)))
        self.start_tls = lowered.startswith("ldap://")
        self.bind_dn, self.password, self.timeout = bind_dn, password, timeout

    def _connect(self):
        # A Server of its own for each connection: ldap3 rereads the server's schema into
        # the Server object at every bind, and a thread of the apply that used a shared one
        # while another bound found its schema None ('NoneType' object has no attribute
        # 'attribute_types'), mid-apply.
        if self._refusal:
            raise DirectoryError(self._refusal)
        server = ldap3.Server(self.uri, tls=self._tls, connect_timeout=self.timeout)
        try:
            conn = ldap3.Connection(server, self.bind_dn, self.password, client_strategy=ldap3.SYNC,
                                    receive_timeout=self.timeout, raise_exceptions=False)
            conn.open()
            if self.start_tls and not conn.start_tls():
                raise DirectoryError("StartTLS with %s failed: %s" % (self.uri, conn.result))
            if not conn.bind():
                raise DirectoryError("%s refused the bind of %s: %s" % (
                    self.uri, self.bind_dn, (conn.result or {}).get("description", conn.result)))
            return conn
        except (ldap_errors.LDAPException, OSError) as exc:
            raise DirectoryError(_unverified(self.uri, exc) or "cannot reach %s: %s" % (self.uri, exc))

    def entries(self, base, attributes, page_size=1000):
        """Every account entry under ``base`` (one paged search): yields (dn, attributes).

        Raises DirectoryError unless the server says the search is complete: a size
        or time limit would otherwise pass for accounts that do not exist, and the
        plan would try to create them again.
        """
        conn = self._connect()
        try:
            for item in conn.extend.standard.paged_search(base, "(objectClass=inetOrgPerson)", ldap3.LEVEL,
                                                          attributes=attributes, paged_size=page_size,
                                                          generator=True):
                if item.get("type") == "searchResEntry":
                    yield item["dn"], dict(item["attributes"])
            result = conn.result or {}
            if result.get("result", 0) != 0:
                raise DirectoryError("reading %s from %s stopped early: %s (%s); nothing planned. Give %s "
                                     "unlimited size and time limits (olcLimits)" % (
                                         base, self.uri, result.get("description"), result.get("message"),
                                         self.bind_dn))
        except ldap_errors.LDAPException as exc:
            raise DirectoryError("reading %s from %s failed: %s" % (base, self.uri, exc))
        finally:
            conn.unbind()

    def read(self, base, page_size=1000):
        """{address: entry} of every account under ``base``."""
        out = {}
        for dn, attrs in self.entries(base, READ_ATTRIBUTES, page_size):
            mail = attrs.get("mail") or []
            address = str(mail[0] if isinstance(mail, list) and mail else mail or "").lower()
            if address:
                attrs["dn"] = dn
                out[address] = attrs
        return out

    def archive(self, dn, directory, stamp):
        """Export ``dn`` with all its attributes to LDIF with a SHA-256; return the path."""
        # Named before the server is asked: a uid that would leave the archive
        # directory stops here, and nothing is deleted without its archive.
        uid = dn.split(",")[0].split("=", 1)[1]
        path = destinations.path_inside(directory, "%s-%s.ldif" % (uid, stamp), field="archive of " + dn)
        conn = self._connect()
        try:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["*", "+"])
            if not conn.entries:
                raise DirectoryError("cannot archive %s: not found" % dn)
            ldif = conn.entries[0].entry_to_ldif()
        finally:
            conn.unbind()
        # All of an account's data (E9): 0600 in a 0700 directory, whatever the umask.
        data = ldif.encode("utf-8")
        path = fsutil.write_private(os.path.dirname(path), os.path.basename(path), data)
        digest = hashlib.sha256(data).hexdigest()
        fsutil.write_private(os.path.dirname(path), os.path.basename(path) + ".sha256",
                             ("%s  %s\n" % (digest, os.path.basename(path))).encode("ascii"))
        with open(path, "rb") as fh:  # read back: never delete on an unverified archive
            if hashlib.sha256(fh.read()).hexdigest() != digest:
                raise DirectoryError("archive %s does not verify; %s not deleted" % (path, dn))
        return path

    def apply(self, ops, passwords, window=8):
        """Send ``ops`` over ``window`` connections at once, each owned by one thread.

        Returns (done, failures): the operations acknowledged, and (operation, reason)
        for those the server refused. ``passwords`` maps an operation to its password.

        Every operation on one account goes to the same connection, in plan order, so
        the changes of an entry apply in order (a rename before the changes at its new DN). No connection is shared between threads:
        ldap3's asynchronous strategy reads a TLS socket in one thread while another
        writes it, and OpenSSL's state is not safe for that (under load the stream
        came apart: garbled responses, then a closed socket, mid-apply).
        """
        lanes = [[] for dummy in range(max(1, min(int(window), len(ops) or 1)))]
        for op in ops:
            # By account, not DN: a renamed entry's later operations name its new DN.
            lanes[zlib.crc32(op.account.address.lower().encode("utf-8")) % len(lanes)].append(op)
        lanes = [lane for lane in lanes if lane]
        stop = threading.Event()
        outcomes = [None] * len(lanes)

        def run(index, lane, progress):
            done, failures = [], []
            outcomes[index] = (done, failures, None)
            try:
                conn = self._connect()
            except DirectoryError as exc:
                outcomes[index] = (done, failures, exc)
                stop.set()
                return
            try:
                for op in lane:
                    if stop.is_set():
                        break
                    if self._send(conn, op, passwords.get(id(op))):
                        done.append(op)
                    else:
                        result = conn.result or {}
                        if result.get("result") is None or conn.closed:
                            raise DirectoryError("no answer to %s %s: %s" % (
                                op.action, op.dn, result.get("description") or conn.last_error))
                        failures.append((op, "%s: %s" % (result.get("description"), result.get("message"))))
                    progress.advance()
            except Exception as exc:  # noqa: BLE001 - every failure of a thread must reach the caller
                outcomes[index] = (done, failures, DirectoryError(
                    "%s failed during the apply: %s" % (self.uri, exc)))
                stop.set()
            finally:
                try:
                    conn.unbind()
                except (ldap_errors.LDAPException, OSError):
                    pass

        # slapd hashes every new password: 20,000 accounts take minutes; say how far it is.
        with Progress("mail accounts", len(ops), unit="changes") as progress:
            threads = [threading.Thread(target=run, args=(i, lane, progress), daemon=True)
                       for i, lane in enumerate(lanes)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        done, failures = [], []
        for lane_done, lane_failures, error in outcomes:
            if error is not None:
                raise error
            done.extend(lane_done)
            failures.extend(lane_failures)
        return done, failures

    @staticmethod
    def _send(conn, op, password):
        if op.action == CREATE:
            attrs = {k: v for k, v in op.changes.items() if v and k != "objectClass"}
            attrs["userPassword"] = password
            attrs["pwdReset"] = "TRUE"  # ppolicy: change it at first login (E6)
            return conn.add(op.dn, op.changes["objectClass"], attrs)
        if op.action == RENAME:
            return conn.modify_dn(op.dn, op.changes["dn"][0].split(",", 1)[0], delete_old_dn=True)
        if op.action == MODIFY:
            return conn.modify(op.dn, {k: [(ldap3.MODIFY_REPLACE, v)] for k, v in op.changes.items()})
        if op.action == DEACTIVATE:
            return conn.modify(op.dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED])]})
        if op.action == REACTIVATE:
            return conn.modify(op.dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
        if op.action == RESET:
            return conn.modify(op.dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [password])],
                                       "pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])],
                                       "description": [(ldap3.MODIFY_ADD, [RESET_MARK + op.ticket])]})
        if op.action == DELETE:
            return conn.delete(op.dn)
        raise ValueError("unknown operation %s" % op.action)
