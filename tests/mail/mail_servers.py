"""Postfix and Dovecot on 127.0.0.1, configured by the role mail_server's own templates.

``render_mail()`` runs tests/operate/playbooks/render_roles.yml (tag mail): main.cf,
master.cf, the LDAP tables, the footer map, dovecot.conf and its LDAP files, exactly as
the role writes them, for a slapd of the role ldap_directory (RoleSlapd). Only what ties
the servers to a machine is set: paths under one directory, free ports on 127.0.0.1, the
certificate (the session's test one for 127.0.0.1), the mailboxes' owner (the system
user ``mail``, present on every Debian) and a DKIM key of the session's (RSA 2048, as the
lab's vault holds one). RolePostfix, RoleDovecot and RoleOpenDKIM then run the real
daemons in the foreground: a test against them proves the role's settings.
"""
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "operate"))
from role_servers import DIRECTORY_SECRETS, _run_render, test_tls  # noqa: E402
from server_process import ServerProcess, free_port  # noqa: E402

DOMAIN = "bekasikota.go.id"
# The mailboxes' owner in the tests: a system user every Debian has (the role makes vmail).
MAIL_UID = int(subprocess.run(["id", "-u", "mail"], capture_output=True, text=True, check=True).stdout)
DKIM_SELECTOR = "city2026"
# root's and no one else's on every Debian (FHS): a safe parent for a test's DKIM key.
KEY_PARENT = "/run"
# notice-deliver's user in the tests: one every Debian has (the role makes its own).
NOTICE_USER, NOTICE_GROUP = "nobody", "nogroup"


def dkim_key():
    """A fresh DKIM key pair: (PEM private key, base64 DER public key as dns_zone takes it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return private, public


def mail_variables(work, slapd, **overrides):
    """The role's variables for servers under ``work`` on the directory ``slapd``."""
    work = Path(work)
    variables = {
        "mail_server__domain": DOMAIN,
        "mail_server__hostname": "mail." + DOMAIN,
        "mail_server__ldap_uri": slapd.uri,
        "mail_server__ldap_base": slapd.base,
        "mail_server__ldap_bind_dn": slapd.mailserver_dn,
        "mail_server__ldap_bind_password": DIRECTORY_SECRETS["vault_ldap_mailserver_password"],
        "mail_server__listen": ["127.0.0.1"],
        "mail_server__smtp_port": free_port(),
        "mail_server__submission_port": free_port(),
        "mail_server__imap_port": free_port(),
        "mail_server__imaps_port": free_port(),
        "mail_server__postfix_dir": str(work / "postfix"),
        "mail_server__postfix_queue": str(work / "queue"),
        "mail_server__postfix_data": str(work / "postfix-data"),
        "mail_server__postfix_log": str(work / "log" / "postfix.log"),
        "mail_server__dovecot_dir": str(work / "dovecot"),
        "mail_server__dovecot_base": str(work / "dovecot-run"),
        "mail_server__dovecot_state": str(work / "dovecot-state"),
        "mail_server__dovecot_log": str(work / "log" / "dovecot.log"),
        "mail_server__tls_dir": str(work / "tls"),
        "mail_server__mail_root": str(work / "mailboxes"),
        "mail_server__vmail_uid": MAIL_UID,
        # The agenda (E8): the role's recorder as it is in the tree, its store under work,
        # run as a user every Debian has (the role makes its own).
        "mail_server__agenda_command": str(HERE.parent.parent / "roles" / "mail_server" / "files" / "agenda-record"),
        "mail_server__agenda_store": str(work / "agenda"),
        "mail_server__agenda_user": "nobody",
        "mail_server__timezone": "Asia/Jakarta",
        # DKIM (E12): the key is written by MailServers as the role writes it; OpenDKIM runs
        # as Debian's opendkim user, its socket's directory Postfix's group (as the role makes it).
        "mail_server__dkim_selector": DKIM_SELECTOR,
        "mail_server__dkim_conf": str(work / "opendkim" / "opendkim.conf"),
        "mail_server__dkim_socket": str(work / "opendkim-run" / "opendkim.sock"),
        # E10's notices: the spool notice-deliver sends from (run by deliver_notices).
        "mail_server__notice_spool": str(work / "notices"),
        "mail_server__notice_command": str(HERE.parent.parent / "roles" / "mail_server" / "files" / "notice-deliver"),
        # The network rule: nothing leaves 127.0.0.1, mail to another domain bounces.
        "mail_server__default_transport": "error:5.7.1 the tests deliver nothing outside 127.0.0.1",
    }
    variables.update(overrides)
    return variables


def render_mail(work, variables):
    """Render the role's Postfix and Dovecot files into ``work`` (postfix/, dovecot/)."""
    work = Path(work)
    for sub in ("postfix", "dovecot", "log", "tls", "opendkim"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    _run_render(work, dict(variables, out=str(work)), "mail")
    return work


class MailServers:
    """Postfix and Dovecot of one rendering, sharing a directory ``work``."""

    def __init__(self, work, slapd, **overrides):
        self.work = Path(work)
        self.slapd = slapd
        # OpenDKIM loads a key only when no directory above it is writable by
        # others (RequireSafeKeys, as the role leaves it): not under /tmp.
        self.dkim_dir = tempfile.mkdtemp(prefix="city-test-dkim-", dir=KEY_PARENT)
        overrides.setdefault("mail_server__dkim_dir", self.dkim_dir)
        self.vars = mail_variables(self.work, slapd, **overrides)
        render_mail(self.work, self.vars)
        if self.vars.get("mail_server__notices", True):
            self._notice_files()
        self.dkim_private, self.dkim_public = dkim_key()
        self.opendkim = None
        if self.vars.get("mail_server__dkim", True):
            self._dkim_files()
            self.opendkim = RoleOpenDKIM(self)
        material = test_tls()
        tls = self.work / "tls"
        shutil.copy(slapd.ca_file, tls / "directory-ca.crt")
        shutil.copy(material["server"]["crt"], tls / "mail.crt")
        shutil.copy(material["server"]["key"], tls / "mail.key")
        self.ca_file = material["ca"]["crt"]
        for sub in ("postfix-data", "queue"):
            (self.work / sub).mkdir(exist_ok=True)
        shutil.chown(self.work / "postfix-data", "postfix")
        agenda = self.work / "agenda"
        agenda.mkdir(exist_ok=True)
        shutil.chown(agenda, "nobody", "nogroup")
        os.chmod(agenda, 0o750)
        mailboxes = self.work / "mailboxes"
        mailboxes.mkdir(exist_ok=True)
        os.chown(mailboxes, MAIL_UID, MAIL_UID)
        # The role's files are 0640 root:postfix; the daemons read them so here too.
        for name in os.listdir(self.work / "postfix"):
            path = self.work / "postfix" / name
            shutil.chown(path, group="postfix")
            os.chmod(path, 0o640)
        self.dovecot = RoleDovecot(self)
        self.postfix = RolePostfix(self)
        self.smtp_port = self.vars["mail_server__smtp_port"]
        self.submission_port = self.vars["mail_server__submission_port"]
        self.imap_port = self.vars["mail_server__imap_port"]
        self.imaps_port = self.vars["mail_server__imaps_port"]

    def _notice_files(self):
        """The spool as tasks/notices.yml leaves it (its user's), the Sieve script compiled."""
        spool = Path(self.vars["mail_server__notice_spool"])
        for sub in ("", "new", "sending", "sent"):
            (spool / sub).mkdir(exist_ok=True)
            shutil.chown(spool / sub, NOTICE_USER, NOTICE_GROUP)
            os.chmod(spool / sub, 0o750)
        sieve = Path(self.vars["mail_server__dovecot_dir"]) / "notice-dedupe.sieve"
        subprocess.run(["sievec", str(sieve)], check=True, capture_output=True, timeout=60)

    def deliver_notices(self):
        """One run of notice-deliver as the role's service runs it, on this Postfix.

        As root: Postfix's sendmail takes another configuration directory (-C) from root
        only (postdrop is setgid); the role's service runs as its user on /etc/postfix, and
        the molecule scenario runs it so."""
        return subprocess.run([self.vars["mail_server__notice_command"], "--spool", self.vars["mail_server__notice_spool"],
                               "--postfix-config", self.vars["mail_server__postfix_dir"]],
                              capture_output=True, text=True, timeout=120)

    def _dkim_files(self):
        """The key, the key table and the policy as tasks/dkim.yml leaves them: opendkim's, 0600."""
        keys = Path(self.vars["mail_server__dkim_dir"])
        (keys / ("%s.private" % DKIM_SELECTOR)).write_text(self.dkim_private)
        os.chmod(keys, 0o700)
        for path in [keys, *keys.iterdir()]:
            shutil.chown(path, "opendkim", "opendkim")
            if path != keys:
                os.chmod(path, 0o600)
        run = Path(self.vars["mail_server__dkim_socket"]).parent
        run.mkdir(exist_ok=True)
        shutil.chown(run, "opendkim", "postfix")
        os.chmod(run, 0o750)

    def start(self):
        if self.opendkim:
            self.opendkim.start()
        self.dovecot.start()
        self.postfix.start()
        return self

    def stop(self):
        self.postfix.stop()
        self.dovecot.stop()
        if self.opendkim:
            self.opendkim.stop()
        shutil.rmtree(self.dkim_dir, ignore_errors=True)

    def postconf(self, *args):
        return subprocess.run(["postconf", "-c", self.vars["mail_server__postfix_dir"]] + list(args),
                              capture_output=True, text=True, timeout=30, check=True).stdout

    def postfix_command(self, *args, check=True):
        return subprocess.run(["postfix", "-c", self.vars["mail_server__postfix_dir"]] + list(args),
                              capture_output=True, text=True, timeout=60, check=check)

    def doveadm(self, *args, check=True, input=None):
        return subprocess.run(["doveadm", "-c", self.dovecot.conf] + list(args), capture_output=True, text=True,
                              timeout=60, check=check, input=input)

    def queue(self):
        """The messages in Postfix's queue (postqueue -j), as JSON lines."""
        import json
        out = subprocess.run(["postqueue", "-c", self.vars["mail_server__postfix_dir"], "-j"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self):
        subprocess.run(["postqueue", "-c", self.vars["mail_server__postfix_dir"], "-f"], capture_output=True,
                       timeout=30, check=True)

    def maillog(self):
        path = Path(self.vars["mail_server__postfix_log"])
        return path.read_text(errors="replace") if path.exists() else ""

    def dovecot_log(self):
        path = Path(self.vars["mail_server__dovecot_log"])
        return path.read_text(errors="replace") if path.exists() else ""


class RolePostfix(ServerProcess):
    name = "postfix"

    def __init__(self, servers):
        self.servers = servers
        self.dir = str(servers.work)
        self.config = servers.vars["mail_server__postfix_dir"]
        self.port = servers.vars["mail_server__smtp_port"]
        # postfix check makes the queue's directories with their owners and modes.
        subprocess.run(["postfix", "-c", self.config, "check"], capture_output=True, timeout=60, check=True)

    def command(self):
        return ["postfix", "-c", self.config, "start-fg"]

    def ready(self):
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.port, timeout=2) as smtp:
            return smtp.noop()[0] == 250

    def stop(self):
        if self.proc and self.proc.poll() is None:
            subprocess.run(["postfix", "-c", self.config, "stop"], capture_output=True, timeout=60, check=False)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class RoleDovecot(ServerProcess):
    name = "dovecot"

    def __init__(self, servers):
        self.servers = servers
        self.dir = str(servers.work)
        self.conf = os.path.join(servers.vars["mail_server__dovecot_dir"], "dovecot.conf")
        self.port = servers.vars["mail_server__imap_port"]

    def command(self):
        return ["dovecot", "-F", "-c", self.conf]

    def ready(self):
        import imaplib
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=2)
        imap.logout()
        return True


class RoleOpenDKIM(ServerProcess):
    """OpenDKIM with the role's opendkim.conf, in the foreground (it drops to its user)."""
    name = "opendkim"

    def __init__(self, servers):
        self.servers = servers
        self.dir = str(servers.work)
        self.conf = servers.vars["mail_server__dkim_conf"]
        self.socket = servers.vars["mail_server__dkim_socket"]
        # The role's handler checks the configuration first: so does the fixture.
        check = subprocess.run(["opendkim", "-n", "-x", self.conf], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr

    def command(self):
        return ["opendkim", "-f", "-x", self.conf]

    def ready(self):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(self.socket)
        return True
